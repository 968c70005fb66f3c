"""The coding audit: patterns in a district's attendance rows that suggest data problems or
gaming, each with the rows (or days) behind it.

Everything is counted from absence rows grouped by school and day, the calendars' dates
and the enrollment spans: the cost grows with events and enrollments, never student-days.
Five patterns, each a function returning `Finding`s (docs/coding-audit.md):

- `sharp_drops`: a school's weekly absence rate falls sharply after a week, against its
  own earlier weeks and against the rest of the district;
- `days_without_rows`: school days on the calendar with no attendance row at all, at a
  school that records several absences on an ordinary day;
- `periods_without_daily`: student-days with period absences and no daily absence;
- `unusual_excused_share`: a school's share of absences coded excused far from the rest
  of the district's;
- `tardies_as_present`: a code whose description says tardy or late counted as present,
  and a school recording no tardies where the rest of the district's rate predicts many.
"""

import bisect
import datetime as dt
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q

from homeroom.attendance.models import AttendanceCode, AttendanceEvent, Category
from homeroom.core.models import CalendarDate, District, School, SchoolYear
from homeroom.core.selectors import counted_calendars
from homeroom.metrics.display import count as show_count
from homeroom.metrics.display import date as show_date
from homeroom.metrics.display import percent
from homeroom.roster.models import Enrollment

# What counts as an absence row here: a day (or part of one) missed, whatever the reason.
ABSENT = (Category.EXCUSED, Category.UNEXCUSED, Category.OUT_OF_SCHOOL_SUSPENSION, Category.PARTIAL)
MISSED_PERIOD = (Category.EXCUSED, Category.UNEXCUSED, Category.OUT_OF_SCHOOL_SUSPENSION)

