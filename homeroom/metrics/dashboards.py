"""Reads of the dashboards: a district, a school, a grade of a school or a student group,
each in the same shape, from materialized figures only.

- The figures of a school, a grade or a school's group as of the summaries' date are
  `StudentSummary` rows of the students the user may see (`visible_students`): the rows
  the student list shows when a figure is clicked.
- The district's (and a district group's) are the cells the refresh stored for that date
  (`StandingCell`, `GroupCell`): only district-wide roles see them, and they see every
  student, so the cells are those same rows added up, once at the refresh instead of per
  request (50,000 students: 47 s cold, docs/benchmarks.md, "Dashboards").
- Earlier dates' figures, and last year's as of the same date, are `StandingCell` rows.
- Trend lines and patterns add up `SchoolDayAttendance` (per school, grade and day).

Totals of a school or the district include students the user cannot open one by one (who
left, last year's), so they are read only where `aggregate_scope` allows the whole of it.
Groups smaller than `MINIMUM_CELL` students counted are not shown (small-cell suppression).
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.http import Http404
from django.utils import formats
from django.utils.translation import gettext, gettext_noop

from homeroom.access.gatekeeper import AggregateScope, aggregate_scope, visible_students
from homeroom.core.models import School
from homeroom.metrics.engines import year_back
from homeroom.metrics.models import (
    GroupCell,
    SchoolDayAttendance,
    StandingCell,
    StudentSummary,
    SummaryState,
)
from homeroom.metrics.rules import RuleProfile
from homeroom.roster.models import StudentCharacteristic

# Groups with fewer students counted are not shown: many states suppress n < 10 (DOMAIN.md,
# "Small-cell suppression"), as the forecast's group report does.
MINIMUM_CELL = 10
GROUPS = dict(StudentCharacteristic.Kind.choices)
# Pattern labels are kept in English (they are keys too); pages translate them as shown.
OTHER_DAYS = gettext_noop("Other school days")
BEFORE_A_BREAK = gettext_noop("Day before a break")
AFTER_A_BREAK = gettext_noop("Day after a break")
WEEKDAY_NAMES = (
    gettext_noop("Monday"),
    gettext_noop("Tuesday"),
    gettext_noop("Wednesday"),
    gettext_noop("Thursday"),
    gettext_noop("Friday"),
)


class DashboardNotFound(Http404):
    """No such school, grade or group, or not one the user may see added up."""

    def __init__(self) -> None:
        super().__init__("No dashboard with those figures is visible to you.")


@dataclass(frozen=True)
class Place:
    """Which students a dashboard adds up: the district's, a school's, a grade of a school,
    or a student group (of the district, or of a school)."""

    school: School | None = None
    grade: int | None = None
    group: str | None = None

    @property
    def level(self) -> str:
        """district, school, grade or group."""
        if self.group:
            return "group"
        if self.grade is not None:
            return "grade"
        return "school" if self.school else "district"

    def query(self, **extra) -> dict[str, str]:
        """The student list's filters for these students (and `extra` ones)."""
        filters = {"school": self.school.pk if self.school else None, "grade": self.grade}
        filters |= {"group": self.group, **extra}
        return {key: str(value) for key, value in filters.items() if value not in (None, "")}


@dataclass(frozen=True)
class Share:
    """A count of students and their share of those counted."""

    name: str
    label: str
    students: int
    share: float | None


@dataclass(frozen=True)
class Standing:
    """Students, attendance, chronic absence, bands and tiers of one set of students."""

    students: int
    counted: int
    days_enrolled: int
    days_absent: float
    chronic: int
    bands: list[Share]
    tiers: list[Share]

    @property
    def attendance_rate(self) -> float | None:
        """Days present out of days enrolled (ADA)."""
        return 1 - self.days_absent / self.days_enrolled if self.days_enrolled else None

    @property
    def chronic_rate(self) -> float | None:
        """Chronically absent students out of those counted."""
        return self.chronic / self.counted if self.counted else None


@dataclass(frozen=True)
class Week:
    """One week of the school year: its Monday, and its attendance rate this year and the
    year before (the same week of that year: same number of weeks from its start)."""

    number: int
    monday: dt.date
    attendance_rate: float | None
    last_year: float | None


@dataclass(frozen=True)
class Pattern:
    """Attendance on some kind of day (a weekday, a month, days beside holidays)."""

    label: str
    days_enrolled: int
    days_absent: float

    @property
    def attendance_rate(self) -> float | None:
        """Student-days present out of student-days enrolled."""
        return 1 - self.days_absent / self.days_enrolled if self.days_enrolled else None

    @property
    def absence_rate(self) -> float | None:
        """Student-days absent out of student-days enrolled."""
        return self.days_absent / self.days_enrolled if self.days_enrolled else None


