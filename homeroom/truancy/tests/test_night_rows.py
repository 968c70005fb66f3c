"""The rows a night writes: every column of every new step, and its evidence, as the
pack's rules say they are, checked against values written out here (the night inserts
plain rows, without a model instance a step: nothing else checks each column)."""

import datetime as dt

import pytest
from django.utils import timezone

from homeroom.attendance.models import AttendanceEvent
from homeroom.conftest import enroll
from homeroom.ingest.models import ImportRun
from homeroom.interventions.models import Case
from homeroom.roster.models import Student
from homeroom.truancy.evaluation import Absence
from homeroom.truancy.models import TruancyStep
from homeroom.truancy.selectors import source_of
from homeroom.truancy.tests.conftest import choose, night

pytestmark = pytest.mark.django_db

# A file name JSON must escape (quotes, a backslash, accents), to be frozen as it is.
ODD_FILE = 'asistencia "otoño" \\ día.csv'


class Cast:
    """Students made for one test, each with the events recorded and the step expected."""

    def __init__(self, cast):
        self.cast = cast
        self.run = ImportRun.objects.create(district=cast.district, source_format="homeroom-csv")
        self.expected: dict[int, dict | None] = {}

    def student(self, n: int, grade: int = 3) -> Student:
        pupil = Student.objects.create(
            district=self.cast.district,
            local_id=f"R{n}",
            state_id=f"TX{n:05}",
            first_name=f"Rosa{n}",
            last_name="Ruiz",
            grade=grade,
        )
        enroll(pupil, self.cast.lincoln, self.cast.this_year)
        return pupil

    def event(self, pupil, day, code="A", minutes=None, how="run"):
        """An event recorded by an import run (file and line), from a file without a run,
        or by hand; returns it with the `counted` entry its evidence should hold."""
        source = {
            "run": (
                self.run,
                "attendance.csv",
                7,
                f"import run {self.run.pk} (attendance.csv, line 7)",
            ),
            "odd": (self.run, ODD_FILE, None, f"import run {self.run.pk} ({ODD_FILE})"),
            "file": (None, "late.csv", 12, "late.csv, line 12"),
            "hand": (None, "", None, "entered by hand"),
        }[how]
        event = AttendanceEvent.objects.create(
            student=pupil,
            school=self.cast.lincoln,
            date=day,
            code=self.cast.codes[code],
            minutes_missed=minutes,
            source_run=source[0],
            source_file=source[1],
            source_line=source[2],
        )
        category = {"A": "unexcused", "E": "excused", "T": "tardy"}[code]
        return event, {
            "event_id": event.pk,
            "date": day.isoformat(),
            "code": code,
            "category": category,
            "full_day": code == "A",
            "minutes_missed": minutes,
            "source": source[3],
        }

    def expect(self, pupil, counted: list[dict], *, pack: str, step: dict, grade="3", case=None):
        """The step `pupil` should have after the night, with this evidence."""
        self.expected[pupil.pk] = step | {
            "student_id": pupil.pk,
            "school_id": self.cast.lincoln.pk,
            "school_year_id": self.cast.this_year.pk,
            "case_id": case,
            "pack": pack,
            "status": "eligible",
            "blocked_reason": "",
            "review_reason": "",
            "decline_reason": "",
            "decided_by_id": None,
            "decided_at": None,
            "sent_on": None,
            "version": 1,
            "counted_events": ",".join(f"{c['event_id']}:{c['code']}" for c in counted),
            "evidence": {
                "pack": pack,
                "as_of": self.cast.today.isoformat(),
                "student": {
                    "id": pupil.pk,
                    "name": f"{pupil.first_name} Ruiz",
                    "local_id": pupil.local_id,
                    "state_id": pupil.state_id,
                },
                "enrollment": {
                    "school": "Lincoln Elementary",
                    "school_id": self.cast.lincoln.pk,
                    "grade": grade,
                    "entry_date": self.cast.this_year.start_date.isoformat(),
                    "exit_date": None,
                },
                "counted": counted,
            },
        }

    def check(self):
        """Every step of the made students is the one expected, column by column; the ones
        expected to have none have none."""
        fields = [f.attname for f in TruancyStep._meta.concrete_fields if f.attname != "id"]
        rows = {
            row["student_id"]: row
            for row in TruancyStep.objects.filter(student_id__in=self.expected).values(*fields)
        }
        for student, expected in self.expected.items():
            if expected is None:
                assert student not in rows
                continue
            row = rows[student]
            created_at = row.pop("created_at")
            assert timezone.now() - created_at < dt.timedelta(minutes=10)
            assert row == expected


