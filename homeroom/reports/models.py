"""The reports' own rows: the district's suppression setting, and the student groups'
chronic absence month by month (materialized, so reports never recount students)."""

from django.db import models

from homeroom.reports.suppression import DEFAULT_MINIMUM_CELL


class ReportSettings(models.Model):
    """A district's choices for what it publishes. Changed by a district administrator on
    the reports page (`do_set_minimum_cell`, audited)."""

    district = models.OneToOneField(
        "core.District", on_delete=models.CASCADE, related_name="report_settings"
    )
    minimum_cell = models.PositiveSmallIntegerField(
        default=DEFAULT_MINIMUM_CELL,
        help_text="Counts of students below this are hidden in every published table.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.district}: n >= {self.minimum_cell}"


class GroupMonth(models.Model):
    """Chronic absence of one student group (or the whole district, group_type "district")
    as of the end of a month of the summaries' year: year to date, each student once.

    Written whole by `do_refresh_group_months` from the metric definitions' `group_summary`;
    a row per group and month, never a row per student."""

    district = models.ForeignKey("core.District", on_delete=models.CASCADE, related_name="+")
    school_year = models.ForeignKey("core.SchoolYear", on_delete=models.CASCADE, related_name="+")
    as_of = models.DateField()
    group_type = models.CharField(max_length=30)  # district, characteristic, race_ethnicity
    group_value = models.CharField(max_length=60)
    students = models.PositiveIntegerField()
    counted = models.PositiveIntegerField()
    chronic = models.PositiveIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["district", "school_year", "as_of", "group_type", "group_value"],
                name="group_month_unique",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.group_type}={self.group_value} on {self.as_of}: {self.chronic}/{self.counted}"
        )
