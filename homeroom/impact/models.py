"""What the district says an intervention costs, so that the impact page can give a cost per
day recovered. Nothing else is stored: the estimates are computed from the cases, the
message log and the attendance each time they are asked for."""

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