@dataclass(frozen=True)
class Row:
    """One line of a dashboard's breakdown: a school, a grade or a group."""

    key: str
    label: str
    standing: Standing | None  # None: suppressed (fewer than MINIMUM_CELL counted)
    last_year: Standing | None = None
    gap: float | None = None  # chronic rate against the dashboard's (groups)
    query: dict[str, str] = field(default_factory=dict)

    @property
    def attendance_change(self) -> float | None:
        """This year's attendance rate less last year's (None: either missing)."""
        return _change(self.standing, self.last_year, "attendance_rate")

    @property
    def chronic_change(self) -> float | None:
        """This year's chronic absence rate less last year's."""
        return _change(self.standing, self.last_year, "chronic_rate")


@dataclass(frozen=True)
class Dashboard:
    """Everything one dashboard page shows."""

    place: Place
    state: SummaryState
    as_of: dt.date
    current: bool  # as of the summaries' date: figures link to the students they count
    standing: Standing
    last_year: Standing | None
    last_year_as_of: dt.date | None
    weeks: list[Week]
    weekdays: list[Pattern]
    months: list[Pattern]
    holidays: list[Pattern]
    grades: list[Row]
    groups: list[Row]
    schools: list[Row]

    @property
    def has_breaks(self) -> bool:
        """Whether any school day so far lies beside a break (a holiday, a vacation)."""
        return any(p.days_enrolled for p in self.holidays if p.label != OTHER_DAYS)

    @property
    def suppressed(self) -> bool:
        """Whether the students are a group too small to show (MINIMUM_CELL)."""
        return _shown(self.standing, self.place) is None

    @property
    def attendance_change(self) -> float | None:
        """Attendance rate against the same date last year, in points."""
        return _change(self.standing, self.last_year, "attendance_rate")

    @property
    def chronic_change(self) -> float | None:
        """Chronic absence rate against the same date last year, in points."""
        return _change(self.standing, self.last_year, "chronic_rate")

    @property
    def enrollment_change(self) -> int | None:
        """Students enrolled so far against last year's so far."""
        return self.standing.students - self.last_year.students if self.last_year else None


def _change(now: Standing | None, before: Standing | None, name: str) -> float | None:
    if now is None or before is None:
        return None
    current, previous = getattr(now, name), getattr(before, name)
    return None if current is None or previous is None else current - previous


def _standing(cells: list[dict], rules: RuleProfile | None) -> Standing:
    """Add up cells (students per counted, chronic, band, tier with their days)."""
    bands: dict[str, int] = defaultdict(int)
    tiers: dict[str, int] = defaultdict(int)
    totals = {"students": 0, "counted": 0, "days_enrolled": 0, "days_absent": 0.0, "chronic": 0}
    for cell in cells:
        totals["students"] += cell["students"]
        totals["days_enrolled"] += cell["days_enrolled"] or 0
        totals["days_absent"] += cell["days_absent"] or 0.0
        if cell["counted"]:
            totals["counted"] += cell["students"]
            totals["chronic"] += cell["students"] if cell["chronic"] else 0
            bands[cell["band"]] += cell["students"]
            tiers[cell["tier"]] += cell["students"]
    counted = totals["counted"]

    def shares(levels, held: dict[str, int]) -> list[Share]:
        named = [(level.name, level.label) for level in levels] if rules else []
        named += [(name, name) for name in sorted(held) if name not in dict(named)]
        return [
            Share(name, label, held.get(name, 0), held.get(name, 0) / counted if counted else None)
            for name, label in named
        ]

    totals["days_absent"] = round(totals["days_absent"], 3)
    return Standing(
        **totals,
        bands=shares(rules.bands if rules else (), bands),
        tiers=shares(rules.tiers if rules else (), tiers),
    )


CELL_KEYS = ("counted", "chronic", "band", "tier")


def _cells(rows: QuerySet, *keys: str) -> dict[tuple, list[dict]]:
    """Rows added up per `keys` and the cell keys, as lists of cells per `keys`."""
    grouped = (
        rows.values(*keys, *CELL_KEYS)
        .annotate(
            cell_students=Count("pk"),
            cell_enrolled=Sum("days_enrolled"),
            cell_absent=Sum("days_absent"),
        )
        .order_by()
    )
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for row in grouped:
        cells[tuple(row[key] for key in keys)].append(
            {
                "students": row["cell_students"],
                "days_enrolled": row["cell_enrolled"],
                "days_absent": row["cell_absent"],
                **{key: row[key] for key in CELL_KEYS},
            }
        )
    return cells


