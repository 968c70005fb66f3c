"""Shared test fixtures: a small named district (the cast) that every app's tests use.

The cast's current school year is the one holding today's date, so pages that default to
"today" show the same world whichever day the tests run. A module may build it once for
all its tests (`shared_cast`, and `once_per_class` / `once_per_module` for worlds built on
it): each test runs in a savepoint of the module's transaction, so it still finds the cast
as built, at the cost of a savepoint rather than a cast.

`--database-only` runs only the tests that touch the database: `./dev test` runs the whole
suite on SQLite and these again on PostgreSQL, since a test that never opens a connection
learns nothing from a second database (nor one marked `one_database`, whose database only
sets up what it checks elsewhere).
"""

import copy
import datetime as dt
import sys
import zoneinfo
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from homeroom.accounts.models import CaseloadAssignment, GradeScope, Role, User
from homeroom.attendance.models import AttendanceCode, AttendanceEvent, Category
from homeroom.core.models import Calendar, CalendarDate, District, School, SchoolYear
from homeroom.core.selectors import district_today
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.metrics.models import SummaryState
from homeroom.roster.models import Enrollment, Section, SectionEnrollment, Student
from homeroom.warnings.models import RiskModel, RiskScore

PASSWORD = "correct-horse-battery"
CAST_TIMEZONE = "America/Chicago"

# The cast's students, and which of them each cast member should see: written out, not
# asked of the gatekeeper (the gatekeeper's and the views' tests check against it).
EVERYONE = frozenset({"ana", "ben", "carla", "dev", "eli", "gabe", "hal"})
VISIBLE = {
    "admin": EVERYONE,
    "analyst": EVERYONE,
    "principal": {"ana", "ben", "eli", "gabe"},
    "counselor": {"carla", "gabe"},
    "teacher": {"ana"},
    "viewer": {"carla", "dev"},
    "outsider": set(),
    "former": set(),
}

# What a test asks for when it reads or writes the database (pytest-django's names).
DATABASE_FIXTURES = frozenset({"db", "transactional_db", "django_db_setup", "live_server"})


def pytest_addoption(parser: pytest.Parser) -> None:
    """The two halves of `./dev test`: `--database-only` (PostgreSQL's) and
    `--beside-postgresql` (SQLite's)."""
    parser.addoption(
        "--database-only",
        action="store_true",
        help="run only the tests that use the database (the second database's half)",
    )
    parser.addoption(
        "--beside-postgresql",
        action="store_true",
        help="leave out the tests that run in the PostgreSQL half (one_database(half=...))",
    )


def uses_database(item: pytest.Item) -> bool:
    """Whether a test is marked for the database or asks for a fixture that opens it."""
    if item.get_closest_marker("django_db"):
        return True
    return bool(DATABASE_FIXTURES.intersection(item.fixturenames))


def one_database_half(item: pytest.Item) -> str | None:
    """The half a test marked `one_database` runs in ("sqlite" unless the mark says
    otherwise), or None for a test that runs on both databases."""
    marker = item.get_closest_marker("one_database")
    return None if marker is None else marker.kwargs.get("half", "sqlite")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With `--database-only`, deselect the tests that never touch the database, and those
    marked `one_database` (what they check does not depend on which database it is) unless
    they are placed in the PostgreSQL half; with `--beside-postgresql`, deselect those.
    Placing a slow test in the half with room keeps the two halves about even."""
    if config.getoption("--database-only"):

        def wanted(item: pytest.Item) -> bool:
            half = one_database_half(item)
            return half == "postgresql" or (half is None and uses_database(item))

    elif config.getoption("--beside-postgresql"):

        def wanted(item: pytest.Item) -> bool:
            return one_database_half(item) != "postgresql"

    else:
        return
    config.hook.pytest_deselected(items=[item for item in items if not wanted(item)])
    items[:] = [item for item in items if wanted(item)]


FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Production hashing is slow on purpose; tests need no protection from brute force."""
    settings.PASSWORD_HASHERS = FAST_HASHERS


@contextmanager
def refused_by_the_database() -> Iterator[None]:
    """The database refuses the write; the savepoint keeps the test's transaction usable."""
    with pytest.raises(IntegrityError), transaction.atomic():
        yield


def school_year_bounds(today: dt.date) -> tuple[dt.date, dt.date]:
    """Mid-August to early June of the school year holding `today` (summer joins the last).

    A year that began less than eight weeks ago starts eight weeks before today instead, so
    that tests find past school days to be absent on whatever the date.
    """
    first_year = today.year if today.month >= 8 else today.year - 1
    start = min(dt.date(first_year, 8, 10), today - dt.timedelta(weeks=8))
    return start, dt.date(first_year + 1, 6, 5)


