"""Records of the pipeline: each night's run, its steps in order and how it ended."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class NightlyRun(models.Model):
    """One run of the night's pipeline: its steps in order, their counts, how it ended."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    district = models.ForeignKey("core.District", on_delete=models.CASCADE, related_name="+")
    as_of = models.DateField()
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    steps = models.JSONField(default=list, help_text="[{step, status, counts, seconds}]")
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"nightly {self.as_of}: {self.status}"