def in_group(kind: str, on: dt.date) -> Exists:
    """Whether the row's student holds the characteristic on the date: who a student
    group counts, on the pages and in the group cells the refresh stores."""
    held = StudentCharacteristic.objects.filter(
        Q(end_date__isnull=True) | Q(end_date__gte=on),
        student=OuterRef("student"),
        kind=kind,
        start_date__lte=on,
    )
    return Exists(held)


def place_for(
    user, *, school_id: int | None = None, grade: int | None = None, group: str | None = None
) -> tuple[Place, AggregateScope]:
    """The dashboard's students if the user may see them added up; else DashboardNotFound."""
    scope = aggregate_scope(user)
    if group is not None and group not in GROUPS:
        raise DashboardNotFound()
    school = None
    if school_id is not None:
        school = School.objects.filter(pk=school_id, district_id=user.district_id).first()
        if school is None:
            raise DashboardNotFound()
        allowed = (
            scope.sees_grade(school.pk, grade)
            if grade is not None
            else scope.sees_school(school.pk)
        )
        if not allowed:
            raise DashboardNotFound()
    elif grade is not None or not scope.district:
        raise DashboardNotFound()
    return Place(school=school, grade=grade, group=group), scope


def kept_dates(state: SummaryState) -> list[dt.date]:
    """The dates a dashboard can be seen as of: each Friday of the year so far and the
    summaries' date, latest first."""
    dates = (  # the overall cells: every date kept has some, and they are few
        StandingCell.objects.filter(school_year=state.school_year_id, school__isnull=True)
        .values_list("as_of", flat=True)
        .distinct()
        .order_by("-as_of")
    )
    return list(dates)


def dashboard(
    user,
    place: Place,
    *,
    state: SummaryState,
    rules: RuleProfile | None,
    on: dt.date | None = None,
) -> Dashboard:
    """The dashboard of `place` (from `place_for`) as of `on`: by default the summaries'
    date, whose figures are the visible students' summaries (the rows the student list
    shows); an earlier date of `kept_dates` reads the standing kept for it. Groups are
    seen as of the summaries' date only."""
    current = on is None or on == state.as_of or bool(place.group)
    on = state.as_of if current else on
    # The district and its groups (district-wide roles only, who see every student) read
    # the cells the refresh stored; a school's figures are its visible students' summaries.
    stored = place.school is None
    rows = StudentSummary.objects.filter(
        school_year=state.school_year_id, student__in=visible_students(user).values("pk")
    )
    kept = StandingCell.objects.filter(school_year__district=state.district_id)
    last = kept.exclude(school_year=state.school_year_id).filter(as_of=year_back(on))
    then = kept.filter(school_year=state.school_year_id, as_of=on)
    if place.group:
        then = GroupCell.objects.filter(
            school_year=state.school_year_id, as_of=on, group=place.group
        )
    days = SchoolDayAttendance.objects.filter(school_year__district=state.district_id)
    at_schools = then.filter(school__isnull=False)
    if place.school is None:
        rows, last, then = (q.filter(school__isnull=True) for q in (rows, last, then))
    else:
        rows, last, then = (q.filter(school=place.school) for q in (rows, last, then))
        days = days.filter(school=place.school)
    if place.grade is not None:
        rows, last, then = (q.filter(grade=place.grade) for q in (rows, last, then))
        days = days.filter(grade=place.grade)
    if place.group:
        rows = rows.filter(in_group(place.group, state.as_of))
    if current and not stored:
        standing = _standing(_cells(rows).get((), []), rules)
        by_grade = _cells(rows, "grade")
    else:
        standing = _standing(_kept(then).get((), []), rules)
        by_grade = _kept(then, "grade")
    last_year = None
    last_cells = _kept(last)
    if last_cells and not place.group:  # groups: last year's are not kept
        last_year = _standing(last_cells[()], rules)
    last_by_grade = _kept(last, "grade") if not place.group else {}
    # Groups have no daily figures of their own: their trend is not drawn.
    series = _daily(days, state, on) if not place.group else ({}, {})
    this_year = series[0]
    grades = [
        Row(
            key=str(grade),
            label=grade_label(grade),
            standing=_shown(_standing(cells, rules), place),
            last_year=_standing(last_by_grade[(grade,)], rules)
            if (grade,) in last_by_grade
            else None,
            query=Place(school=place.school, grade=grade, group=place.group).query(),
        )
        for (grade,), cells in sorted(by_grade.items())
    ]
    schools = []
    if place.school is None:
        by_school = _kept(at_schools, "school")
        last_schools = {}
        if not place.group:
            before = kept.exclude(school_year=state.school_year_id)
            before = before.filter(as_of=year_back(on), school__isnull=False)
            last_schools = _kept(before, "school")
        schools = _schools(user, by_school, last_schools, place, rules)
    if not current or place.group:
        groups = []
    elif stored:
        groups = _stored_groups(state, place, standing, rules)
    else:
        groups = _groups(rows, place, standing, state, rules)
    return Dashboard(
        place=place,
        state=state,
        as_of=on,
        current=current,
        standing=standing,
        last_year=last_year,
        last_year_as_of=year_back(on) if last_year else None,
        weeks=_weeks(series, state),
        weekdays=_by(this_year, lambda day: WEEKDAY_NAMES[day.weekday()], WEEKDAY_NAMES),
        months=_by(this_year, lambda day: formats.date_format(day, "YEAR_MONTH_FORMAT")),
        holidays=_around_holidays(this_year),
        grades=grades,
        groups=groups,
        schools=schools,
    )


