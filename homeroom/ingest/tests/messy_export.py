"""A small district's messy SIS export, as three successive nightly exports (issue 19).

The world is written out below: three schools, a few dozen students, the 2025-2026 school
year up to mid-February. `write_messy_export(directory, night)` writes what the SIS
exports that night, in the `homeroom-generator` CSV format (homeroom/demo/files.py), with
the mess real exports carry:

- withdraw and return: 1001 leaves Lincoln on 3 October and comes back on 3 November
  (an absence recorded in the gap is outside any enrollment);
- transfers inside the district: 1002 moves from Lincoln to Maple in November, 1003 from
  Maple to Lincoln in January (night 1 does not know it yet: her Maple enrollment is open);
- a late school: on night 2 Maple's attendance stops on 6 February, a week before the
  others'; Maple's export catches up on night 3, the same evening;
- duplicate rows: 1008's roster and enrollment lines twice, two of her absences twice;
- snow days added after the fact: school was closed on 13 and 14 January; night 1's
  calendar still says instructional, night 2's says `other` (one absence was recorded on
  the 13th anyway);
- codes changed retroactively: 1004's three unexcused days in December are excused from
  night 2 on (a parent's note arrived);
- students with no enrollment: 9001 is rostered but enrolled nowhere; 9002 has attendance
  but is in no roster file;
- year boundaries that disagree: the school year runs from 18 August, but Central's
  calendar starts on 13 August and its enrollments with it, 1006 registered at Lincoln on
  11 August, and Lincoln's calendar has two make-up days after the year's last day. On
  night 1 the SIS exports 1005's absence on 14 August, a day in no school year; the clerk
  removes it before night 2.

The tests read the world (`calendar`, `enrollments`, `events`, `exported_through`) to
compute the figures day by day; the files are only what the SIS shows of it on a night.

    python -m homeroom.ingest.tests.messy_export DIRECTORY [NIGHT]

writes one night's files (default: every night, each in DIRECTORY/night-N) to look at.
"""

import csv
import datetime as dt
import random
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from homeroom.demo.files import COLUMNS

D = dt.date
NIGHTS = {1: D(2026, 1, 16), 2: D(2026, 2, 13), 3: D(2026, 2, 13)}
"""Each night's date: the SIS exports the year to date in the evening."""

YEAR = ("2025-2026", D(2025, 8, 18), D(2026, 6, 5))
LAST_YEAR = ("2024-2025", D(2024, 8, 19), D(2025, 6, 6))
LINCOLN, MAPLE, CENTRAL = "101", "102", "201"
SCHOOLS = (
    (LINCOLN, "Lincoln Elementary", "elementary", "K", "5"),
    (MAPLE, "Maple Elementary", "elementary", "K", "5"),
    (CENTRAL, "Central Middle", "middle", "6", "8"),
)
CODES = {  # code: (description, category, share of a day it counts as absent)
    "A": ("Unexcused absence", "unexcused", 1.0),
    "E": ("Excused absence", "excused", 1.0),
    "H": ("Half day, excused", "partial", 0.5),
    "T": ("Tardy", "tardy", 0.0),
}
SNOW_DAYS = (D(2026, 1, 13), D(2026, 1, 14))
HOLIDAYS = {
    D(2025, 9, 1),
    D(2025, 10, 13),
    *(D(2025, 11, day) for day in (26, 27, 28)),
    *(D(2025, 12, day) for day in range(22, 32)),
    D(2026, 1, 1),
    D(2026, 1, 2),
    D(2026, 1, 19),
    D(2026, 2, 16),
    *(D(2026, 3, 30) + dt.timedelta(days=n) for n in range(5)),
    D(2026, 5, 25),
}
STAFF_DAYS = {MAPLE: {D(2025, 10, 10)}}
CALENDAR_SPAN = {  # the first and last dates each school's calendar lists
    LINCOLN: (D(2025, 8, 18), D(2026, 6, 9)),  # make-up days after the year's last day
    MAPLE: (D(2025, 8, 18), D(2026, 6, 5)),
    CENTRAL: (D(2025, 8, 13), D(2026, 6, 5)),  # starts before the district's year
}
MAKEUP_DAYS = {LINCOLN: {D(2026, 6, 8), D(2026, 6, 9)}}


@dataclass(frozen=True)
class Student:
    """A student of the roster (or, `rostered` False, known only from attendance)."""

    local_id: str
    first_name: str
    last_name: str
    grade: str
    rostered: bool = True


@dataclass(frozen=True)
class Enrollment:
    """One enrollment span at a school; `exit_date` None while it is open."""

    student: str
    school: str
    grade: str
    entry_date: dt.date
    exit_date: dt.date | None = None
    exit_reason: str = ""


@dataclass(frozen=True)
class Event:
    """One attendance event as it really was (`code` as the SIS holds it in the end)."""

    student: str
    school: str
    date: dt.date
    code: str


