"""Who gets what from every view of the web interface: the permission matrix.

Every route of `homeroom.web.urls` must have a row here, so a new view cannot ship
without someone deciding who may open it.
"""

import csv
import datetime as dt
import io
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, reverse
from openpyxl import load_workbook

from homeroom.accounts.models import Role
from homeroom.conftest import (
    EVERYONE,
    VISIBLE,
    add_absence,
    make_user,
    once_per_class,
    school_days,
    the_tests_world,
)
from homeroom.core.models import AuditEntry
from homeroom.ingest.records import Batch
from homeroom.ingest.sync import do_import
from homeroom.interventions import urls as intervention_urls
from homeroom.interventions import views as intervention_views
from homeroom.interventions.actions import (
    do_install_defaults,
    do_open_case,
    do_record_barrier,
    do_refer_to_partner,
    do_save_partner,
    do_schedule_follow_up,
    do_write_plan,
)
from homeroom.interventions.models import Barrier, Case, InterventionType
from homeroom.interventions.selectors import export_playbook
from homeroom.metrics.actions import do_refresh_summaries
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


ONE_SCHOOL = {"principal", "viewer"}  # the counselor serves only some grades of hers
TO_SCHOOL = "to their school's dashboard"
TO_STUDENTS = "to their students"


def _dashboard(users: set[str]) -> dict:
    """`users` see the dashboard; teachers go to their students; the rest 404."""
    return _only(users) | {"teacher": TO_STUDENTS}


# route name -> (HTTP method, {user: expected outcome}); outcome is a status or a redirect.
MATRIX = {
    # Someone serving one whole school lands on its dashboard; the rest on their own page.
    "home": (
        "get",
        {
            user: TO_LOGIN if user in SIGNED_OUT else TO_SCHOOL if user in ONE_SCHOOL else 200
            for user in (ANONYMOUS, *CAST_USERS)
        },
    ),
    # Dashboards add up whole schools (or grades): those who see all of their students.
    # Teachers reach students one by one: they are sent to their list. The outsider's
    # district has no such school (404) but its own groups' dashboard (200).
    "school_dashboard": ("get", _dashboard({"admin", "analyst", "principal"})),
    "grade_dashboard": ("get", _dashboard({"admin", "analyst", "principal"})),
    "school_group_dashboard": ("get", _dashboard({"admin", "analyst", "principal"})),
    "group_dashboard": ("get", _dashboard({"admin", "analyst", "outsider"})),
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
    # The audit trail: district administrators only (the outsider reads their own district's).
    "audit": ("get", _only({"admin", "outsider"})),
    # Unlocking sign-in from that page: nothing is locked here, so it says so (302 back).
    "unlock_sign_in": ("post", _only({"admin", "outsider"}, allowed=302)),
    # Impact estimates add up every school: district roles only (the outsider: their own).
    "impact": ("get", _only({"admin", "analyst", "outsider"}, others=403)),
    "import_report": ("get", _only({"admin"})),
    "import_confirm": ("post", _only({"admin"}, allowed=302)),
    # the upload has no deletions waiting to be allowed: its owner hears so (409)
    "import_allow_deletes": ("post", _only({"admin"}, allowed=409)),
    # Anyone signed in chooses their own language; posted without one, it is refused.
    "language": ("post", _only(set(CAST_USERS) - SIGNED_OUT, allowed=400)),
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
    "school_dashboard": lambda cast: [cast.lincoln.pk],
    "grade_dashboard": lambda cast: [cast.lincoln.pk, 3],
    "school_group_dashboard": lambda cast: [cast.lincoln.pk, "iep"],
    "group_dashboard": lambda cast: ["iep"],
    "import_run": _a_run,
    "import_report": _an_upload,
    "import_confirm": _an_upload,
    "import_allow_deletes": _an_upload,
}


@pytest.fixture(autouse=True)
def private_uploads(settings, tmp_path):
    """Uploads go to a directory of the test's own."""
    settings.DATA_DIR = tmp_path


@pytest.fixture
def cast(shared_cast):
    """The cast, built once for this module (conftest: `shared_cast`): what a test writes,
    and what each user does within a test, is rolled back in a savepoint. The worlds built
    on it (summaries, a case, truancy steps, a survey) are built once for a class of tests
    (conftest: `once_per_class`) and rolled back when the class ends."""
    return shared_cast


def _summaries_computed(cast):
    return do_refresh_summaries(cast.district)


_summaries_once = once_per_class("_summaries_once", _summaries_computed)


@pytest.fixture
def summaries(cast, _summaries_once):
    """The cast's summaries as an import computes them, once for a class of tests."""
    return the_tests_world(_summaries_once, cast, _summaries_computed)


def _sign_in(client, cast, username: str):
    if username != ANONYMOUS:
        client.force_login(getattr(cast, username))
    return client


def _outcome(response, expected):
    """`expected` if the response is that outcome, else what the response was instead."""
    location = response.get("Location", "")
    if expected == TO_LOGIN:
        matched = response.status_code == 302 and urlsplit(location).path == reverse("web:login")
    elif expected == TO_HOME:
        matched = response.status_code == 302 and location == reverse("web:home")
    elif expected == TO_STUDENTS:
        matched = response.status_code == 302 and location == reverse("web:students")
    elif expected == TO_SCHOOL:
        matched = response.status_code == 302 and urlsplit(location).path.startswith("/schools/")
    else:
        matched = response.status_code == expected
    return expected if matched else f"{response.status_code} {location}".strip()


