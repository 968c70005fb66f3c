"""`homeroom demo` sets up the same district and accounts however often it runs."""

import html
import io
import re
import socket
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Q
from django.test import override_settings
from django.urls import reverse

from homeroom.accounts.models import CaseloadAssignment, GradeScope, Role, User
from homeroom.attendance.models import AttendanceEvent
from homeroom.conftest import FAST_HASHERS
from homeroom.core.models import District
from homeroom.core.selectors import district_today
from homeroom.demo.management.commands.demo import DEMO_DISTRICT_NAME
from homeroom.ingest.models import ImportRun
from homeroom.interventions.models import Case
from homeroom.interventions.selectors import my_caseload, student_case_status, team_meeting_agenda
from homeroom.metrics.models import StudentSummary, SummaryState
from homeroom.metrics.rules import load_rule_profile
from homeroom.metrics.tests.districts import module_district
from homeroom.roster.models import Enrollment, Section, SectionEnrollment, Student
from homeroom.warnings.models import Flag, RiskScore
from homeroom.web.tests.page_text import figure, student_ids_linked

pytestmark = pytest.mark.django_db

DEMO_ROLES = {
    "demo-admin": Role.DISTRICT_ADMIN,
    "demo-analyst": Role.DISTRICT_ANALYST,
    "demo-principal": Role.PRINCIPAL,
    "demo-counselor": Role.COUNSELOR,
    "demo-teacher": Role.TEACHER,
    "demo-viewer": Role.VIEWER,
}
ACCOUNT_LINE = re.compile(r"^\s+(demo-\w+)\s+password (\S+)", re.MULTILINE)


@pytest.fixture
def data_dir(settings, tmp_path):
    """The demo's generated files go to a directory of the test's own."""
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[dict[str, str]]:
    """The demo set up once for the module's tests (a full build is the slow part), and
    the passwords it printed; committed, and deleted with its accounts after the module."""
    passwords = {}

    def build() -> District:
        passwords.update(run_demo())
        return District.objects.get(name=DEMO_DISTRICT_NAME)

    directory = tmp_path_factory.mktemp("demo")
    # the tests' password hasher (fast_password_hashing), so their logins can check them
    with (
        override_settings(DATA_DIR=directory, PASSWORD_HASHERS=FAST_HASHERS),
        module_district(django_db_blocker, build),
    ):
        yield passwords


def run_demo(*arguments: str, output: io.StringIO | None = None) -> dict[str, str]:
    """Run `homeroom demo --no-serve` on a small district; the passwords it printed. With
    `output`, its progress is written there too."""
    written = output or io.StringIO()
    call_command(
        "demo",
        "--no-serve",
        "--students",
        "150",
        *arguments,
        verbosity=0 if output is None else 1,
        stdout=written,
        stderr=io.StringIO(),
        no_color=True,
    )
    return dict(ACCOUNT_LINE.findall(written.getvalue()))


def database_state() -> dict:
    """What a rerun must leave unchanged: row counts and the accounts' scopes."""
    return {
        "districts": list(District.objects.values_list("name", flat=True)),
        "students": Student.objects.count(),
        "enrollments": Enrollment.objects.count(),
        "events": AttendanceEvent.objects.count(),
        "sections": Section.objects.count(),
        "memberships": SectionEnrollment.objects.count(),
        "users": sorted(User.objects.values_list("username", "role", "is_active")),
        "schools": sorted(User.objects.values_list("username", "schools__local_id")),
        "grades": sorted(GradeScope.objects.values_list("user__username", "grade")),
        "caseload": sorted(CaseloadAssignment.objects.values_list("user__username", "student")),
        "taught": sorted(Section.objects.filter(teachers__isnull=False).values_list("pk")),
    }


def test_demo_twice_leaves_the_same_district_and_accounts(demo):
    # given the demo set up on a fresh database
    first = database_state()
    # when it is set up again
    again = run_demo()
    # then the district, its data and the accounts are the same, with the same passwords
    assert database_state() == first
    assert again == demo
    assert first["districts"] == [DEMO_DISTRICT_NAME]
    assert first["students"] > 100
    assert first["events"] > 0
    demo_users = {user: role for user, role, _ in first["users"] if user.startswith("demo-")}
    assert demo_users == DEMO_ROLES
    # the other accounts are the generated history's staff, who cannot sign in
    others = User.objects.exclude(username__in=DEMO_ROLES)
    assert all(user.username.startswith("staff-") for user in others)
    assert not any(user.has_usable_password() for user in others)
    assert set(demo) == set(DEMO_ROLES)
    assert first["grades"] and first["caseload"] and first["taught"]


def test_demo_teacher_sees_only_their_students(demo, client):
    # given the demo set up, and the teacher's password as it was printed
    passwords = demo
    teacher = User.objects.get(username="demo-teacher")
    today = district_today(teacher.district)
    theirs = set(
        SectionEnrollment.objects.filter(
            Q(end_date__isnull=True) | Q(end_date__gte=today),
            section__teachers=teacher,
            start_date__lte=today,
        ).values_list("student", flat=True)
    )
    assert 0 < len(theirs) <= 50
    # when the teacher signs in with it and opens the students list
    assert client.login(username="demo-teacher", password=passwords["demo-teacher"])
    page = client.get(reverse("web:students")).text
    # then the list holds exactly the students of their sections
    assert student_ids_linked(page) == theirs
    assert Student.objects.count() > len(theirs)