def school_days(year: SchoolYear) -> list[dt.date]:
    """The instructional days of a cast year: every weekday (see make_calendar)."""
    day, days = year.start_date, []
    while day <= year.end_date:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def make_calendar(school: School, year: SchoolYear, holidays: set[dt.date] = frozenset()):
    """A calendar with every weekday instructional except `holidays`.

    Its dates are inserted by one plain statement: the cast builds four calendars for
    nearly every test, and making a model instance of each date cost more than the rest
    of the cast together.
    """
    calendar = Calendar.objects.create(school=school, school_year=year)
    rows, day = [], year.start_date
    while day <= year.end_date:
        if day.weekday() >= 5:
            kind = CalendarDate.Kind.WEEKEND
        elif day in holidays:
            kind = CalendarDate.Kind.HOLIDAY
        else:
            kind = CalendarDate.Kind.INSTRUCTIONAL
        rows.append((calendar.pk, day.isoformat(), kind.value))
        day += dt.timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {CalendarDate._meta.db_table} (calendar_id, date, kind)"
            " VALUES (%s, %s, %s)",
            rows,
        )
    return calendar


def school_day(cast, school: School, n: int) -> dt.date:
    """The n-th instructional day (1-based) of the cast's calendar at `school` this year."""
    days = CalendarDate.objects.filter(
        calendar__school=school,
        calendar__school_year=cast.this_year,
        kind=CalendarDate.Kind.INSTRUCTIONAL,
    ).order_by("date")
    return days.values_list("date", flat=True)[n - 1]


def enroll(
    pupil: Student,
    school: School,
    year: SchoolYear,
    *,
    grade: int | None = None,
    entry: dt.date | None = None,
    exit_date: dt.date | None = None,
) -> Enrollment:
    """Enroll a student at a school: in their grade and from the year's first day, unless said."""
    return Enrollment.objects.create(
        student=pupil,
        school=school,
        school_year=year,
        grade=pupil.grade if grade is None else grade,
        entry_date=entry or year.start_date,
        exit_date=exit_date,
    )


def make_user(username: str, role: Role, district: District, **extra) -> User:
    """A staff user with the shared test password."""
    return User.objects.create_user(
        username=username, password=PASSWORD, role=role, district=district, **extra
    )


@pytest.fixture
def cast(db):
    """A district with two schools, one user per role and scope, and students to find."""
    return build_cast()