def _answers(cast, expected: dict, request) -> dict:
    """What each user (or nobody) gets from `request(client, username)`, each asking in a
    savepoint rolled back afterwards, so that every user finds the world as the test built
    it (a POST by one does not change what the next one gets)."""
    answers = {}
    for username in expected:
        with transaction.atomic():
            client = _sign_in(Client(), cast, username)
            answers[username] = _outcome(request(client, username), expected[username])
            transaction.set_rollback(True)
    return answers


def test_every_route_has_a_row_in_the_matrix():
    # given the routes of the web interface
    names = {pattern.name for pattern in web_urls.urlpatterns if isinstance(pattern, URLPattern)}
    # then each has a row (and no row is left for a route that is gone)
    assert names == set(MATRIX)
    assert all(isinstance(pattern, URLPattern) for pattern in web_urls.urlpatterns)


@pytest.mark.parametrize("route", ROUTES_WITH_ONE_OUTCOME_PER_USER)
def test_route_answers_each_user_as_the_matrix_says(cast, route):
    # given each member of the cast (or nobody) signed in in turn
    method, expected = MATRIX[route]

    def open_page(client, username):
        arguments = ROUTE_ARGUMENTS.get(route, lambda cast: [])(cast)
        return getattr(client, method)(reverse(f"web:{route}", args=arguments))

    # when they open the page, then each gets what the matrix says
    assert _answers(cast, expected, open_page) == expected


@pytest.mark.parametrize("username", [ANONYMOUS, *CAST_USERS])
def test_student_page_opens_exactly_for_visible_students(cast, client, username):
    # given a member of the cast signed in, and every student of the district
    _sign_in(client, cast, username)
    students = sorted(EVERYONE)
    # when they open each student's page
    pages = {
        name: client.get(reverse("web:student", args=[getattr(cast, name).pk])) for name in students
    }
    # then it opens exactly when the student is theirs to see; else the page does not exist
    if username in SIGNED_OUT:
        assert {name: _outcome(page, TO_LOGIN) for name, page in pages.items()} == dict.fromkeys(
            students, TO_LOGIN
        )
        return
    visible = VISIBLE[username]
    assert {name: page.status_code for name, page in pages.items()} == {
        name: 200 if name in visible else 404 for name in students
    }
    for name in visible:
        assert getattr(cast, name).last_name in pages[name].text


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
@pytest.mark.parametrize("enrolled", ["", "all"])
def test_student_list_shows_exactly_the_visible_students(cast, client, username, enrolled):
    # given a signed-in member of the cast
    _sign_in(client, cast, username)
    # when they open the students list (this year's students, or everyone)
    response = client.get(reverse("web:students"), {"enrolled": enrolled})
    # then it links to exactly the students they may see
    assert student_ids_linked(response.text) == _expected_ids(cast, username, enrolled)


def _expected_ids(cast, username: str, enrolled: str) -> set[int]:
    """The ids of the students the user may see, this year's unless `enrolled` is all."""
    names = VISIBLE[username] - (set() if enrolled == "all" else NOT_ENROLLED_THIS_YEAR)
    return {getattr(cast, name).pk for name in names}


@pytest.mark.parametrize("username", sorted(set(CAST_USERS) - SIGNED_OUT))
@pytest.mark.parametrize("enrolled", ["", "all"])
def test_htmx_table_shows_exactly_the_visible_students(cast, client, username, enrolled):
    # given a signed-in member of the cast
    _sign_in(client, cast, username)
    # when HTMX asks for the students table alone
    response = client.get(
        reverse("web:students"), {"enrolled": enrolled}, headers={"HX-Request": "true"}
    )
    # then the fragment also holds exactly their students
    assert student_ids_linked(response.text) == _expected_ids(cast, username, enrolled)


