"""What the district says an intervention costs, so that the impact page can give a cost per
day recovered; and the impact table as the last refresh computed it, which the page and the
board report read."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models


class InterventionCost(models.Model):
    """The cost of serving one student with an intervention (or a case, a plan, a message
    kind), keyed as the impact table keys its rows, e.g. "type:check-and-connect"."""

    district = models.ForeignKey("core.District", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=80, help_text='A row of the impact table, e.g. "case".')
    cost_per_student = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(0)]
    )
    note = models.CharField(max_length=300, blank=True, help_text="Where the figure comes from.")
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    set_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["district", "key"], name="intervention_cost_once")
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.cost_per_student} per student"


class ImpactEstimate(models.Model):
    """One row of the impact table as the last refresh computed it (`do_refresh_impact`:
    the nightly run or `homeroom impact --refresh`). The page and the board report read these
    rows: computing the table takes seconds to minutes, too long for a page."""

    district = models.ForeignKey("core.District", on_delete=models.CASCADE, related_name="+")
    as_of = models.DateField(help_text="Attendance counted up to the day before this one.")
    weeks = models.PositiveSmallIntegerField()
    computed_at = models.DateTimeField()
    position = models.PositiveIntegerField(help_text="The row's place in the table.")
    grouping = models.CharField(max_length=20)
    key = models.CharField(max_length=80)
    label = models.CharField(max_length=200)
    method = models.CharField(max_length=20)
    treated = models.PositiveIntegerField()
    comparison = models.PositiveIntegerField()
    effect = models.FloatField(null=True)
    low = models.FloatField(null=True)
    high = models.FloatField(null=True)
    unmatched = models.PositiveIntegerField(default=0)
    pending = models.PositiveIntegerField(default=0)
    cost_per_student = models.DecimalField(max_digits=10, decimal_places=2, null=True)

    class Meta:
        ordering = ["district", "position"]
        constraints = [
            models.UniqueConstraint(fields=["district", "position"], name="impact_estimate_once")
        ]

    def __str__(self) -> str:
        return f"{self.label}: {self.effect}"