# Thresholds, chosen so an ordinary school is never flagged (docs/coding-audit.md).
DROP = 0.5  # the rate after the change is at most half of the rate before
MIN_WEEKS_BEFORE = 4
MIN_WEEKS_AFTER = 3
MIN_ABSENCES_BEFORE = 20  # too few absences before: any "drop" is noise
MIN_DAILY_ABSENCES = 5.0  # a day with no row is only odd where a day usually has 5+
EXCUSED_MIN_ABSENCES = 30
EXCUSED_MIN_GAP = 0.15  # 15 percentage points from the rest of the district
EXCUSED_MIN_Z = 3.0
MIN_EXPECTED_TARDIES = 10.0
TARDY_WORDS = re.compile(r"\b(tardy|tardies|late|tarde|retard\w*|retraso)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Rows:
    """Which rows a finding rests on: a school's attendance rows of one kind between two
    dates (`kind` as `rows_of` reads it), or its calendar days without rows."""

    school_id: int
    kind: str  # absent, excused, unexcused, period, late, code, days
    start: dt.date
    end: dt.date
    code_id: int | None = None

    def as_query(self) -> dict[str, str]:
        """The rows page's query string."""
        query = {
            "school": str(self.school_id),
            "kind": self.kind,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
        }
        if self.code_id is not None:
            query["code"] = str(self.code_id)
        return query


@dataclass(frozen=True)
class Finding:
    """One pattern found at one school: what it is, in plain words, and the rows behind it."""

    pattern: str
    school: str
    summary: str
    rows: Rows
    count: int
    details: list[str] = field(default_factory=list)


PATTERNS = {
    "sharp_drop": "Absences dropped sharply",
    "days_without_rows": "School days with no attendance recorded",
    "periods_without_daily": "Period absences without a daily absence",
    "excused_share": "Unusual share of excused absences",
    "tardies_as_present": "Tardies counted as present",
}


@dataclass
class _School:
    school: School
    last: dt.date
    days: list[dt.date] = field(default_factory=list)
    absent: dict[dt.date, int] = field(default_factory=dict)
    rows: dict[dt.date, int] = field(default_factory=dict)
    excused: int = 0
    unexcused: int = 0
    tardies: int = 0
    entries: list[dt.date] = field(default_factory=list)
    exits: list[dt.date] = field(default_factory=list)

    def enrolled(self, start: dt.date, end: dt.date) -> int:
        """Students enrolled on some day from `start` to `end` (sorted spans, bisect)."""
        entered = bisect.bisect_right(self.entries, end)
        left = bisect.bisect_left(self.exits, start)  # exited before the week began
        return entered - left

    def member_days(self) -> int:
        """Students enrolled each week times its school days, summed over the year so far."""
        return sum(self.enrolled(w[0], w[-1]) * len(w) for w in _weeks(self.days).values())

    @property
    def absences(self) -> int:
        return sum(self.absent.values())


def _weeks(days: list[dt.date]) -> dict[dt.date, list[dt.date]]:
    """School days grouped by the Monday of their week, in order."""
    weeks: dict[dt.date, list[dt.date]] = {}
    for day in days:
        weeks.setdefault(day - dt.timedelta(days=day.weekday()), []).append(day)
    return weeks


@dataclass
class Audit:
    """What every pattern reads, gathered once: per school its days, counts and spans."""

    district: District
    year: SchoolYear
    as_of: dt.date
    schools: dict[int, _School]


def gather(district: District, year: SchoolYear, as_of: dt.date) -> Audit:
    """Per school: its counted calendar days up to `as_of` (or its last recorded day), its
    rows and absence rows per day, its excused/unexcused/tardy totals, its spans. Four
    grouped queries."""
    end = min(as_of, year.end_date)
    schools = {
        s.pk: _School(school=s, last=min(end, s.recorded_through or end))
        for s in School.objects.filter(district=district).order_by("name")
    }
    for school_id, day in (
        CalendarDate.objects.filter(
            calendar__in=counted_calendars().filter(school_year=year),
            kind__in=CalendarDate.COUNTED_KINDS,
            date__gte=year.start_date,
            date__lte=end,
        )
        .values_list("calendar__school_id", "date")
        .order_by("date")
    ):
        if school_id in schools and day <= schools[school_id].last:
            schools[school_id].days.append(day)
    daily = Q(period="", section__isnull=True)
    by_day = (
        AttendanceEvent.objects.filter(
            school__district=district, date__gte=year.start_date, date__lte=end
        )
        .values("school_id", "date")
        .annotate(
            rows=Count("pk"),
            absent=Count("pk", filter=daily & Q(code__category__in=ABSENT)),
            excused=Count("pk", filter=daily & Q(code__category=Category.EXCUSED)),
            unexcused=Count("pk", filter=daily & Q(code__category=Category.UNEXCUSED)),
            tardies=Count("pk", filter=Q(code__category=Category.TARDY)),
        )
        .order_by()
    )
    for row in by_day:
        school = schools.get(row["school_id"])
        if school is None or row["date"] > school.last:
            continue
        school.rows[row["date"]] = row["rows"]
        school.absent[row["date"]] = row["absent"]
        school.excused += row["excused"]
        school.unexcused += row["unexcused"]
        school.tardies += row["tardies"]
    far = dt.date.max
    for school_id, entry, leaving in Enrollment.objects.filter(school_year=year).values_list(
        "school_id", "entry_date", "exit_date"
    ):
        if school_id in schools:
            schools[school_id].entries.append(entry)
            schools[school_id].exits.append(leaving or far)
    for school in schools.values():
        school.entries.sort()
        school.exits.sort()
    return Audit(district=district, year=year, as_of=end, schools=schools)


# (a) -------------------------------------------------------------------------------------


def _weekly(school: _School) -> list[tuple[dt.date, list[dt.date], int, int]]:
    """Per week: its Monday, its school days, absence rows, enrolled students x days."""
    return [
        (
            monday,
            days,
            sum(school.absent.get(d, 0) for d in days),
            school.enrolled(days[0], days[-1]) * len(days),
        )
        for monday, days in _weeks(school.days).items()
    ]


def _rate(absences: int, member_days: int) -> float | None:
    return absences / member_days if member_days else None


def sharp_drops(audit: Audit) -> list[Finding]:
    """Schools whose absence rate after some week is at most half its rate before, while
    the rest of the district's did not fall as much (the school's rate relative to the rest
    of the district also halves). The week that splits them most is the change."""
    weekly = {pk: _weekly(s) for pk, s in audit.schools.items()}
    totals: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])
    for weeks in weekly.values():
        for monday, _, absences, member in weeks:
            totals[monday][0] += absences
            totals[monday][1] += member
    findings = []
    for pk, weeks in weekly.items():
        best = None
        for k in range(MIN_WEEKS_BEFORE, len(weeks) - MIN_WEEKS_AFTER + 1):
            before, after = weeks[:k], weeks[k:]
            school_before = (sum(w[2] for w in before), sum(w[3] for w in before))
            school_after = (sum(w[2] for w in after), sum(w[3] for w in after))
            rest_before = [sum(totals[w[0]][i] for w in before) - school_before[i] for i in (0, 1)]
            rest_after = [sum(totals[w[0]][i] for w in after) - school_after[i] for i in (0, 1)]
            rates = [
                _rate(*pair) for pair in (school_before, school_after, rest_before, rest_after)
            ]
            if school_before[0] < MIN_ABSENCES_BEFORE or None in rates or not rates[0]:
                continue
            own = rates[1] / rates[0]
            if not rates[2] or not rates[3]:
                continue
            relative = (rates[1] / rates[3]) / (rates[0] / rates[2])
            if own <= 1 - DROP and relative <= 1 - DROP and (best is None or own < best[0]):
                best = (own, k, rates, len(before), len(after))
        if best is None:
            continue
        _, k, rates, n_before, n_after = best
        change = weeks[k][1][0]
        school = audit.schools[pk]
        findings.append(
            Finding(
                pattern="sharp_drop",
                school=school.school.name,
                summary=(
                    f"Absences fell from {percent(rates[0])} of student-days in the "
                    f"{n_before} weeks before {show_date(change)} to {percent(rates[1])} in the "
                    f"{n_after} weeks since; the rest of the district went from "
                    f"{percent(rates[2])} to {percent(rates[3])}. Check whether absences "
                    "stopped being recorded, or were recoded, from that week."
                ),
                rows=Rows(
                    school_id=pk,
                    kind="absent",
                    start=change - dt.timedelta(days=14),
                    end=min(change + dt.timedelta(days=13), school.last),
                ),
                count=sum(w[2] for w in weeks[k:]),
                details=[
                    f"Week of {show_date(monday)}: {show_count(absences)} absences, "
                    f"{percent(_rate(absences, member))}"
                    for monday, _, absences, member in weeks
                ],
            )
        )
    return findings