class TestWithTheSummaries:
    """Pages that read the cast's summaries, computed once for these tests."""

    @pytest.mark.parametrize("username", sorted(set(CAST_USERS) - SIGNED_OUT - {"outsider"}))
    def test_student_list_sorted_by_attendance_shows_exactly_the_visible_students(
        self, cast, client, summaries, username
    ):
        # given a signed-in member of the cast, and every student's summary computed
        _sign_in(client, cast, username)
        # when they sort the students list by days absent (the sort reads the summaries),
        # every student of theirs included
        response = client.get(reverse("web:students"), {"sort": "-absent", "enrolled": "all"})
        # then it still links to exactly the students they may see
        assert student_ids_linked(response.text) == _expected_ids(cast, username, "all")

    @pytest.mark.parametrize("username", sorted(set(CAST_USERS) - SIGNED_OUT - {"outsider"}))
    @pytest.mark.parametrize(
        "params",
        [
            {"band": "satisfactory"},
            {"tier": "tier1"},
            {"caseload": "mine"},
            {"flag": "consecutive"},
        ],
    )
    def test_filtered_student_list_never_reaches_past_the_users_students(
        self, cast, client, summaries, username, params
    ):
        # given every student of the district flagged; the cast's only caseload today is the
        # counselor's Gabe (Ben's assignment ended a month ago)
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
        # when they filter their list (with no absences, every student enrolled this year is
        # satisfactory and in tier 1)
        response = client.get(reverse("web:students"), params | {"enrolled": "all"})
        # then they see their own students who match, and no one else
        if "caseload" in params:
            expected = {cast.gabe.pk} if username == "counselor" else set()
        elif "flag" in params:
            expected = _expected_ids(cast, username, "all")
        else:  # Hal, not enrolled this year, has no band or tier
            expected = _expected_ids(cast, username, "")
        assert student_ids_linked(response.text) == expected

    @pytest.mark.parametrize("username", sorted(set(CAST_USERS) - SIGNED_OUT - {"outsider"}))
    def test_overview_counts_exactly_the_visible_students(self, cast, client, summaries, username):
        # given a signed-in member of the cast, and every student's summary computed
        _sign_in(client, cast, username)
        # when they open the overview (a principal's or viewer's: their school's dashboard)
        page = client.get(reverse("web:home"), follow=True).text
        # then its totals count exactly the students they may see who are enrolled this year
        assert figure(page, "Students enrolled") == str(
            len(VISIBLE[username] - NOT_ENROLLED_THIS_YEAR)
        )

    @pytest.mark.parametrize("username", sorted(set(CAST_USERS) - SIGNED_OUT - {"outsider"}))
    def test_dashboards_count_exactly_the_students_of_what_they_show(
        self, cast, client, summaries, username
    ):
        # given a signed-in member of the cast, and every student's summary computed
        _sign_in(client, cast, username)
        # when they open each school's and each grade's dashboard of the cast
        opened = {}
        for school, grade, names in (
            (cast.lincoln, None, {"ana", "ben", "eli", "gabe"}),
            (cast.central, None, {"carla", "dev"}),
            (cast.central, 9, {"carla"}),
            (cast.lincoln, 3, {"ana"}),
        ):
            args = [school.pk] if grade is None else [school.pk, grade]
            route = "web:school_dashboard" if grade is None else "web:grade_dashboard"
            response = client.get(reverse(route, args=args))
            if response.status_code == 200:
                # then what opens counts exactly that school's (or grade's) students
                assert figure(response.text, "Students enrolled") == str(len(names))
                opened[(school.local_id, grade)] = names
        # and what opens is exactly what their scope covers whole
        expected = {
            "admin": {("101", None), ("301", None), ("301", 9), ("101", 3)},
            "analyst": {("101", None), ("301", None), ("301", 9), ("101", 3)},
            "principal": {("101", None), ("101", 3)},
            "viewer": {("301", None), ("301", 9)},
            "counselor": {("301", 9)},
            "teacher": set(),
        }
        assert set(opened) == expected[username]

    @pytest.mark.parametrize("username", sorted(set(CAST_USERS) - SIGNED_OUT))
    @pytest.mark.parametrize("enrolled", ["", "all"])
    def test_students_download_holds_exactly_the_visible_students(
        self, cast, client, summaries, username, enrolled
    ):
        # given the summaries computed
        _sign_in(client, cast, username)
        # when they download the students list (this year's, or everyone)
        response = client.get(reverse("web:students"), {"download": "csv", "enrolled": enrolled})
        # then it holds exactly the students they may see, and the export is audited
        expected = VISIBLE[username] - (NOT_ENROLLED_THIS_YEAR if not enrolled else set())
        assert _csv_ids(response) == {getattr(cast, name).local_id for name in expected}
        entry = AuditEntry.objects.get(action=AuditEntry.Action.EXPORT)
        assert (entry.user, entry.details["rows"]) == (getattr(cast, username), len(expected))


GRADE_SCOPED = {"counselor": (301, 9)}  # the counselor serves grades 9 and 10 of Central


def _flag_everyone(cast) -> None:
    """An open flag on every student of the district, and room on the worklist for all."""
    cast.district.risk_capacity = 1
    cast.district.save(update_fields=["risk_capacity"])
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


def _csv_ids(response) -> set[str]:
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    return {row[0] for row in rows[1:]}


def _everyone_flagged(cast):
    _flag_everyone(cast)
    return do_refresh_summaries(cast.district)


def _everyone_chronic(cast):
    for name in EVERYONE - NOT_ENROLLED_THIS_YEAR:
        student = getattr(cast, name)
        school = student.enrollments.get(school_year=cast.this_year).school
        for day in school_days(cast.this_year):
            if day <= cast.today:
                add_absence(cast, student, school, day)
    return do_refresh_summaries(cast.district)


_flagged_once = once_per_class("_flagged_once", _everyone_flagged)
_chronic_once = once_per_class("_chronic_once", _everyone_chronic)


class TestEarlyWarnings:
    """The early-warning worklist, every student flagged once for these tests."""

    @pytest.fixture
    def everyone_flagged(self, cast, _flagged_once):
        """An open flag on every student of the district, none chronically absent, and the
        summaries computed."""
        return the_tests_world(_flagged_once, cast, _everyone_flagged)

    @pytest.mark.parametrize("username", sorted(set(CAST_USERS) - SIGNED_OUT))
    def test_early_warnings_list_exactly_the_visible_flagged_students(
        self, cast, client, everyone_flagged, username
    ):
        # given an open flag on every student of the district, none chronically absent
        _sign_in(client, cast, username)
        # when they open the early-warning worklist, and download it
        response = client.get(reverse("web:warnings"))
        download = client.get(reverse("web:warnings"), {"download": "csv"})
        # then both hold exactly the students they may see who are enrolled this year
        expected = VISIBLE[username] - NOT_ENROLLED_THIS_YEAR
        assert student_ids_linked(response.text) == {getattr(cast, name).pk for name in expected}
        assert _csv_ids(download) == {getattr(cast, name).local_id for name in expected}


class TestChronicList:
    """The chronic list, every student absent every day once for these tests."""

    @pytest.fixture
    def everyone_chronic(self, cast, _chronic_once):
        """Every student enrolled this year absent on each school day so far, and the
        summaries computed."""
        return the_tests_world(_chronic_once, cast, _everyone_chronic)

    @pytest.mark.parametrize("username", sorted(set(CAST_USERS) - SIGNED_OUT))
    def test_chronic_list_holds_exactly_the_visible_chronic_students(
        self, cast, client, everyone_chronic, username
    ):
        # given every student enrolled this year absent on each school day so far
        _sign_in(client, cast, username)
        # when they open the chronic list and download it as a spreadsheet
        response = client.get(reverse("web:warnings"), {"list": "chronic"})
        download = client.get(reverse("web:warnings"), {"list": "chronic", "download": "xlsx"})
        # then both hold exactly the students they may see who are enrolled this year
        expected = VISIBLE[username] - NOT_ENROLLED_THIS_YEAR
        assert student_ids_linked(response.text) == {getattr(cast, name).pk for name in expected}
        sheet = load_workbook(io.BytesIO(download.content)).active
        assert {row[0] for row in list(sheet.values)[1:]} == {
            getattr(cast, name).local_id for name in expected
        }


