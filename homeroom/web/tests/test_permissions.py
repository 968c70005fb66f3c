"""Who gets what from every view of the web interface: the permission matrix.

Every route of `homeroom.web.urls` must have a row here, so a new view cannot ship
without someone deciding who may open it.
"""

from urllib.parse import urlsplit

import pytest
from django.urls import URLPattern, reverse

from homeroom.conftest import EVERYONE, VISIBLE
from homeroom.ingest.records import Batch
from homeroom.ingest.sync import do_import
from homeroom.warnings.models import Flag
from homeroom.web import urls as web_urls
from homeroom.web.tests.import_files import two_absences, validated_upload
from homeroom.web.tests.page_text import figure, student_ids_linked, without_csrf_tokens

pytestmark = pytest.mark.django_db

ANONYMOUS = "anonymous"
CAST_USERS = (
    "admin",
    "analyst",
    "principal",
    "counselor",
    "teacher",
    "viewer",
    "outsider",
    "former",
)
NOT_ENROLLED_THIS_YEAR = {"hal"}
TO_LOGIN = "to login"
TO_HOME = "to home"
# A deactivated account's session no longer authenticates: it is treated as signed out.
SIGNED_OUT = {ANONYMOUS, "former"}
# Import runs are the district's: its administrators and analysts see them; only
# administrators upload, and an upload is its uploader's alone (the cast's "admin").
# Everyone else gets the page that does not exist, as for a student they may not see.
RUN_READERS = {"admin", "analyst"}
UPLOADERS = {"admin", "outsider"}  # the outsider administers another district


def _only(users: set[str], allowed=200, others=404) -> dict:
    """Signed-out users go to login; `users` get `allowed`, the rest `others`."""
    return {
        user: TO_LOGIN if user in SIGNED_OUT else allowed if user in users else others
        for user in (ANONYMOUS, *CAST_USERS)
    }


# route name -> (HTTP method, {user: expected outcome}); outcome is a status or a redirect.
MATRIX = {
    "home": (
        "get",
        {user: TO_LOGIN if user in SIGNED_OUT else 200 for user in (ANONYMOUS, *CAST_USERS)},
    ),
    "students": (
        "get",
        {user: TO_LOGIN if user in SIGNED_OUT else 200 for user in (ANONYMOUS, *CAST_USERS)},
    ),
    "login": (
        "get",
        {user: 200 if user in SIGNED_OUT else TO_HOME for user in (ANONYMOUS, *CAST_USERS)},
    ),
    "logout": ("post", dict.fromkeys((ANONYMOUS, *CAST_USERS), TO_LOGIN)),
    # Everyone signed in has the page; it lists only their students (test below).
    "warnings": (
        "get",
        {user: TO_LOGIN if user in SIGNED_OUT else 200 for user in (ANONYMOUS, *CAST_USERS)},
    ),
    "imports": ("get", _only(RUN_READERS | {"outsider"})),  # the outsider: their own runs
    "import_new": ("get", _only(UPLOADERS)),
    # A run of the cast's district, an upload by the cast's admin (ROUTE_ARGUMENTS).
    "import_run": ("get", _only(RUN_READERS)),
    "import_report": ("get", _only({"admin"})),
    "import_confirm": ("post", _only({"admin"}, allowed=302)),
    # the upload has no deletions waiting to be allowed: its owner hears so (409)
    "import_allow_deletes": ("post", _only({"admin"}, allowed=409)),
    # Per student: see test_student_page_opens_exactly_for_visible_students.
    "student": (
        "get",
        {
            user: TO_LOGIN if user in SIGNED_OUT else "200 or 404"
            for user in (ANONYMOUS, *CAST_USERS)
        },
    ),
}
ROUTES_WITH_ONE_OUTCOME_PER_USER = sorted(name for name in MATRIX if name != "student")


def _a_run(cast) -> list:
    run = do_import(Batch(), district=cast.district, source_format="csv", files=[], user=cast.admin)
    return [run.pk]


def _an_upload(cast) -> list:
    return [validated_upload(cast.admin, two_absences(cast)).token]


ROUTE_ARGUMENTS = {
    "import_run": _a_run,
    "import_report": _an_upload,
    "import_confirm": _an_upload,
    "import_allow_deletes": _an_upload,
}


@pytest.fixture(autouse=True)
def private_uploads(settings, tmp_path):
    """Uploads go to a directory of the test's own."""
    settings.DATA_DIR = tmp_path


def _sign_in(client, cast, username: str):
    if username != ANONYMOUS:
        client.force_login(getattr(cast, username))
    return client


def _assert_outcome(response, expected) -> None:
    if expected == TO_LOGIN:
        assert response.status_code == 302
        assert urlsplit(response["Location"]).path == reverse("web:login")
    elif expected == TO_HOME:
        assert response.status_code == 302
        assert response["Location"] == reverse("web:home")
    else:
        assert response.status_code == expected


def test_every_route_has_a_row_in_the_matrix():
    # given the routes of the web interface
    names = {pattern.name for pattern in web_urls.urlpatterns if isinstance(pattern, URLPattern)}
    # then each has a row (and no row is left for a route that is gone)
    assert names == set(MATRIX)
    assert all(isinstance(pattern, URLPattern) for pattern in web_urls.urlpatterns)


