"""Writes of the reports: the district's suppression setting, the groups' months, and the
audit entry of every report made (each in one transaction with what it records)."""

import datetime as dt

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
    summaries' year (and their date), on the database by the metric definitions; replaces
    the district's `GroupMonth` rows in one transaction. Returns the rows written."""
    state = SummaryState.objects.select_related("school_year").get(district=district)
    profile = load_rule_profile(district.rule_profile)
    engine = database_engine(district, since=state.school_year.start_date)
    now = timezone.now()
    rows = []
    for month_end in month_ends(state, state.as_of):
        window = engine.window(month_end)
        for group_type in ("district", "characteristic", "race_ethnicity"):
            table = definitions.group_summary(engine.facts, profile, window, group_type)
            for row in engine.run(
                table.select("group_value", "students", "counted", "chronic")
            ).to_pylist():
                if row["group_value"] is None:
                    continue
                rows.append(
                    GroupMonth(
                        district=district,
                        school_year_id=state.school_year_id,
                        as_of=month_end,
                        group_type=group_type,
                        group_value=row["group_value"],
                        students=row["students"],
                        counted=row["counted"],
                        chronic=row["chronic"],
                        computed_at=now,
                    )
                )
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