@pytest.mark.parametrize("username", [ANONYMOUS, *CAST_USERS])
@pytest.mark.parametrize("route", ["web:students", "web:warnings", "interventions:caseload"])
def test_downloads_need_a_signed_in_user(cast, client, username, route):
    # given a member of the cast (or nobody)
    _sign_in(client, cast, username)
    # when they ask for a table as a file
    response = client.get(reverse(route), {"download": "xlsx"})
    # then signed-out users go to login and write nothing to the audit log; others get it
    if username in SIGNED_OUT:
        assert _outcome(response, TO_LOGIN) == TO_LOGIN
        assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()
    else:
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment;")
        assert AuditEntry.objects.get(action=AuditEntry.Action.EXPORT).user.username == username


# Case management (homeroom.interventions.urls) ------------------------------------------
#
# Each route is asked with the method it serves and, for a change, a form that is valid,
# so that what answers is the rule of who may do it (not a mistake in the form). The case
# is Gabe's (Lincoln Elementary), opened and managed by the counselor; Ana is the student
# of the student-level forms. 403: the user sees the student but their role does not do
# this; 404: they do not see the student (or the page is not theirs), as for a missing one.

SEES_GABE = {"admin", "analyst", "principal", "counselor"}
CASE_TEAM = {"principal", "counselor"}  # the counselor manages it; the principal serves Lincoln


def _by_user(outcome) -> dict:
    """Signed-out users go to login; every other user gets `outcome(user)`."""
    return {
        user: TO_LOGIN if user in SIGNED_OUT else outcome(user) for user in (ANONYMOUS, *CAST_USERS)
    }


def _on_student(student: str, allowed: set[str], status: int) -> dict:
    """`allowed` get `status`; others who see the student 403; the rest 404."""
    return _by_user(
        lambda user: status if user in allowed else 403 if student in VISIBLE[user] else 404
    )


def _everyone(status: int = 200) -> dict:
    return _by_user(lambda user: status)


def _only_roles(users: set[str], status: int = 200) -> dict:
    return _by_user(lambda user: status if user in users else 403)


PLAYBOOK_EDITORS = {"admin", "outsider"}  # each edits their own district's playbook
SERVES_A_SCHOOL = {"admin", "analyst", "principal", "counselor", "viewer"}
MEASURES = {"admin", "analyst", "principal", "outsider"}

CASE_ACTION_ROUTES = [f"case_{action}" for action in intervention_views.CASE_ACTIONS]

# route name -> [(method, {user: outcome})]; a POST sends the valid form of VALID_FORMS.
INTERVENTIONS_MATRIX = {
    "log_contact": [
        ("get", _on_student("ana", {"admin", "principal", "teacher"}, 200)),
        ("post", _on_student("ana", {"admin", "principal", "teacher"}, 302)),
    ],
    "start_intervention": [
        ("get", _on_student("ana", {"principal", "teacher"}, 200)),
        ("post", _on_student("ana", {"principal", "teacher"}, 302)),
    ],
    "open_case": [
        ("get", _on_student("ana", {"principal"}, 200)),
        ("post", _on_student("ana", {"principal"}, 302)),
    ],
    # teachers ask for a case for a student they teach (Ana has none open)
    "refer_for_case": [
        ("get", _on_student("ana", {"teacher"}, 200)),
        ("post", _on_student("ana", {"teacher"}, 302)),
    ],
    "case": [("get", _on_student("gabe", SEES_GABE, 200))],
    **{
        route: [("post", _on_student("gabe", CASE_TEAM, 302))]
        for route in CASE_ACTION_ROUTES
        if route != "case_manager"
    },
    # only the principal of the case's school assigns its manager
    "case_manager": [("post", _on_student("gabe", {"principal"}, 302))],
    "caseload": [("get", _everyone())],
    "team_meeting": [
        ("get", _by_user(lambda user: 200 if user in SERVES_A_SCHOOL else 404)),
        # the first school each serves: the principal Lincoln, the counselor Central
        (
            "post",
            _by_user(
                lambda user: 302 if user in CASE_TEAM else 403 if user in SERVES_A_SCHOOL else 404
            ),
        ),
    ],
    "team_meeting_pdf": [("get", _by_user(lambda user: 200 if user in SERVES_A_SCHOOL else 404))],
    "playbook": [("get", _everyone())],
    "playbook_entry": [
        ("get", _only_roles(PLAYBOOK_EDITORS)),
        ("post", _only_roles(PLAYBOOK_EDITORS, 302)),
    ],
    "playbook_import": [
        ("get", _only_roles(PLAYBOOK_EDITORS)),
        ("post", _only_roles(PLAYBOOK_EDITORS, 302)),
    ],
    "playbook_export": [("get", _everyone())],
    "playbook_map": [("post", _only_roles(PLAYBOOK_EDITORS, 302))],
    # the outsider is sent back with "no such entry in your district" (nothing retired)
    "retire": [("post", _only_roles(PLAYBOOK_EDITORS, 302))],
    "barriers": [("get", _everyone()), ("post", _only_roles(PLAYBOOK_EDITORS, 302))],
    "partners": [("get", _everyone())],
    "partner_edit": [
        ("get", _only_roles(PLAYBOOK_EDITORS)),
        ("post", _only_roles(PLAYBOOK_EDITORS, 302)),
    ],
    "measures": [("get", _only_roles(MEASURES))],
    "follow_through": [("get", _everyone())],
}