# (b) -------------------------------------------------------------------------------------


def days_without_rows(audit: Audit) -> list[Finding]:
    """School days with no attendance row at all, at schools averaging 5+ absences a day."""
    findings = []
    for pk, school in audit.schools.items():
        if not school.days:
            continue
        average = school.absences / len(school.days)
        empty = [day for day in school.days if not school.rows.get(day)]
        if average < MIN_DAILY_ABSENCES or not empty:
            continue
        shown = ", ".join(show_date(day) for day in empty[:10])
        more = f" and {len(empty) - 10} more" if len(empty) > 10 else ""
        findings.append(
            Finding(
                pattern="days_without_rows",
                school=school.school.name,
                summary=(
                    f"{show_count(len(empty))} school day{'s' if len(empty) != 1 else ''} with "
                    f"no attendance row at all ({shown}{more}), though the school records "
                    f"{average:.1f} absences on an average day. Was attendance taken and sent?"
                ),
                rows=Rows(school_id=pk, kind="days", start=empty[0], end=empty[-1]),
                count=len(empty),
            )
        )
    return findings


# (c) -------------------------------------------------------------------------------------


def period_rows_without_daily(district: District, start: dt.date, end: dt.date):
    """Period absence rows (a period or section named) of student-days with no daily
    absence row: the rows of pattern (c), for any range."""
    daily = AttendanceEvent.objects.filter(
        student=OuterRef("student"),
        date=OuterRef("date"),
        period="",
        section__isnull=True,
        code__category__in=ABSENT,
    )
    return AttendanceEvent.objects.filter(
        ~Q(period="") | Q(section__isnull=False),
        school__district=district,
        date__gte=start,
        date__lte=end,
        code__category__in=MISSED_PERIOD,
    ).filter(~Exists(daily))


def periods_without_daily(audit: Audit) -> list[Finding]:
    """Student-days with period absences but no daily absence: the day's roll-up is missing,
    or the daily record says present while periods say absent."""
    rows = period_rows_without_daily(audit.district, audit.year.start_date, audit.as_of)
    per_school: dict[int, set] = defaultdict(set)
    spans: dict[int, list[dt.date]] = {}
    for school_id, student_id, day in rows.values_list("school_id", "student_id", "date"):
        per_school[school_id].add((student_id, day))
        first, last = spans.get(school_id, [day, day])
        spans[school_id] = [min(first, day), max(last, day)]
    findings = []
    for pk, days in per_school.items():
        if pk not in audit.schools:
            continue
        findings.append(
            Finding(
                pattern="periods_without_daily",
                school=audit.schools[pk].school.name,
                summary=(
                    f"{show_count(len(days))} student-day{'s' if len(days) != 1 else ''} with "
                    "period absences but no daily absence. The daily record and the class "
                    "periods disagree: check the period roll-up and the daily entries."
                ),
                rows=Rows(school_id=pk, kind="period", start=spans[pk][0], end=spans[pk][1]),
                count=len(days),
            )
        )
    return findings


