"""Import runs: every row loaded from outside remembers the run and line it came from."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportRun(models.Model):
    """One load of a district's export: who, when, what, and what it changed."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        REJECTED = "rejected", _("Rejected")

    district = models.ForeignKey("core.District", on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_format = models.CharField(max_length=40, help_text="e.g. 'homeroom-csv', 'edfi-xml'.")
    files = models.JSONField(default=list, help_text="Names and SHA-256 of the files read.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    dry_run = models.BooleanField(default=False)
    on_error = models.CharField(max_length=10, default="reject")
    scope = models.JSONField(default=dict, blank=True, help_text="Schools and dates replaced.")
    counts = models.JSONField(
        default=dict, help_text="Per entity: read, inserted, updated, deleted, unchanged."
    )
    problems = models.JSONField(default=list, blank=True, help_text="Errors and findings.")
    problem_counts = models.JSONField(default=dict, blank=True, help_text="Problems by code.")
    duration_seconds = models.FloatField(null=True, blank=True)
    attendance_students = models.ManyToManyField(
        "roster.Student",
        blank=True,
        related_name="+",
        help_text="Students whose attendance events the run inserted, updated or deleted.",
    )
    summarized = models.BooleanField(
        default=False, help_text="Whether the attendance summaries include what the run changed."
    )

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.source_format} run {self.pk} ({self.status})"