def test_demo_admin_sees_the_whole_district(demo, client):
    passwords = demo
    assert client.login(username="demo-admin", password=passwords["demo-admin"])
    page = client.get(reverse("web:home")).text
    assert DEMO_DISTRICT_NAME in page
    assert "<h1>District</h1>" in page  # the district's dashboard
    # the figures are the summaries the demo's load computed, one row per student, under
    # the profile the page names by its title
    state = SummaryState.objects.get()
    profile = load_rule_profile(state.profile.partition("@")[0])
    assert f"under the {profile.title} rules" in html.unescape(page)
    assert figure(page, "Students enrolled") == f"{state.students:,}"
    assert state.students == StudentSummary.objects.filter(school__isnull=True).count() > 100
    # and early warning ran: flags with reasons, and every enrolled student's forecast
    assert Flag.objects.filter(cleared_on__isnull=True).exclude(reason="").count() > 0
    assert RiskScore.objects.count() == state.students


def test_rebuild_generates_the_same_district_again(demo):
    # given the demo set up
    before = database_state()
    old_district = District.objects.get()
    # when it is rebuilt with the same seed
    output = io.StringIO()
    run_demo("--rebuild", output=output)
    # then a new district replaced the old, equal in every count
    assert District.objects.get().pk != old_district.pk
    after = database_state()
    for key in ("districts", "students", "enrollments", "events", "sections", "users"):
        assert after[key] == before[key]
    # and it said each of its five stages as it began them, with what the numbers mean
    text = output.getvalue()
    stages = [text.index(f"[{n}/5] ") for n in range(1, 6)]
    assert stages == sorted(stages)
    assert "[3/5] Loading it through the import engine" in text
    assert "[4/5] Training the forecast" in text
    assert "[5/5] Tonight's work" in text
    assert "\n      metrics…\n" in text  # the nightly steps, one line each
    assert _students_sentence() in text


def _students_sentence() -> str:
    """What the demo should say of its students, counted here from the enrollments."""
    district = District.objects.get()
    today = district_today(district)
    enrolled = {
        e.student_id
        for e in Enrollment.objects.filter(school__district=district)
        if e.entry_date <= today and (e.exit_date is None or e.exit_date >= today)
    }
    everyone = Student.objects.filter(district=district).count()
    assert 0 < len(enrolled) < everyone  # the history holds students who left
    return f"{len(enrolled):,} students enrolled today; {everyone:,} over 4 school years"


def test_demo_run_again_says_what_it_keeps_and_what_its_numbers_mean(demo):
    output = io.StringIO()
    run_demo(output=output)
    text = output.getvalue()
    assert "[1/5] Database: " in text
    assert "[2/5] The demo district 'Riverbend Public Schools' is already loaded." in text
    assert _students_sentence() in text


def test_demo_refuses_a_district_it_did_not_load(demo):
    # given a district of the demo's name that no demo load made
    ImportRun.objects.filter(district__name=DEMO_DISTRICT_NAME).delete()
    # then the demo will not take it over
    with pytest.raises(CommandError, match="that the demo did not load"):
        run_demo()


def test_demo_refuses_bad_arguments(data_dir):
    with pytest.raises(CommandError, match="--students must be at least 1"):
        call_command("demo", "--no-serve", "--students", "0")
    with pytest.raises(CommandError, match="--port must be between"):
        call_command("demo", "--port", "70000")


def test_port_in_use_is_a_message_before_any_work(data_dir):
    # given something already listening on a port
    districts = District.objects.count()
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        # when the demo is asked to serve there
        with pytest.raises(CommandError, match="Is another server using the port"):
            call_command("demo", "--port", str(port), verbosity=0, stdout=io.StringIO())
    # then it stopped before generating anything
    assert District.objects.count() == districts


def test_every_demo_role_has_a_useful_home_page(demo, client):
    # given the demo set up with its generated interventions history
    counselor, principal, teacher = (
        User.objects.get(username=f"demo-{role}") for role in ("counselor", "principal", "teacher")
    )
    today = district_today(counselor.district)
    # then the counselor manages open cases, some with follow-ups due or overdue
    caseload = my_caseload(counselor, on=today)
    assert caseload.cases
    assert caseload.overdue or caseload.due_today
    assert {c.student_id for c in caseload.cases} <= set(
        CaseloadAssignment.objects.filter(user=counselor).values_list("student", flat=True)
    )
    # the principal has a case waiting for a manager and a team meeting to prepare
    school = principal.schools.get()
    waiting = Case.objects.filter(school=school, status=Case.Status.OPEN, case_manager=None)
    assert waiting.exists()
    assert team_meeting_agenda(principal, school_id=school.pk, on=today).students
    # the teacher's students include some with a case
    theirs = SectionEnrollment.objects.filter(
        Q(end_date__isnull=True) | Q(end_date__gte=today),
        section__teachers=teacher,
        start_date__lte=today,
    ).values_list("student", flat=True)
    assert any(student_case_status(teacher, student_id=s) for s in set(theirs))
    # and their pages show it
    for user, page, shown in (
        (counselor, "interventions:caseload", caseload.cases[0].student.last_name),
        (principal, "interventions:caseload", waiting.first().student.last_name),
    ):
        assert client.login(username=user.username, password=demo[user.username])
        response = client.get(reverse(page))
        assert response.status_code == 200
        assert shown in response.text