def _case_world(cast):
    """The cast with the default playbook, a Lincoln counselor, a partner, and Gabe's case
    with one of each entry the case page changes."""
    do_install_defaults(cast.district)
    do_install_defaults(cast.other_district)
    lincoln_counselor = make_user("counselor2", Role.COUNSELOR, cast.district)
    lincoln_counselor.schools.add(cast.lincoln)
    case = do_open_case(cast.counselor, student_id=cast.gabe.pk, source=Case.Source.MANUAL, tier=2)
    counselor = cast.counselor
    transport = Barrier.objects.get(district=cast.district, key="transportation")
    barrier = do_record_barrier(counselor, case_id=case.pk, barrier_id=transport.pk)
    plan = do_write_plan(
        counselor,
        case_id=case.pk,
        goal_rate="0.95",
        goal_until=cast.today + dt.timedelta(days=60),
        steps=[{"step": "Wake-up call", "who": "Mother"}],
        review_on=cast.today + dt.timedelta(days=30),
    )
    follow_up = do_schedule_follow_up(
        counselor,
        case_id=case.pk,
        due_on=cast.today + dt.timedelta(days=7),
        owner_id=counselor.pk,
        description="Call home",
    )
    partner = do_save_partner(cast.admin, name="Riverside Family Center")
    referral = do_refer_to_partner(counselor, case_id=case.pk, partner_id=partner.pk)
    return SimpleNamespace(
        cast=cast,
        case=case,
        barrier=barrier,
        plan=plan,
        follow_up=follow_up,
        partner=partner,
        referral=referral,
        lincoln_counselor=lincoln_counselor,
    )


_case_world_once = once_per_class("_case_world_once", _case_world)


@pytest.fixture
def case_world(cast, _case_world_once):
    """That world for a test, built once for its class."""
    return the_tests_world(_case_world_once, cast, _case_world)


def _valid_form(world, route: str, user) -> dict:
    """A form the route's action accepts from whoever may do it."""
    cast, today = world.cast, world.cast.today
    kind = InterventionType.objects.filter(district=cast.district, tier1=True, tier2=True).first()
    plan = {
        "goal_percent": "95",
        "goal_until": today + dt.timedelta(days=60),
        "review_on": today + dt.timedelta(days=30),
        "steps": "Mother: wake-up call at 7:00",
    }
    forms = {
        "log_contact": {
            "channel": "call",
            "guardian_id": "",
            "with_whom": "Aunt Rosa",
            "outcome": "reached",
            "language": "es",
            "contacted_on": today,
        },
        "start_intervention": {"intervention_type_id": kind.pk},
        "open_case": {"tier": 2, "source_flag_id": "", "note": ""},
        "refer_for_case": {"reason": "Often absent on Mondays"},
        "case_barrier": {
            "barrier_id": Barrier.objects.get(district=cast.district, key="health").pk
        },
        "case_plan": plan,
        "case_revise_plan": plan | {"plan_id": world.plan.pk, "version": world.plan.version},
        "case_review_plan": {
            "plan_id": world.plan.pk,
            "version": world.plan.version,
            "reviewed_on": today,
            "note": "Attending more",
        },
        "case_intervention": {"intervention_type_id": kind.pk},
        "case_follow_up": {
            "description": "Check in",
            "due_on": today + dt.timedelta(days=3),
            "owner_id": user.pk,
        },
        "case_complete_follow_up": {
            "follow_up_id": world.follow_up.pk,
            "version": world.follow_up.version,
            "done_on": today,
            "outcome": "Spoke with mother",
        },
        "case_referral": {"partner_id": world.partner.pk},
        "case_referral_status": {
            "referral_id": world.referral.pk,
            "version": world.referral.version,
            "status": "accepted",
        },
        "case_note": {"topic": "general", "text": "Doing better"},
        "case_strike": {"entry": "barrier", "entry_id": world.barrier.pk, "reason": "Wrong"},
        "case_tier": {"version": world.case.version, "tier": 3},
        "case_manager": {
            "version": world.case.version,
            "case_manager_id": world.lincoln_counselor.pk,
        },
        "case_close": {"version": world.case.version, "reason": "goal_met"},
        "team_meeting": {"notes": "Discussed the flagged students"},
        "playbook_entry": {
            "key": "walking-school-bus",
            "name": "Walking school bus",
            "tiers": [1, 2],
        },
        "playbook_import": {
            "file": SimpleUploadedFile("playbook.toml", export_playbook(user).encode())
        },
        "playbook_map": {
            "code": "HV1",
            "intervention_type_id": InterventionType.objects.get(
                district=cast.district, key="home-visit"
            ).pk,
        },
        "retire": {
            "entry": "barrier",
            "entry_id": Barrier.objects.get(district=cast.district, key="work").pk,
        },
        "barriers": {"key": "weather", "name": "Weather"},
        "partner_edit": {"name": "Boys and Girls Club"},
    }
    return forms[route]


def _route_arguments(world, route: str) -> list:
    if route in ("log_contact", "start_intervention", "open_case", "refer_for_case"):
        return [world.cast.ana.pk]
    if route == "case" or route.startswith("case_"):
        return [world.case.pk]
    return []