# (d) -------------------------------------------------------------------------------------


def unusual_excused_share(audit: Audit) -> list[Finding]:
    """Schools whose share of daily absences coded excused is 15+ points from the rest of
    the district's, and far enough that chance does not explain it (|z| >= 3, two
    proportions)."""
    total_excused = sum(s.excused for s in audit.schools.values())
    total = sum(s.excused + s.unexcused for s in audit.schools.values())
    findings = []
    for pk, school in audit.schools.items():
        n = school.excused + school.unexcused
        rest_n = total - n
        if n < EXCUSED_MIN_ABSENCES or rest_n < EXCUSED_MIN_ABSENCES:
            continue
        share = school.excused / n
        rest = (total_excused - school.excused) / rest_n
        pooled = total_excused / total
        spread = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / rest_n))
        z = (share - rest) / spread if spread else 0.0
        if abs(share - rest) < EXCUSED_MIN_GAP or abs(z) < EXCUSED_MIN_Z:
            continue
        kind = "excused" if share > rest else "unexcused"
        findings.append(
            Finding(
                pattern="excused_share",
                school=school.school.name,
                summary=(
                    f"{percent(share)} of its {show_count(n)} absences are coded excused; "
                    f"{percent(rest)} in the rest of the district. Check how notes from "
                    "families are coded."
                ),
                rows=Rows(school_id=pk, kind=kind, start=audit.year.start_date, end=audit.as_of),
                count=school.excused if kind == "excused" else school.unexcused,
            )
        )
    return findings


# (e) -------------------------------------------------------------------------------------


def tardies_as_present(audit: Audit) -> list[Finding]:
    """Codes that say tardy or late but count as present, per school using them; and schools
    with no tardy at all where the rest of the district's rate predicts 10 or more."""
    findings = []
    codes = [
        code
        for code in AttendanceCode.objects.filter(
            district=audit.district, category=Category.PRESENT
        )
        if TARDY_WORDS.search(f"{code.code} {code.description}")
    ]
    if codes:
        used = (
            AttendanceEvent.objects.filter(
                code__in=codes, date__gte=audit.year.start_date, date__lte=audit.as_of
            )
            .values_list("school_id", "code_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
        by_code = {code.pk: code for code in codes}
        for school_id, code_id, n in used:
            if school_id not in audit.schools:
                continue
            code = by_code[code_id]
            findings.append(
                Finding(
                    pattern="tardies_as_present",
                    school=audit.schools[school_id].school.name,
                    summary=(
                        f"Code {code.code} (“{code.description}”) reads as a late arrival but "
                        f"counts as present; {show_count(n)} "
                        f"{'row uses' if n == 1 else 'rows use'} it. "
                        "Map it to the tardy category if it is one."
                    ),
                    rows=Rows(
                        school_id=school_id,
                        kind="code",
                        start=audit.year.start_date,
                        end=audit.as_of,
                        code_id=code_id,
                    ),
                    count=n,
                )
            )
    member = {pk: s.member_days() for pk, s in audit.schools.items()}
    all_tardies = sum(s.tardies for s in audit.schools.values())
    all_member = sum(member.values())
    for pk, school in audit.schools.items():
        rest_member = all_member - member[pk]
        if school.tardies or not rest_member:
            continue
        expected = (all_tardies - school.tardies) / rest_member * member[pk]
        if expected < MIN_EXPECTED_TARDIES:
            continue
        findings.append(
            Finding(
                pattern="tardies_as_present",
                school=school.school.name,
                summary=(
                    f"No tardy recorded this year, where the rest of the district's rate "
                    f"predicts about {expected:.0f}. Late arrivals may be coded present; "
                    "the rows linked are its rows with minutes missed."
                ),
                rows=Rows(school_id=pk, kind="late", start=audit.year.start_date, end=audit.as_of),
                count=0,
            )
        )
    return findings


def coding_audit(audit: Audit) -> list[Finding]:
    """Every pattern's findings, by pattern then school."""
    found = (
        sharp_drops(audit)
        + days_without_rows(audit)
        + periods_without_daily(audit)
        + unusual_excused_share(audit)
        + tardies_as_present(audit)
    )
    order = list(PATTERNS)
    return sorted(found, key=lambda f: (order.index(f.pattern), f.school))