@pytest.mark.parametrize("username", [ANONYMOUS, *CAST_USERS])
@pytest.mark.parametrize("route", ROUTES_WITH_ONE_OUTCOME_PER_USER)
def test_route_answers_each_user_as_the_matrix_says(cast, client, route, username):
    # given a member of the cast (or nobody) signed in
    method, expected = MATRIX[route]
    _sign_in(client, cast, username)
    arguments = ROUTE_ARGUMENTS.get(route, lambda cast: [])(cast)
    # when they open the page
    response = getattr(client, method)(reverse(f"web:{route}", args=arguments))
    # then they get what the matrix says
    _assert_outcome(response, expected[username])


@pytest.mark.parametrize("username", [ANONYMOUS, *CAST_USERS])
@pytest.mark.parametrize("student", sorted(EVERYONE))
def test_student_page_opens_exactly_for_visible_students(cast, client, username, student):
    # given a member of the cast and a student of the district
    _sign_in(client, cast, username)
    url = reverse("web:student", args=[getattr(cast, student).pk])
    # when they open the student's page
    response = client.get(url)
    # then it opens exactly when the student is theirs to see; else the page does not exist
    if username in SIGNED_OUT:
        _assert_outcome(response, TO_LOGIN)
    elif student in VISIBLE[username]:
        assert response.status_code == 200
        assert getattr(cast, student).last_name in response.text
    else:
        assert response.status_code == 404


@pytest.mark.parametrize("username", sorted(set(CAST_USERS) - SIGNED_OUT))
def test_forbidden_student_looks_exactly_like_a_missing_one(cast, client, username):
    # given a signed-in user, a student they may not see (if any) and an id nobody has
    _sign_in(client, cast, username)
    hidden = sorted(EVERYONE - VISIBLE[username])
    missing = client.get(reverse("web:student", args=[10**9]))
    # when they ask for each
    for name in hidden:
        forbidden = client.get(reverse("web:student", args=[getattr(cast, name).pk]))
        # then both answers are the same page
        assert forbidden.status_code == missing.status_code == 404
        assert without_csrf_tokens(forbidden.text) == without_csrf_tokens(missing.text)
        assert getattr(cast, name).last_name not in forbidden.text


@pytest.mark.parametrize("username", sorted(set(CAST_USERS) - SIGNED_OUT))
def test_student_list_shows_exactly_the_visible_students(cast, client, username):
    # given a signed-in member of the cast
    _sign_in(client, cast, username)
    # when they open the students list
    response = client.get(reverse("web:students"))
    # then it links to exactly the students they may see
    expected = {getattr(cast, name).pk for name in VISIBLE[username]}
    assert student_ids_linked(response.text) == expected


@pytest.mark.parametrize("username", sorted(set(CAST_USERS) - SIGNED_OUT))
def test_htmx_table_shows_exactly_the_visible_students(cast, client, username):
    # given a signed-in member of the cast
    _sign_in(client, cast, username)
    # when HTMX asks for the students table alone
    response = client.get(reverse("web:students"), headers={"HX-Request": "true"})
    # then the fragment also holds exactly their students
    expected = {getattr(cast, name).pk for name in VISIBLE[username]}
    assert student_ids_linked(response.text) == expected


@pytest.mark.parametrize("username", sorted(set(CAST_USERS) - SIGNED_OUT - {"outsider"}))
def test_student_list_sorted_by_attendance_shows_exactly_the_visible_students(
    cast, client, summaries, username
):
    # given a signed-in member of the cast, and every student's summary computed
    _sign_in(client, cast, username)
    # when they sort the students list by days absent (the sort reads the summaries)
    response = client.get(reverse("web:students"), {"sort": "-absent"})
    # then it still links to exactly the students they may see
    expected = {getattr(cast, name).pk for name in VISIBLE[username]}
    assert student_ids_linked(response.text) == expected


@pytest.mark.parametrize("username", sorted(set(CAST_USERS) - SIGNED_OUT - {"outsider"}))
def test_overview_counts_exactly_the_visible_students(cast, client, summaries, username):
    # given a signed-in member of the cast, and every student's summary computed
    _sign_in(client, cast, username)
    # when they open the overview
    page = client.get(reverse("web:home")).text
    # then its totals count exactly the students they may see who are enrolled this year
    assert figure(page, "Students enrolled") == str(len(VISIBLE[username] - NOT_ENROLLED_THIS_YEAR))


@pytest.mark.parametrize("username", sorted(set(CAST_USERS) - SIGNED_OUT))
def test_early_warnings_list_exactly_the_visible_flagged_students(cast, client, username):
    # given an open flag on every student of the district
    Flag.objects.bulk_create(
        Flag(
            student=getattr(cast, name),
            school_year=cast.this_year,
            kind=Flag.Kind.CONSECUTIVE,
            raised_on=cast.today,
            checked_on=cast.today,
            reason="Absent 3 school days in a row",
        )
        for name in EVERYONE
    )
    _sign_in(client, cast, username)
    # when they open the early warnings
    response = client.get(reverse("web:warnings"))
    # then it links to exactly the students they may see
    expected = {getattr(cast, name).pk for name in VISIBLE[username]}
    assert student_ids_linked(response.text) == expected