def test_a_nights_california_steps_hold_every_column_and_their_evidence(cast):
    """California's boundaries over 36 students: 2 vs 3 days, a 29 vs 31 minute tardy, an
    excused day and a tardy on an absent day not counted, sources of every kind."""
    choose(cast, "california")
    made = Cast(cast)
    start = cast.this_year.start_date
    days = [start + dt.timedelta(days=n) for n in range(0, 60, 3)]
    california = {
        "key": "not1",
        "position": 1,
        "title": "First truancy notice (NOT1)",
        "kind": "notice",
        "statute": "EC 48260, 48260.5",
    }
    hows = ["run", "odd", "file", "hand"]
    for n in range(36):
        pupil = made.student(n, grade=n % 6)
        how = hows[n % 4]
        pattern = n % 6
        counted = []
        if pattern == 0:  # two days: not yet
            for day in days[:2]:
                made.event(pupil, day, how=how)
            made.expected[pupil.pk] = None
            continue
        if pattern == 3:  # two days and a 29-minute tardy: not yet
            for day in days[:2]:
                made.event(pupil, day, how=how)
            made.event(pupil, days[2], code="T", minutes=29, how=how)
            made.expected[pupil.pk] = None
            continue
        if pattern == 1:  # three days, and one more: all four are the evidence
            counted = [made.event(pupil, day, how=how)[1] for day in days[n % 5 : n % 5 + 4]]
        elif pattern == 2:  # two days and a 31-minute tardy
            counted = [made.event(pupil, day, how=how)[1] for day in days[:2]]
            counted.append(made.event(pupil, days[2], code="T", minutes=31, how=how)[1])
        elif pattern == 4:  # a tardy on a day absent: the day counts once, as the absence
            made.event(pupil, days[1], code="T", minutes=45, how=how)
            counted = [made.event(pupil, day, how=how)[1] for day in days[:3]]
        else:  # an excused day among three unexcused
            made.event(pupil, days[1], code="E", how=how)
            counted = [made.event(pupil, days[d], how=how)[1] for d in (0, 2, 4)]
        case = None
        if n % 5 == 0:
            case = Case.objects.create(
                student=pupil,
                school=cast.lincoln,
                source=Case.Source.MANUAL,
                tier=2,
                opened_on=start,
                opened_by=cast.principal,
            ).pk
        third = dt.date.fromisoformat(counted[2]["date"])
        made.expect(
            pupil,
            counted,
            pack="california@1",
            grade="K" if n % 6 == 0 else str(n % 6),
            case=case,
            step=california | {"eligible_on": third, "due_on": third + dt.timedelta(days=10)},
        )
    counts = night(cast)
    assert (counts["eligible"], counts["blocked"]) == (24, 0)
    made.check()
    # and the next night finds the same rows: nothing to do
    assert night(cast)["evaluated"] == 0


def test_a_nights_texas_warnings_hold_the_four_weeks_evidence(cast):
    """Texas's 4-week window over 30 students: 1st, 15th and 29th day not within; the
    28th within; a day outside the window before three within is not evidence."""
    choose(cast, "texas")
    made = Cast(cast)
    first_day = cast.this_year.start_date + dt.timedelta(days=40)
    warning = {
        "key": "warning",
        "position": 1,
        "title": "Warning notice to the parent",
        "kind": "notice",
        "statute": "TEC 25.095(a)",
    }
    for n in range(30):
        pupil = made.student(n)
        how = ["run", "odd", "file", "hand", "run"][n % 5]
        first = first_day + dt.timedelta(days=n)
        if n % 3 == 0:  # the 1st, 15th and 29th day
            for gap in (0, 14, 28):
                made.event(pupil, first + dt.timedelta(days=gap), how=how)
            made.expected[pupil.pk] = None
            continue
        if n % 3 == 1:  # the 1st, 15th (a 5-minute tardy) and 28th day
            counted = [
                made.event(pupil, first, how=how)[1],
                made.event(pupil, first + dt.timedelta(days=14), "T", 5, how=how)[1],
                made.event(pupil, first + dt.timedelta(days=27), how=how)[1],
            ]
        else:  # a day five weeks before, then three within a week
            made.event(pupil, first - dt.timedelta(days=35), how=how)
            counted = [
                made.event(pupil, first + dt.timedelta(days=gap), how=how)[1] for gap in (0, 2, 6)
            ]
        last = dt.date.fromisoformat(counted[-1]["date"])
        made.expect(
            pupil,
            counted,
            pack="texas@1",
            step=warning | {"eligible_on": last, "due_on": last + dt.timedelta(days=10)},
        )
    counts = night(cast)
    assert (counts["eligible"], counts["blocked"]) == (20, 0)
    made.check()


@pytest.mark.parametrize(
    ("run", "file", "line", "words"),
    [
        (12, "attendance.csv", 4, "import run 12 (attendance.csv, line 4)"),
        (12, "attendance.csv", None, "import run 12 (attendance.csv)"),
        (12, "", 4, "import run 12 (line 4)"),
        (12, "", None, "import run 12"),
        (None, "attendance.csv", 4, "attendance.csv, line 4"),
        (None, "attendance.csv", None, "attendance.csv"),
        (None, "", 4, "line 4"),
        (None, "", None, "entered by hand"),
    ],
)
def test_an_absences_source_in_words(run, file, line, words):
    absence = Absence(1, 2, dt.date(2026, 9, 1), "A", "unexcused", None, 3, run, file, line)
    assert source_of(absence) == words