SPECIAL = (
    Student("1001", "Wanda", "Ward", "3"),
    Student("1002", "Theo", "Tran", "4"),
    Student("1003", "Mia", "Moreno", "2"),
    Student("1004", "Rex", "Reyes", "7"),
    Student("1005", "Eddie", "Eaton", "6"),
    Student("1006", "Rae", "Ruiz", "K"),
    Student("1007", "Sam", "Soto", "1"),
    Student("1008", "Dora", "Diaz", "3"),
    Student("9001", "Nora", "Nolan", "2"),
    Student("9002", "Ned", "Nash", "4", rostered=False),
)
FIRST = ("Ana", "Ben", "Cal", "Dee", "Eva", "Finn", "Gia", "Hugo")
LAST = ("Park", "Lee", "Shah", "Cruz")
# Eight ordinary students per school, each absent at a different rate, so the figures
# spread over every band (satisfactory to severe).
RATES = (0.0, 0.02, 0.05, 0.08, 0.1, 0.14, 0.2, 0.3)
ORDINARY = tuple(
    (
        Student(f"{school}{n:02}", FIRST[n], LAST[i], grade),
        school,
        RATES[n],
    )
    for i, (school, grade) in enumerate(((LINCOLN, "2"), (MAPLE, "4"), (CENTRAL, "8")))
    for n in range(8)
)
STUDENTS = SPECIAL + tuple(student for student, _, _ in ORDINARY)

ENROLLMENTS = (
    Enrollment("1001", LINCOLN, "3", D(2025, 8, 18), D(2025, 10, 3), "withdrawn"),
    Enrollment("1001", LINCOLN, "3", D(2025, 11, 3)),
    Enrollment("1002", LINCOLN, "4", D(2025, 8, 18), D(2025, 11, 14), "transfer"),
    Enrollment("1002", MAPLE, "4", D(2025, 11, 17)),
    Enrollment("1003", MAPLE, "2", D(2025, 8, 18), D(2026, 1, 23), "transfer"),
    Enrollment("1003", LINCOLN, "2", D(2026, 1, 26)),
    Enrollment("1004", CENTRAL, "7", D(2025, 8, 13)),
    Enrollment("1005", CENTRAL, "6", D(2025, 8, 13)),
    Enrollment("1006", LINCOLN, "K", D(2025, 8, 11)),  # registered before the year
    Enrollment("1007", LINCOLN, "1", D(2025, 8, 18)),
    Enrollment("1008", MAPLE, "3", D(2025, 8, 18)),
    *(
        Enrollment(s.local_id, school, s.grade, CALENDAR_SPAN[school][0])
        for s, school, _ in ORDINARY
    ),
)

RETRO_EXCUSED = tuple(D(2025, 12, day) for day in (1, 2, 3))
"""1004's days exported as unexcused (A) on night 1 and excused (E) from night 2 on."""
OUTSIDE_YEAR = Event("1005", CENTRAL, D(2025, 8, 14), "A")
"""On night 1 only: an absence on a day of Central's calendar before the school year."""
DUPLICATED = (D(2025, 9, 9), D(2025, 10, 21))
"""1008's absences that every night's file holds twice."""

SPECIAL_EVENTS = (
    Event("1001", LINCOLN, D(2025, 9, 10), "A"),
    Event("1001", LINCOLN, D(2025, 10, 2), "A"),
    Event("1001", LINCOLN, D(2025, 10, 20), "A"),  # withdrawn: outside any enrollment
    Event("1001", LINCOLN, D(2025, 11, 20), "E"),
    Event("1001", LINCOLN, D(2026, 2, 12), "H"),
    Event("1002", LINCOLN, D(2025, 9, 3), "A"),
    Event("1002", LINCOLN, D(2025, 11, 14), "E"),  # the last day at Lincoln
    Event("1002", MAPLE, D(2025, 11, 17), "A"),  # the first day at Maple
    Event("1002", MAPLE, D(2026, 2, 10), "A"),  # after Maple's night-2 export ends
    Event("1003", MAPLE, D(2026, 1, 20), "A"),
    Event("1003", MAPLE, D(2026, 1, 23), "E"),
    Event("1003", LINCOLN, D(2026, 2, 3), "A"),
    *(Event("1004", CENTRAL, day, "E") for day in RETRO_EXCUSED),
    Event("1004", CENTRAL, D(2025, 10, 6), "A"),
    Event("1004", CENTRAL, D(2026, 1, 16), "A"),
    OUTSIDE_YEAR,
    Event("1005", CENTRAL, D(2025, 8, 18), "A"),  # the year's first day
    Event("1006", LINCOLN, D(2025, 8, 18), "E"),
    Event("1006", LINCOLN, D(2025, 8, 19), "H"),
    Event("1007", LINCOLN, SNOW_DAYS[0], "A"),  # recorded before the closure was called
    Event("1007", LINCOLN, D(2025, 12, 10), "A"),
    *(Event("1008", MAPLE, day, "A") for day in DUPLICATED),
    Event("9001", LINCOLN, D(2025, 10, 1), "A"),
    Event("9001", LINCOLN, D(2026, 1, 5), "E"),
    Event("9002", MAPLE, D(2025, 12, 4), "A"),
)


def exported_through(school: str, night: int) -> dt.date:
    """The last day whose attendance the school's export holds on the night."""
    if night == 2 and school == MAPLE:
        return D(2026, 2, 6)  # Maple's export is a week late
    return NIGHTS[night]