def build_cast() -> SimpleNamespace:
    """The cast (see the `cast` fixture), written to the database."""
    district = District.objects.create(name="Riverside Unified", timezone=CAST_TIMEZONE)
    today = district_today(district)  # not the machine's: Chicago is a day behind after 0:00 UTC
    start, end = school_year_bounds(today)
    other_district = District.objects.create(name="Elsewhere County")
    last_year = SchoolYear.objects.create(
        district=district,
        name=f"{start.year - 1}-{start.year}",
        start_date=start.replace(year=start.year - 1),
        end_date=end.replace(year=end.year - 1),
    )
    this_year = SchoolYear.objects.create(
        district=district, name=f"{start.year}-{end.year}", start_date=start, end_date=end
    )
    lincoln = School.objects.create(
        district=district,
        local_id="101",
        name="Lincoln Elementary",
        level="elementary",
        lowest_grade=0,
        highest_grade=5,
    )
    central = School.objects.create(
        district=district,
        local_id="301",
        name="Central High",
        level="high",
        lowest_grade=9,
        highest_grade=12,
    )
    for school in (lincoln, central):
        for year in (last_year, this_year):
            make_calendar(school, year)

    def student(local_id, first, last, grade):
        return Student.objects.create(
            district=district, local_id=local_id, first_name=first, last_name=last, grade=grade
        )

    month_ago = today - dt.timedelta(days=30)
    ana = student("S1", "Ana", "Alvarez", 3)
    ben = student("S2", "Ben", "Brooks", 4)
    carla = student("S3", "Carla", "Chen", 9)
    dev = student("S4", "Dev", "Desai", 11)
    eli = student("S5", "Eli", "Evans", 5)  # withdrew a month ago
    gabe = student("S6", "Gabe", "Garcia", 2)
    hal = student("S7", "Hal", "Hughes", 5)  # left the district last year
    for pupil in (ana, ben, gabe):
        enroll(pupil, lincoln, this_year)
    for pupil in (carla, dev):
        enroll(pupil, central, this_year)
    enroll(eli, lincoln, this_year, exit_date=month_ago)
    enroll(hal, lincoln, last_year)

    admin = make_user("admin", Role.DISTRICT_ADMIN, district)
    analyst = make_user("analyst", Role.DISTRICT_ANALYST, district)
    principal = make_user("principal", Role.PRINCIPAL, district)
    principal.schools.add(lincoln)
    counselor = make_user("counselor", Role.COUNSELOR, district)
    counselor.schools.add(central)
    for grade in (9, 10):
        GradeScope.objects.create(user=counselor, school=central, grade=grade)
    CaseloadAssignment.objects.create(user=counselor, student=gabe, start_date=start)
    CaseloadAssignment.objects.create(
        user=counselor, student=ben, start_date=start, end_date=month_ago
    )
    teacher = make_user("teacher", Role.TEACHER, district)
    viewer = make_user("viewer", Role.VIEWER, district)
    viewer.schools.add(central)
    outsider = make_user("outsider", Role.DISTRICT_ADMIN, other_district)
    former = make_user("former", Role.DISTRICT_ADMIN, district, is_active=False)

    homeroom = Section.objects.create(
        school=lincoln, school_year=this_year, local_id="HR3", name="Room 3", is_homeroom=True
    )
    homeroom.teachers.add(teacher)
    SectionEnrollment.objects.create(student=ana, section=homeroom, start_date=start)
    SectionEnrollment.objects.create(
        student=eli, section=homeroom, start_date=start, end_date=month_ago
    )

    codes = {
        code.code: code
        for code in AttendanceCode.objects.bulk_create(
            AttendanceCode(
                district=district,
                code=code,
                description=description,
                category=category,
                day_fraction=day_fraction,
            )
            for code, description, category, day_fraction in (
                ("A", "Unexcused", Category.UNEXCUSED, 1),
                ("E", "Excused", Category.EXCUSED, 1),
                ("T", "Tardy", Category.TARDY, 0),
            )
        )
    }
    return SimpleNamespace(
        today=today,
        district=district,
        other_district=other_district,
        last_year=last_year,
        this_year=this_year,
        lincoln=lincoln,
        central=central,
        ana=ana,
        ben=ben,
        carla=carla,
        dev=dev,
        eli=eli,
        gabe=gabe,
        hal=hal,
        admin=admin,
        analyst=analyst,
        principal=principal,
        counselor=counselor,
        teacher=teacher,
        viewer=viewer,
        outsider=outsider,
        former=former,
        homeroom=homeroom,
        codes=codes,
    )


@contextmanager
def kept_until_the_scope_ends[T](django_db_blocker, build: Callable[[], T]) -> Iterator[T]:
    """What `build` writes, built once for a module's (or class's) tests and undone after.

    The rows are written inside a transaction opened here and rolled back when the scope
    ends; each test's own transaction (pytest-django's `db`) nests in it as a savepoint,
    so whatever a test writes is rolled back before the next one, which finds the world as
    built. The database is unblocked only while building and undoing, so a test still needs
    `db` to reach it. Not for `transactional_db` or `live_server` tests: they commit (and
    flush) for real. Passwords are hashed the fast way, as `fast_password_hashing` does for
    a test, since that fixture is a test's and this runs before it.
    """
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHERS):
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = build()
        except BaseException:
            outer.__exit__(*sys.exc_info())
            raise
    try:
        yield built
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def for_one_test[T](world: T) -> T:
    """A test's own copy of a world built once: the rows are shared (and each test's
    writes rolled back), the Python objects are not, so that a test changing an attribute
    in memory (a sign-in sets `last_login`) leaves the next test's objects as built."""
    return copy.deepcopy(world)


# The cast's `today` is the day it is built on: a cast shared by a module's tests must not
# outlive the day in its district (the pages would read the next day against it). No module
# takes this long, even on a loaded host; nearer midnight each test builds its own.
SHARED_CAST_MARGIN = dt.timedelta(minutes=30)


def days_end_is_near(margin: dt.timedelta = SHARED_CAST_MARGIN) -> bool:
    """Whether the cast's day ends, in its district, within `margin` from now."""
    now = timezone.now().astimezone(zoneinfo.ZoneInfo(CAST_TIMEZONE))
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), now.tzinfo)
    return midnight - now < margin


@pytest.fixture(scope="module")
def module_cast(django_db_setup, django_db_blocker) -> Iterator[SimpleNamespace | None]:
    """The cast built once for a module whose tests ask for `shared_cast`, rolled back at
    the module's end (see kept_until_the_scope_ends); None near the end of its day."""
    if days_end_is_near():
        yield None
        return
    with kept_until_the_scope_ends(django_db_blocker, build_cast) as built:
        yield built


