"""A hand-built district where each coding-audit pattern is planted at one school, and two
schools are clean. Dates are fixed (the 2024-2025 year, audited as of Dec 13, 2024), so
every expected figure below is worked out by hand from these rules:

- every school: 40 students enrolled all year; weekdays are school days except the
  Thanksgiving holidays (Nov 28-29); 6 daily absences a school day (3 excused, 3
  unexcused) and 1 tardy, on rotating students;
- Birch: from Monday Oct 28 on, 1 unexcused absence a day instead of 6 (the drop);
- Cedar: nothing at all recorded on Sep 10, Oct 15 and Nov 5 (days without rows);
- Dogwood: its 6 daily absences are all excused (the excused share);
- Elm: no tardy; instead one row a day of code L, "Late arrival", counted as present,
  20 minutes missed (tardies as present);
- Fir: 4 student-days with a period absence (period 3, code A) and no daily absence, and
  2 with a period absence on a day the student also has a daily absence (not findings).
"""

import datetime as dt

from homeroom.attendance.models import AttendanceCode, AttendanceEvent, Category
from homeroom.conftest import make_calendar
from homeroom.core.models import District, School, SchoolYear
from homeroom.roster.models import Enrollment, Student

START, END = dt.date(2024, 8, 19), dt.date(2025, 6, 6)
AS_OF = dt.date(2024, 12, 13)
HOLIDAYS = {dt.date(2024, 11, 28), dt.date(2024, 11, 29)}
DROP_FROM = dt.date(2024, 10, 28)
GAPS = [dt.date(2024, 9, 10), dt.date(2024, 10, 15), dt.date(2024, 11, 5)]
SCHOOLS = ["Maple", "Oak", "Birch", "Cedar", "Dogwood", "Elm", "Fir"]
STUDENTS = 40
PERIOD_ONLY_DAYS = [
    dt.date(2024, 9, 3),
    dt.date(2024, 9, 4),
    dt.date(2024, 10, 1),
    dt.date(2024, 12, 2),
]
PERIOD_AND_DAILY_DAYS = [dt.date(2024, 9, 5), dt.date(2024, 11, 12)]


def school_days() -> list[dt.date]:
    """The world's school days up to the audit's date."""
    days, day = [], START
    while day <= AS_OF:
        if day.weekday() < 5 and day not in HOLIDAYS:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def build() -> District:
    """Write the world (see the module's docstring)."""
    district = District.objects.create(name="Audit Unified", timezone="America/Chicago")
    year = SchoolYear.objects.create(
        district=district, name="2024-2025", start_date=START, end_date=END
    )
    codes = {
        code: AttendanceCode.objects.create(
            district=district, code=code, description=words, category=category, day_fraction=f
        )
        for code, words, category, f in (
            ("A", "Unexcused", Category.UNEXCUSED, 1),
            ("E", "Excused", Category.EXCUSED, 1),
            ("T", "Tardy", Category.TARDY, 0),
            ("L", "Late arrival", Category.PRESENT, 0),
        )
    }
    events = []
    for number, name in enumerate(SCHOOLS):
        school = School.objects.create(
            district=district, local_id=str(number), name=name, lowest_grade=9, highest_grade=12
        )
        make_calendar(school, year, HOLIDAYS)
        students = Student.objects.bulk_create(
            Student(
                district=district,
                local_id=f"{name}{i}",
                first_name=f"S{i}",
                last_name=name,
                grade=9,
            )
            for i in range(STUDENTS)
        )
        Enrollment.objects.bulk_create(
            Enrollment(student=s, school=school, school_year=year, grade=9, entry_date=START)
            for s in students
        )
        for index, day in enumerate(school_days()):
            if name == "Cedar" and day in GAPS:
                continue
            absent = [students[(index * 7 + j) % STUDENTS] for j in range(7)]
            if name == "Birch" and day >= DROP_FROM:
                daily = [(absent[0], "A")]
            elif name == "Dogwood":
                daily = [(s, "E") for s in absent[:6]]
            else:
                daily = [(s, "E") for s in absent[:3]] + [(s, "A") for s in absent[3:6]]
            for student, code in daily:
                events.append(
                    AttendanceEvent(student=student, school=school, date=day, code=codes[code])
                )
            late = codes["L"] if name == "Elm" else codes["T"]
            events.append(
                AttendanceEvent(
                    student=absent[6],
                    school=school,
                    date=day,
                    code=late,
                    minutes_missed=20 if name == "Elm" else None,
                )
            )
            if name == "Fir" and day in PERIOD_ONLY_DAYS:
                events.append(
                    AttendanceEvent(
                        student=absent[6], school=school, date=day, code=codes["A"], period="3"
                    )
                )
            if name == "Fir" and day in PERIOD_AND_DAILY_DAYS:
                events.append(
                    AttendanceEvent(
                        student=absent[0], school=school, date=day, code=codes["A"], period="3"
                    )
                )
    AttendanceEvent.objects.bulk_create(events)
    return district
