"""Attendance codes mapped to categories, and attendance events (exceptions only).

A day inside an enrollment span on an instructional day with no event is a present day:
storage grows with absences, not with student-days.
"""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Category(models.TextChoices):
    """What a local attendance code means, following the Ed-Fi categories."""

    PRESENT = "present", _("In attendance")
    EXCUSED = "excused", _("Excused absence")
    UNEXCUSED = "unexcused", _("Unexcused absence")
    OUT_OF_SCHOOL_SUSPENSION = "oss", _("Out-of-school suspension")
    IN_SCHOOL_SUSPENSION = "iss", _("In-school suspension")
    TARDY = "tardy", _("Tardy")
    EARLY_DEPARTURE = "early_departure", _("Early departure")
    PARTIAL = "partial", _("Partial-day absence")
    NOT_TAKEN = "not_taken", _("Attendance not taken")


FRACTION = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))]


class AttendanceCode(models.Model):
    """A district's local attendance code and the category and share of a day it counts."""

    district = models.ForeignKey(
        "core.District", on_delete=models.PROTECT, related_name="attendance_codes"
    )
    code = models.CharField(max_length=20)
    description = models.CharField(max_length=200)
    category = models.CharField(max_length=20, choices=Category.choices)
    day_fraction = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        validators=FRACTION,
        help_text="Share of a day missed when the event states none (1 for a full-day absence).",
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["district", "code"], name="attendance_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.get_category_display()})"


class AttendanceEvent(models.Model):
    """An exception to presence: an absence, tardy or partial day for a student at a school.

    The largest table, written by the import engine a year at a time. The database checks
    the keys something deletes (students, sections). Keys to rows Homeroom never deletes
    (schools, codes, import runs; the ORM protects them too) are resolved by the import in
    the same transaction and not checked again row by row: PostgreSQL makes those checks
    one row at a time at commit, a large share of a year's import (docs/benchmarks.md,
    "Design figures"). Only the indexes something reads are kept.
    """

    student = models.ForeignKey(
        "roster.Student",
        on_delete=models.CASCADE,
        related_name="attendance_events",
        db_index=False,  # (student, date) leads with it
    )
    school = models.ForeignKey(
        "core.School",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,  # (school, date) leads with it
    )
    date = models.DateField()
    code = models.ForeignKey(
        AttendanceCode,
        on_delete=models.PROTECT,
        related_name="events",
        db_constraint=False,
        db_index=False,  # nothing reads the events by code
    )
    day_fraction = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        null=True,
        blank=True,
        validators=FRACTION,
        help_text="Share of the day missed; empty means the code's default.",
    )
    minutes_missed = models.PositiveSmallIntegerField(null=True, blank=True)
    section = models.ForeignKey(
        "roster.Section",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # indexed where set (Meta): daily events have none
    )
    period = models.CharField(max_length=20, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    source_run = models.ForeignKey(
        "ingest.ImportRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    source_file = models.CharField(max_length=200, blank=True)
    source_line = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["date"]
        indexes = [
            models.Index(fields=["student", "date"]),
            models.Index(fields=["school", "date"]),
            models.Index(
                fields=["section"],
                condition=models.Q(section__isnull=False),
                name="attendance_event_section",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student_id} {self.date} {self.code_id}"