def test_every_case_management_route_has_a_row_in_the_matrix():
    # given the routes of the case management pages
    names = {p.name for p in intervention_urls.urlpatterns if isinstance(p, URLPattern)}
    # then each has a row, with an outcome for every member of the cast and nobody
    assert names == set(INTERVENTIONS_MATRIX)
    for rows in INTERVENTIONS_MATRIX.values():
        for _, expected in rows:
            assert set(expected) == {ANONYMOUS, *CAST_USERS}


INTERVENTION_CASES = [
    (route, method) for route, rows in INTERVENTIONS_MATRIX.items() for method, _ in rows
]


class TestCaseManagement:
    """The case manager's pages, on a case world built once for these tests."""

    @pytest.mark.parametrize(("route", "method"), INTERVENTION_CASES)
    def test_case_management_route_answers_each_user_as_the_matrix_says(
        self, case_world, route, method
    ):
        # given each member of the cast (or nobody) signed in in turn, and Gabe's case with its
        # entries
        expected = dict(INTERVENTIONS_MATRIX[route])[method]
        url = reverse(f"interventions:{route}", args=_route_arguments(case_world, route))

        def ask(client, username):
            if method == "get":
                return client.get(url)
            user = getattr(case_world.cast, username, None) or case_world.cast.admin
            return client.post(url, _valid_form(case_world, route, user))

        # when they open the page, or send the page's form filled in correctly, then each gets
        # what the matrix says
        assert _answers(case_world.cast, expected, ask) == expected

    @pytest.mark.parametrize("username", sorted(set(CAST_USERS) - SIGNED_OUT))
    def test_caseload_download_holds_only_the_cases_the_user_manages(
        self, case_world, client, username
    ):
        # given Gabe's case, managed by the counselor
        cast = case_world.cast
        _sign_in(client, cast, username)
        # when they download their caseload
        response = client.get(reverse("interventions:caseload"), {"download": "csv"})
        # then the counselor's holds Gabe's case, as a Tier 2 case at Lincoln; no one else's does
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        if username == "counselor":
            assert [row[:5] for row in rows[1:]] == [
                ["S6", "Garcia", "Gabe", "Tier 2", "Lincoln Elementary"]
            ]
        else:
            assert rows[1:] == []


# Truancy escalation (homeroom.truancy.urls) ---------------------------------------------
#
# The district follows the generic pack. Ana (Lincoln) is eligible for the first notice;
# Ben (Lincoln) had both notices sent and his attendance team meeting approved, to be held.
# The pack's approvers are principals, counselors and administrators: an analyst or a
# teacher who sees the student gets 403; whoever does not see them 404.

SEES_BEN = {"admin", "analyst", "principal"}
QUEUE_READERS = {"admin", "analyst", "principal", "counselor", "viewer"}
GENERIC_APPROVERS = {"admin", "principal", "counselor"}


def _decides(student: str) -> dict:
    return _by_user(
        lambda user: (
            302
            if user in GENERIC_APPROVERS and student in VISIBLE[user]
            else 403
            if student in VISIBLE[user]
            else 404
        )
    )


TRUANCY_MATRIX = {
    "queue": [("get", _by_user(lambda user: 200 if user in QUEUE_READERS else 404))],
    "step": [("get", _by_user(lambda user: 200 if "ana" in VISIBLE[user] else 404))],
    "approve": [("post", _decides("ana"))],
    "decline": [("post", _decides("ana"))],
    "meeting": [("post", _decides("ben"))],
    "document": [("get", _by_user(lambda user: 200 if user in SEES_BEN else 404))],
    "pack": [("get", _everyone()), ("post", _only_roles(PLAYBOOK_EDITORS, 302))],
}


def _truancy_world(cast):
    """Ana eligible for the first notice; Ben's meeting approved after two notices."""
    from homeroom.truancy.actions import do_approve_step, do_choose_pack, do_find_eligible
    from homeroom.truancy.models import TruancyStep
    from homeroom.truancy.tests.conftest import absent, school_days_from

    do_choose_pack(cast.admin, based_on="generic")
    days = school_days_from(cast.this_year.start_date, 6)
    for day in days[:3]:
        absent(cast, cast.ana, day)
    for day in days:
        absent(cast, cast.ben, day)
    for key in ("not1", "not2", "meeting"):
        do_find_eligible(cast.district, as_of=cast.today)
        step = TruancyStep.objects.get(student=cast.ben, key=key)
        do_approve_step(cast.admin, step_id=step.pk, version=step.version)
    return SimpleNamespace(
        cast=cast,
        ana=TruancyStep.objects.get(student=cast.ana, key="not1"),
        meeting=TruancyStep.objects.get(student=cast.ben, key="meeting"),
        letter=TruancyStep.objects.get(student=cast.ben, key="not1").documents.get(),
    )


_truancy_world_once = once_per_class("_truancy_world_once", _truancy_world)


@pytest.fixture
def truancy_world(cast, _truancy_world_once):
    """That world for a test, built once for its class."""
    return the_tests_world(_truancy_world_once, cast, _truancy_world)


def _truancy_request(world, route: str) -> tuple[list, dict]:
    """The route's arguments and the valid form it is sent."""
    today = world.cast.today
    return {
        "queue": ([], {}),
        "step": ([world.ana.pk], {}),
        "approve": ([world.ana.pk], {"version": world.ana.version}),
        "decline": ([world.ana.pk], {"version": world.ana.version, "reason": "Moved away"}),
        "meeting": (
            [world.meeting.pk],
            {
                "version": world.meeting.version,
                "held_on": today,
                "attendees": "Principal\nMother",
                "agreement": "Ben arrives on time.",
            },
        ),
        "document": ([world.letter.pk], {}),
        "pack": ([], {"based_on": "generic", "text": ""}),
    }[route]