@pytest.fixture
def shared_cast(request, module_cast, db) -> SimpleNamespace:
    """The cast for a test, built once per module: the same rows as `cast`, at the cost of
    a savepoint. A module opts in by defining its `cast` fixture as this one."""
    marker = request.node.get_closest_marker("django_db")
    if {"transactional_db", "live_server"} & set(request.fixturenames) or (
        marker and marker.kwargs.get("transaction")
    ):
        raise pytest.UsageError("a test that commits cannot share the module's cast")
    return build_cast() if module_cast is None else for_one_test(module_cast)


@contextmanager
def built_on_the_module_cast[T](
    django_db_blocker, module_cast: SimpleNamespace | None, build: Callable[[SimpleNamespace], T]
) -> Iterator[T | None]:
    """`build(cast)` done once on the module's shared cast (on a copy of its objects) for
    the tests of a class-scoped fixture, and rolled back when the class ends; None when the
    module builds a cast per test (see `the_tests_world`)."""
    if module_cast is None:
        yield None
        return
    cast = for_one_test(module_cast)
    with kept_until_the_scope_ends(django_db_blocker, lambda: build(cast)) as built:
        yield built


def once_per_class(name: str, build: Callable[[SimpleNamespace], Any]):
    """A class-scoped fixture called `name`: `build(cast)` done once on the module's shared
    cast for the tests of one class (see built_on_the_module_cast). Asked for outside a
    class it would live, and its rows with it, until the module's end, under tests that do
    not expect them: it refuses."""

    @pytest.fixture(scope="class", name=name)
    def built_once(request, module_cast, django_db_blocker):
        if request.cls is None:
            raise pytest.UsageError(f"{name} is for the tests of a class")
        with built_on_the_module_cast(django_db_blocker, module_cast, build) as built:
            yield built

    return built_once


def once_per_module(name: str, build: Callable[[SimpleNamespace], Any]):
    """A module-scoped fixture called `name`: `build(cast)` done once on the module's shared
    cast, for a module whose every test asks for it (a test that did not would find its
    rows all the same: it refuses)."""

    @pytest.fixture(scope="module", name=name)
    def built_once(request, module_cast, django_db_blocker):
        strangers = [
            item.name
            for item in request.session.items
            if item.module is request.module and name not in item.fixturenames
        ]
        if strangers:
            raise pytest.UsageError(f"{name} is for modules whose every test asks for it")
        with built_on_the_module_cast(django_db_blocker, module_cast, build) as built:
            yield built

    return built_once


def the_tests_world[T](
    shared: T | None, cast: SimpleNamespace, build: Callable[[SimpleNamespace], T]
) -> T:
    """A test's copy of the world built once for its class, or, when the module builds a
    cast per test, the world built for this test on its own cast."""
    return build(cast) if shared is None else for_one_test(shared)


@pytest.fixture
def summaries(cast) -> SummaryState:
    """The cast's student summaries as pages read them, computed as an import would."""
    return do_refresh_summaries(cast.district)


def forecast_model(cast, version: int) -> RiskModel:
    """The cast district's forecast model of that version, stored on first use."""
    model, _ = RiskModel.objects.get_or_create(
        district=cast.district,
        version=version,
        defaults={
            "estimator": "LogisticRegression",
            "rule_profile": "attendance-works@1",
            "trained_years": [cast.last_year.name],
            "parameters": {},
            "evaluation": {},
        },
    )
    return model


def add_forecast(
    cast,
    student: Student,
    probability: float,
    *,
    version: int = 1,
    year: SchoolYear | None = None,
    as_of: dt.date | None = None,
    week: int = 8,
    method: str = "model",
    factors: Sequence[str] = (),
    chronic_last_year: bool = False,
    absent_two_in_september: bool = False,
) -> RiskScore:
    """A stored forecast of a cast student by the district's forecast `version`: this year,
    as of today, unless said; projected chronic from a probability of one half."""
    return RiskScore.objects.create(
        student=student,
        school_year=year or cast.this_year,
        model=forecast_model(cast, version),
        as_of=as_of or cast.today,
        week=week,
        method=method,
        probability=probability,
        factors=list(factors),
        chronic_last_year=chronic_last_year,
        absent_two_in_september=absent_two_in_september,
        projected_chronic=probability >= 0.5,
    )


def add_absence(cast, student, school, day: dt.date, code: str = "A", fraction=None):
    """Record one attendance event for a cast student."""
    return AttendanceEvent.objects.create(
        student=student, school=school, date=day, code=cast.codes[code], day_fraction=fraction
    )
