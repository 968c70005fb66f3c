"""Writes of the reports: the district's suppression setting, the groups' months, and the
audit entry of every report made (each in one transaction with what it records)."""

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from homeroom.core.actions import CommandLine, do_log_district_change, do_log_export
from homeroom.core.models import District
from homeroom.metrics import definitions
from homeroom.metrics.engines import database_engine
from homeroom.metrics.models import SummaryState
from homeroom.metrics.rules import load_rule_profile
from homeroom.reports.models import GroupMonth, ReportSettings
from homeroom.reports.selectors import month_ends
from homeroom.roster.models import Student, StudentCharacteristic

MAXIMUM_CELL = 100  # a larger minimum would hide nearly every school's figures


class ReportSettingError(ValueError):
    """A setting that cannot be used, saying what is allowed."""


def do_set_minimum_cell(*, user, district: District, minimum: int) -> ReportSettings:
    """Set the smallest count of students a published table shows (district
    administrators only; audited with the old and new value)."""
    if user.role != "district_admin" or user.district_id != district.pk:
        raise PermissionError("Only the district's administrators change what it publishes.")
    if not 1 <= minimum <= MAXIMUM_CELL:
        raise ReportSettingError(
            f"The smallest count shown must be a whole number from 1 to {MAXIMUM_CELL}; "
            f"{minimum} is not."
        )
    with transaction.atomic():
        held, _ = ReportSettings.objects.select_for_update().get_or_create(district=district)
        before = held.minimum_cell
        held.minimum_cell = minimum
        held.save()
        do_log_district_change(
            user=user,
            district=district,
            subject="report suppression",
            details={"minimum_cell": {"from": before, "to": minimum}},
        )
    return held


def do_refresh_group_months(district: District) -> int:
    """Recompute the student groups' chronic absence as of each month's end of the
    summaries' year (and their date): per month, the metric definitions' per-student
    standing over all schools (`student_district`, each student once) is computed once by
    the database, and the district, each characteristic and each race/ethnicity are added
    up from it with the characteristics held on that date. Replaces the district's
    `GroupMonth` rows in one transaction. Returns the rows written (none before the
    district's first refresh of the summaries)."""
    state = SummaryState.objects.select_related("school_year").filter(district=district).first()
    if state is None:
        return 0
    profile = load_rule_profile(district.rule_profile)
    engine = database_engine(district, since=state.school_year.start_date)
    race = dict(Student.objects.filter(district=district).values_list("pk", "race_ethnicity"))
    held = list(
        StudentCharacteristic.objects.filter(student__district=district).values_list(
            "student_id", "kind", "start_date", "end_date"
        )
    )
    now = timezone.now()
    rows = []
    for month_end in month_ends(state, state.as_of):
        window = engine.window(month_end)
        standing = definitions.student_district(engine.facts, profile, window)
        students = engine.run(standing.select("student_id", "counted", "chronic")).to_pylist()
        kinds: dict[int, set[str]] = defaultdict(set)
        for student, kind, start, end in held:
            if start <= month_end and (end is None or end >= month_end):
                kinds[student].add(kind)
        sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for row in students:
            pk = row["student_id"]
            keys = [("district", "all")]
            keys += [("characteristic", kind) for kind in kinds.get(pk, ())]
            if race.get(pk):
                keys.append(("race_ethnicity", race[pk]))
            for key in keys:
                total = sums[key]
                total[0] += 1
                total[1] += bool(row["counted"])
                total[2] += bool(row["counted"] and row["chronic"])
        rows += [
            GroupMonth(
                district=district,
                school_year_id=state.school_year_id,
                as_of=month_end,
                group_type=group_type,
                group_value=value,
                students=students_,
                counted=counted,
                chronic=chronic,
                computed_at=now,
            )
            for (group_type, value), (students_, counted, chronic) in sums.items()
        ]
    with transaction.atomic():
        GroupMonth.objects.filter(district=district).delete()
        GroupMonth.objects.bulk_create(rows)
    return len(rows)


def group_months_fresh(district: District) -> bool:
    """Whether the groups' months were computed after the summaries last were."""
    state = SummaryState.objects.filter(district=district).first()
    latest = GroupMonth.objects.filter(district=district).order_by("-computed_at").first()
    return bool(state and latest and latest.computed_at >= state.computed_at)


def do_log_report(
    *, kind: str, district: District, as_of: dt.date, user=None, via: CommandLine | None = None
) -> None:
    """Record that a report of the district's figures left Homeroom (a download or a
    command's file): which report, as of when."""
    do_log_export(
        subject=f"{kind} report",
        count=0,
        details={"report": kind, "as_of": as_of.isoformat()},
        district=district,
        user=user,
        via=via,
    )