def test_every_truancy_route_has_a_row_in_the_matrix():
    from homeroom.truancy import urls as truancy_urls

    names = {p.name for p in truancy_urls.urlpatterns if isinstance(p, URLPattern)}
    assert names == set(TRUANCY_MATRIX)
    for rows in TRUANCY_MATRIX.values():
        for _, expected in rows:
            assert set(expected) == {ANONYMOUS, *CAST_USERS}


TRUANCY_CASES = [(route, method) for route, rows in TRUANCY_MATRIX.items() for method, _ in rows]


class TestTruancy:
    """Truancy escalation, on a truancy world built once for these tests."""

    @pytest.mark.parametrize(("route", "method"), TRUANCY_CASES)
    def test_truancy_route_answers_each_user_as_the_matrix_says(self, truancy_world, route, method):
        # given each member of the cast (or nobody) signed in in turn
        expected = dict(TRUANCY_MATRIX[route])[method]
        arguments, form = _truancy_request(truancy_world, route)
        url = reverse(f"truancy:{route}", args=arguments)

        def ask(client, username):
            return client.get(url) if method == "get" else client.post(url, form)

        # when they open the page or send its valid form, then each gets what the matrix says
        assert _answers(truancy_world.cast, expected, ask) == expected


# Outreach pages for district administrators (each of their own district).
OUTREACH_ADMINS = {"admin", "outsider"}
OUTREACH_MATRIX = {
    "settings": [
        ("get", _only_roles(OUTREACH_ADMINS, 200)),
        ("post", _only_roles(OUTREACH_ADMINS, 302)),
    ],
    "letters": [("get", _only_roles(OUTREACH_ADMINS, 200))],
    # a batch nobody printed: administrators hear it does not exist, others may not ask
    "letter-batch-file": [("get", _only_roles(OUTREACH_ADMINS, 404))],
    # texts and emails no guardian matched; a post naming no message is refused in words
    "unmatched": [
        ("get", _only_roles(OUTREACH_ADMINS, 200)),
        ("post", _only_roles(OUTREACH_ADMINS, 400)),
    ],
    # messages whose sending was interrupted; a post naming no message is refused in words
    "unknown": [
        ("get", _only_roles(OUTREACH_ADMINS, 200)),
        ("post", _only_roles(OUTREACH_ADMINS, 400)),
    ],
}
OUTREACH_ARGUMENTS = {"letter-batch-file": [10**9, "pdf"]}
OUTREACH_SETTINGS_FORM = {
    "absence_today_not_before": "10:00",
    "absence_threshold_year": "5, 10",
    "absence_month_month": "3",
    "recognition_margin": "5",
    "recognition_min_days": "10",
    "nudge_min_days": "3",
    "nudge_share": "50",
    "nudge_round": "1",
    "quiet_start": "20:00",
    "quiet_end": "08:00",
    "weekly_cap": "3",
    "fallback_language": "en",
}
OUTREACH_CASES = [(route, method) for route, rows in OUTREACH_MATRIX.items() for method, _ in rows]


@pytest.mark.parametrize(("route", "method"), OUTREACH_CASES)
def test_outreach_administration_answers_each_user_as_the_matrix_says(cast, route, method):
    # given each member of the cast (or nobody) signed in in turn
    expected = dict(OUTREACH_MATRIX[route])[method]
    assert set(expected) == {ANONYMOUS, *CAST_USERS}
    url = reverse(f"outreach:{route}", args=OUTREACH_ARGUMENTS.get(route, []))

    def ask(client, username):
        if method == "get":
            return client.get(url)
        return client.post(url, OUTREACH_SETTINGS_FORM)

    # when they open the page or send its form filled in correctly, then each gets what the
    # matrix says
    assert _answers(cast, expected, ask) == expected


# Reports (homeroom.reports): district roles only. The outsider administers another
# district, whose figures are not computed yet: the page says so (400), never this one's.
REPORT_READERS = {"admin", "analyst"}


def _reports() -> dict:
    return _by_user(
        lambda user: 200 if user in REPORT_READERS else 400 if user == "outsider" else 403
    )


REPORTS_MATRIX = {
    "index": [("get", _reports())],
    "pdf": [("get", _reports())],
    "table": [("get", _reports())],
    "groups": [("get", _reports())],
    "allocation": [("get", _reports())],
    "improvement": [("get", _reports())],
    # administrators change the suppression setting (each of their own district)
    "settings": [("post", _only_roles({"admin", "outsider"}, 302))],
}
REPORT_ARGUMENTS = {"pdf": ["board"], "table": ["schools"]}
REPORT_CASES = [(route, method) for route, rows in REPORTS_MATRIX.items() for method, _ in rows]


def test_every_reports_route_has_a_row_in_the_matrix():
    from homeroom.reports import urls as report_urls

    assert {p.name for p in report_urls.urlpatterns} == set(REPORTS_MATRIX)


class TestReports:
    """Reports, on the cast's summaries computed once for these tests."""

    @pytest.mark.parametrize(("route", "method"), REPORT_CASES)
    def test_reports_route_answers_each_user_as_the_matrix_says(
        self, cast, summaries, route, method
    ):
        # given the district's figures computed and each member of the cast signed in in turn
        expected = dict(REPORTS_MATRIX[route])[method]
        assert set(expected) == {ANONYMOUS, *CAST_USERS}
        url = reverse(f"reports:{route}", args=REPORT_ARGUMENTS.get(route, []))

        def ask(client, username):
            if method == "get":
                return client.get(url)
            return client.post(url, {"minimum_cell": "5"})

        # when they open the page or download the report, then each gets what the matrix says
        assert _answers(cast, expected, ask) == expected