def calendar(school: str, night: int) -> dict[dt.date, str]:
    """The school's calendar as the night's export lists it: date -> kind."""
    first, last = CALENDAR_SPAN[school]
    days, day = {}, first
    while day <= last:
        if day.weekday() >= 5:
            kind = "weekend"
        elif day in HOLIDAYS:
            kind = "holiday"
        elif day in STAFF_DAYS.get(school, ()):
            kind = "staff"
        elif day in MAKEUP_DAYS.get(school, ()):
            kind = "makeup"
        elif day in SNOW_DAYS and night >= 2:  # the closure reached the calendar late
            kind = "other"
        else:
            kind = "instructional"
        days[day] = kind
        day += dt.timedelta(days=1)
    return days


def enrollments(night: int) -> list[Enrollment]:
    """The enrollments the night's export holds: begun by then, an exit only once it came."""
    known = []
    for e in ENROLLMENTS:
        if e.entry_date > NIGHTS[night]:
            continue
        if e.exit_date and e.exit_date > NIGHTS[night]:
            e = replace(e, exit_date=None, exit_reason="")
        known.append(e)
    return known


def _ordinary_events() -> list[Event]:
    """Seeded absences and tardies of the ordinary students on their school days."""
    rng = random.Random(19)
    events = []
    final = NIGHTS[max(NIGHTS)]
    for student, school, rate in ORDINARY:
        for day, kind in calendar(school, max(NIGHTS)).items():
            if kind != "instructional" or not YEAR[1] <= day <= final:
                continue
            draw = rng.random()
            if draw < rate:
                events.append(Event(student.local_id, school, day, rng.choice("AAEH")))
            elif draw > 0.97:
                events.append(Event(student.local_id, school, day, "T"))
    return events


def _last_day_tardies() -> list[Event]:
    """A tardy at each school on the last day of each night's export: an exceptions-only
    file shows how far it runs only by its last row (docs/import.md, "Days recorded")."""
    days = {(school, exported_through(school, n)) for n in NIGHTS for school, *_ in SCHOOLS}
    return [Event(f"{school}00", school, day, "T") for school, day in sorted(days)]


def events() -> list[Event]:
    """Every event of the world up to the last night, one per student, school and day."""
    by_day = {}
    for e in [*_ordinary_events(), *_last_day_tardies(), *SPECIAL_EVENTS]:
        by_day[e.student, e.school, e.date] = e  # the special ones override the seeded
    return sorted(by_day.values(), key=lambda e: (e.date, e.school, e.student))


def exported_events(night: int) -> list[Event]:
    """The events the night's attendance file holds, codes as the SIS had them then."""
    held = []
    for e in events():
        if e.date > exported_through(e.school, night):
            continue
        if e == OUTSIDE_YEAR and night > 1:  # the clerk removed it after night 1's report
            continue
        if night == 1 and e.student == "1004" and e.date in RETRO_EXCUSED:
            e = replace(e, code="A")
        held.append(e)
    return held


def _rows(night: int) -> dict[str, list[tuple]]:
    """The night's files: name -> rows, in the columns of homeroom/demo/files.py."""
    year_name = YEAR[0]
    students = [
        (s.local_id, "", s.first_name, "", s.last_name, "", s.grade, "", "", "")
        for s in STUDENTS
        if s.rostered
    ]
    students.append(next(row for row in students if row[0] == "1008"))
    enrolled = [
        (e.student, e.school, year_name, e.grade, e.entry_date, e.exit_date or "", e.exit_reason)
        for e in enrollments(night)
    ]
    enrolled.append(next(row for row in enrolled if row[0] == "1008"))
    attendance = [(e.student, e.school, e.date, e.code, "", "", "") for e in exported_events(night)]
    attendance += [row for row in attendance if row[0] == "1008" and row[2] in DUPLICATED]
    return {
        "schools": [
            (local, "", name, level, low, high) for local, name, level, low, high in SCHOOLS
        ],
        "school_years": [LAST_YEAR, YEAR],
        "calendar_dates": [
            (school, year_name, day, kind)
            for school, *_ in SCHOOLS
            for day, kind in calendar(school, night).items()
        ],
        "students": students,
        "enrollments": enrolled,
        "attendance_codes": [
            (code, description, category, f"{share:g}")
            for code, (description, category, share) in CODES.items()
        ],
        "attendance_events": attendance,
    }


def write_messy_export(directory: Path, night: int) -> list[Path]:
    """Write the night's export (1, 2 or 3) as CSV files in `directory`; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, rows in _rows(night).items():
        path = directory / f"{stem}.csv"
        with path.open("w", encoding="utf-8", newline="") as file:
            writer = csv.writer(file, lineterminator="\n")
            writer.writerow(COLUMNS[stem])
            writer.writerows(rows)
        paths.append(path)
    return paths


if __name__ == "__main__":
    target = Path(sys.argv[1])
    for night in [int(sys.argv[2])] if len(sys.argv) > 2 else NIGHTS:
        for path in write_messy_export(target / f"night-{night}", night):
            print(path)