def _kept(cells: QuerySet, *keys: str) -> dict[tuple, list[dict]]:
    """Kept standing cells as `_standing` reads them, per `keys`."""
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for cell in cells.values(*keys, *CELL_KEYS, "students", "days_enrolled", "days_absent"):
        grouped[tuple(cell.pop(key) for key in keys)].append(cell)
    return grouped


def _shown(standing: Standing, place: Place) -> Standing | None:
    """A group's figures, or None when too few of its students are counted to show them."""
    if place.group and standing.counted < MINIMUM_CELL:
        return None
    return standing


def grade_label(grade: int) -> str:
    """A grade as staff say it: Pre-K, Kindergarten, Grade 3."""
    if grade == -1:
        return gettext("Pre-K")
    if grade == 0:
        return gettext("Kindergarten")
    return gettext("Grade %(grade)s") % {"grade": grade}


def _daily(days: QuerySet, state: SummaryState, on: dt.date) -> tuple[dict, dict]:
    """Per date, (student-days enrolled, days absent): this year's to `on`, and all of
    last year's."""
    totals = (
        days.values("school_year", "date")
        .annotate(enrolled=Sum("enrolled"), absent=Sum("days_absent"))
        .order_by("date")
    )
    this_year: dict[dt.date, tuple[int, float]] = {}
    last_year: dict[dt.date, tuple[int, float]] = {}
    for row in totals:
        held = this_year if row["school_year"] == state.school_year_id else last_year
        if row["school_year"] == state.school_year_id and row["date"] > on:
            continue
        held[row["date"]] = (row["enrolled"], row["absent"])
    return this_year, last_year


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _weekly(series: dict[dt.date, tuple[int, float]]) -> dict[int, tuple[dt.date, float]]:
    """Per week of the year (0: the week of its first school day): Monday and rate."""
    weeks: dict[int, list] = {}
    first = _monday(min(series)) if series else None
    for day, (enrolled, absent) in sorted(series.items()):
        monday = _monday(day)
        week = weeks.setdefault((monday - first).days // 7, [monday, 0, 0.0])
        week[1] += enrolled
        week[2] += absent
    return {
        number: (monday, 1 - absent / enrolled if enrolled else None)
        for number, (monday, enrolled, absent) in weeks.items()
    }


def _weeks(series: tuple[dict, dict], state: SummaryState) -> list[Week]:
    """This year's weeks to the summaries' date beside last year's weeks of the same
    number (weeks from the year's first school day); last year's later weeks are kept,
    so the line behind runs on to the year's end. Weeks without school are left out."""
    now, before = _weekly(series[0]), _weekly(series[1])
    start = _monday(min(series[0])) if series[0] else None
    weeks = []
    for number in sorted(set(now) | set(before)):
        if number in now:
            monday = now[number][0]
        elif start is not None:
            monday = start + dt.timedelta(weeks=number)
        else:
            monday = before[number][0]
        weeks.append(
            Week(
                number=number + 1,
                monday=monday,
                attendance_rate=now[number][1] if number in now else None,
                last_year=before[number][1] if number in before else None,
            )
        )
    return weeks


def _by(series: dict, key, order: tuple[str, ...] = ()) -> list[Pattern]:
    sums: dict[str, list[float]] = {name: [0, 0.0] for name in order}
    for day, (enrolled, absent) in sorted(series.items()):
        held = sums.setdefault(key(day), [0, 0.0])
        held[0] += enrolled
        held[1] += absent
    return [
        Pattern(label=label, days_enrolled=enrolled, days_absent=round(absent, 3))
        for label, (enrolled, absent) in sums.items()
    ]


def _around_holidays(series: dict) -> list[Pattern]:
    """School days just before and just after a break of a weekday or more (a holiday, a
    vacation), against the other school days."""
    days = sorted(series)

    def kind(position: int) -> str:
        day = days[position]
        if position + 1 < len(days) and _breaks(day, days[position + 1]):
            return BEFORE_A_BREAK
        if position > 0 and _breaks(days[position - 1], day):
            return AFTER_A_BREAK
        return OTHER_DAYS

    labels = {day: kind(position) for position, day in enumerate(days)}
    order = (BEFORE_A_BREAK, AFTER_A_BREAK, OTHER_DAYS)
    return _by(series, labels.__getitem__, order)


def _breaks(day: dt.date, following: dt.date) -> bool:
    """Whether a weekday with no school lies between two school days."""
    gap = day + dt.timedelta(days=1)
    while gap < following:
        if gap.weekday() < 5:
            return True
        gap += dt.timedelta(days=1)
    return False


def _groups(
    rows: QuerySet, place: Place, standing: Standing, state: SummaryState, rules
) -> list[Row]:
    """Per student group: its figures and its chronic rate against the dashboard's; groups
    with fewer than MINIMUM_CELL students counted are suppressed."""
    rows_of_groups = (
        _group_row(
            kind,
            _standing(_cells(rows.filter(in_group(kind, state.as_of))).get((), []), rules),
            place,
            standing,
        )
        for kind in GROUPS
    )
    return [row for row in rows_of_groups if row is not None]


def _group_row(kind: str, group: Standing, place: Place, standing: Standing) -> Row | None:
    """A group's line: its figures (None: suppressed) and its gap against the page's;
    None for a group with no students here."""
    if group.students == 0:
        return None
    shown = _shown(group, Place(group=kind))
    gap = None
    if shown is not None and shown.chronic_rate is not None and standing.chronic_rate is not None:
        gap = shown.chronic_rate - standing.chronic_rate
    return Row(
        key=kind,
        label=GROUPS[kind],
        standing=shown,
        gap=gap,
        query=Place(school=place.school, grade=place.grade, group=kind).query(),
    )


def _stored_groups(
    state: SummaryState, place: Place, standing: Standing, rules: RuleProfile | None
) -> list[Row]:
    """The district's groups from the cells the refresh stored (`GroupCell`), as
    `_groups` adds them up from the summaries."""
    cells = GroupCell.objects.filter(
        school_year=state.school_year_id, as_of=state.as_of, school__isnull=True
    )
    by_group = _kept(cells, "group")
    rows = (
        _group_row(kind, _standing(by_group.get((kind,), []), rules), place, standing)
        for kind in GROUPS
    )
    return [row for row in rows if row is not None]


def _schools(
    user,
    by_school: dict[tuple, list[dict]],
    last_by_school: dict[tuple, list[dict]],
    place: Place,
    rules: RuleProfile | None,
) -> list[Row]:
    """Per school the user sees whole (the district's and a group's next level), by name."""
    scope = aggregate_scope(user)
    schools = School.objects.in_bulk([key[0] for key in by_school])
    listed = []
    for (pk,), cells in by_school.items():
        if not scope.sees_school(pk):
            continue
        listed.append(
            Row(
                key=str(pk),
                label=schools[pk].name,
                standing=_shown(_standing(cells, rules), place),
                last_year=_standing(last_by_school[(pk,)], rules)
                if (pk,) in last_by_school
                else None,
                query=Place(school=schools[pk], group=place.group).query(),
            )
        )
    return sorted(listed, key=lambda row: row.label)


def students_of(user, place: Place, *, state: SummaryState) -> list[StudentSummary]:
    """The visible students of a grade of a school, with their figures there, most absent
    first (a grade dashboard's next level down)."""
    rows = StudentSummary.objects.filter(
        school_year=state.school_year_id,
        school=place.school,
        grade=place.grade,
        student__in=visible_students(user).values("pk"),
    )
    if place.group:
        rows = rows.filter(in_group(place.group, state.as_of))
    return list(
        rows.select_related("student").order_by(
            F("absence_rate").desc(nulls_last=True), "student__last_name", "student__first_name"
        )
    )