# Needs surveys (homeroom.surveys.urls) and the coding audit (homeroom.stewardship.urls) ---
#
# The roll-up is read by whoever sees a whole school added up (the counselor serves only
# some grades of hers: 403); surveys are built and sent by district administrators; a
# household's answers are for the team managing an open case of the student (Gabe's,
# managed by the counselor; Lincoln's principal is on its team). The family's page needs
# no account. The coding audit is for district roles.

SURVEY_READERS = {"admin", "analyst", "principal", "viewer", "outsider"}
SURVEY_BUILDERS = {"admin", "outsider"}
STEWARDS = {"admin", "analyst", "outsider"}


def _survey_of_the_cast(readers: set[str]) -> dict:
    """Readers of the cast's district get 200; the outsider, of another district, 404."""
    return _by_user(lambda user: 404 if user == "outsider" else 200 if user in readers else 403)


SURVEYS_MATRIX = {
    "list": [("get", _only_roles(SURVEY_READERS))],
    # the outsider's district has no barriers to ask about: the form comes back (400)
    "new": [
        ("get", _only_roles(SURVEY_BUILDERS)),
        ("post", _by_user(lambda u: 302 if u == "admin" else 400 if u == "outsider" else 403)),
    ],
    "detail": [("get", _survey_of_the_cast(SURVEY_READERS))],
    "results": [("get", _survey_of_the_cast(SURVEY_READERS))],
    # the outsider is told the survey is not theirs, on the page it returns to
    "send": [("post", _only_roles(SURVEY_BUILDERS, 302))],
    "household-answers": [
        (
            "get",
            _by_user(
                lambda user: (
                    200
                    if user in {"counselor", "principal"}
                    else 403
                    if "gabe" in VISIBLE[user]
                    else 404
                )
            ),
        )
    ],
    # the family's link: no account needed, the same page for everyone
    "answer": [("get", dict.fromkeys((ANONYMOUS, *CAST_USERS), 200))],
}
STEWARDSHIP_MATRIX = {
    "coding-audit": [("get", _only_roles(STEWARDS))],
    # the rows of a Lincoln finding: the outsider's district has no such school
    "rows": [
        ("get", _by_user(lambda u: 404 if u == "outsider" else 200 if u in STEWARDS else 403))
    ],
}


def _survey_world(cast):
    from homeroom.interventions.tests.conftest import open_case
    from homeroom.surveys.models import Invitation
    from homeroom.surveys.tests.world import families
    from homeroom.surveys.tokens import new_token, token_hash

    world = families(cast)
    open_case(cast, "gabe")
    world.token = new_token()
    invitation = Invitation.objects.create(
        survey=world.survey, token_hash=token_hash(world.token), household="h", language="en"
    )
    invitation.students.set([cast.gabe])
    return world


_survey_world_once = once_per_class("_survey_world_once", _survey_world)


@pytest.fixture
def survey_world(cast, _survey_world_once):
    """That world for a test, built once for its class."""
    return the_tests_world(_survey_world_once, cast, _survey_world)


def _survey_request(world, route: str) -> tuple[list, dict]:
    """The route's arguments and the valid form it is sent."""
    cast = world.cast
    survey = world.survey.pk
    barriers = list(world.survey.barriers.values_list("pk", flat=True))
    return {
        "list": ([], {}),
        "new": (
            [],
            {
                "title": "Spring check-in",
                "audience": "families",
                "barrier_ids": barriers,
                "closes_on": world.survey.closes_on.isoformat(),
            },
        ),
        "detail": ([survey], {}),
        "results": ([survey], {}),
        "send": ([survey], {}),
        "household-answers": ([cast.gabe.pk], {}),
        "answer": ([world.token], {}),
    }[route]


def test_every_survey_and_stewardship_route_has_a_row_in_the_matrix():
    from homeroom.stewardship import urls as stewardship_urls
    from homeroom.surveys import urls as survey_urls

    for urls, matrix in ((survey_urls, SURVEYS_MATRIX), (stewardship_urls, STEWARDSHIP_MATRIX)):
        names = {p.name for p in urls.urlpatterns if isinstance(p, URLPattern)}
        assert names == set(matrix)
        for rows in matrix.values():
            for _, expected in rows:
                assert set(expected) == {ANONYMOUS, *CAST_USERS}


SURVEY_CASES = [(route, method) for route, rows in SURVEYS_MATRIX.items() for method, _ in rows]


class TestSurveys:
    """Needs surveys, on a survey world built once for these tests."""

    @pytest.mark.parametrize(("route", "method"), SURVEY_CASES)
    def test_survey_route_answers_each_user_as_the_matrix_says(self, survey_world, route, method):
        # given each member of the cast (or nobody) signed in in turn
        expected = dict(SURVEYS_MATRIX[route])[method]
        arguments, form = _survey_request(survey_world, route)
        url = reverse(f"surveys:{route}", args=arguments)

        def ask(client, username):
            return client.get(url) if method == "get" else client.post(url, form)

        # when they open the page or send its valid form, then each gets what the matrix says
        assert _answers(survey_world.cast, expected, ask) == expected


@pytest.mark.parametrize("route", sorted(STEWARDSHIP_MATRIX))
def test_stewardship_route_answers_each_user_as_the_matrix_says(cast, route):
    ((_method, expected),) = STEWARDSHIP_MATRIX[route]
    query = {
        "school": cast.lincoln.pk,
        "kind": "absent",
        "from": cast.this_year.start_date,
        "to": cast.today,
    }
    url = reverse(f"stewardship:{route}")

    def ask(client, username):
        return client.get(url, query if route == "rows" else {})

    assert _answers(cast, expected, ask) == expected
