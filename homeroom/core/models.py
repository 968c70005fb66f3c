"""The district, its schools, school years and instructional calendars, and the audit log."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class GradeLevel(models.IntegerChoices):
    """Grade levels as integers so spans and ranges compare: pre-K is -1, K is 0."""

    PREK = -1, _("Pre-K")
    K = 0, "K"
    G1 = 1, "1"
    G2 = 2, "2"
    G3 = 3, "3"
    G4 = 4, "4"
    G5 = 5, "5"
    G6 = 6, "6"
    G7 = 7, "7"
    G8 = 8, "8"
    G9 = 9, "9"
    G10 = 10, "10"
    G11 = 11, "11"
    G12 = 12, "12"


class DateSpan(models.Model):
    """A span of days from `start_date`, open until `end_date` is set; both days count."""

    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)

    class Meta:
        abstract = True

    @staticmethod
    def dates_ordered(name: str) -> models.CheckConstraint:
        """The database check, under the given name, that a span ends no earlier than it starts."""
        return models.CheckConstraint(
            condition=models.Q(end_date__isnull=True)
            | models.Q(end_date__gte=models.F("start_date")),
            name=name,
        )


class District(models.Model):
    """A school district (local education agency) and the attendance rules it uses."""

    name = models.CharField(max_length=200)
    state_id = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=2, blank=True, help_text="Two-letter postal code.")
    timezone = models.CharField(max_length=64, default="America/New_York")
    rule_profile = models.CharField(
        max_length=64,
        default="attendance-works",
        help_text="Named rule profile for attendance metrics (docs/rule-profiles.md).",
    )
    warning_rules = models.CharField(
        max_length=200,
        default="default",
        help_text="Named early-warning rules, or the path of a .toml file (docs/early-warning.md).",
    )
    risk_capacity = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.100"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("1"))],
        help_text="Share of students staff can reach: the forecast is judged on its top share.",
    )
    chronic_absence_threshold = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.100"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("0.5"))],
        help_text="Share of enrolled days absent at or above which a student is chronic.",
    )
    at_risk_threshold = models.DecimalField(
        max_digits=4, decimal_places=3, default=Decimal("0.050")
    )
    severe_threshold = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("0.200"))
    minimum_days_enrolled = models.PositiveSmallIntegerField(
        default=10, help_text="Days enrolled before a student counts for chronic absence."
    )

    def __str__(self) -> str:
        return self.name


class School(models.Model):
    """A school of the district, with its grade span."""

    class Level(models.TextChoices):
        ELEMENTARY = "elementary", "Elementary"
        MIDDLE = "middle", "Middle"
        HIGH = "high", "High"
        OTHER = "other", "Other"

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="schools")
    local_id = models.CharField(max_length=40)
    state_id = models.CharField(max_length=40, blank=True)
    name = models.CharField(max_length=200)
    level = models.CharField(max_length=20, choices=Level.choices, default=Level.OTHER)
    lowest_grade = models.SmallIntegerField(choices=GradeLevel.choices)
    highest_grade = models.SmallIntegerField(choices=GradeLevel.choices)
    recorded_through = models.DateField(
        "attendance recorded through",
        null=True,
        blank=True,
        help_text="The last day imported attendance speaks for: later days are not counted "
        "(a day without a record is not a present day until attendance was taken).",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["district", "local_id"], name="school_local_id_unique"),
            models.CheckConstraint(
                condition=models.Q(lowest_grade__lte=models.F("highest_grade")),
                name="school_grade_span_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SchoolYear(models.Model):
    """A school year of the district, e.g. 2025-2026, from its first to its last day."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="school_years")
    name = models.CharField(max_length=20)
    start_date = models.DateField()
    end_date = models.DateField()

    class Meta:
        ordering = ["start_date"]
        constraints = [
            models.UniqueConstraint(fields=["district", "name"], name="school_year_name_unique"),
            models.CheckConstraint(
                condition=models.Q(start_date__lte=models.F("end_date")),
                name="school_year_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def contains(self, day: dt.date) -> bool:
        """Whether the date falls inside the school year."""
        return self.start_date <= day <= self.end_date


class Calendar(models.Model):
    """A school's calendar for one school year (a school may have several, per track).

    Attendance counts a school's days on one calendar per year: the one coded `default`,
    or, without one, the first imported (Ed-Fi files name calendars by the SIS's own
    CalendarCode, and most schools have only that one).
    """

    DEFAULT_CODE = "default"

    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="calendars")
    school_year = models.ForeignKey(SchoolYear, on_delete=models.PROTECT, related_name="calendars")
    code = models.CharField(max_length=40, default=DEFAULT_CODE)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["school", "school_year", "code"], name="calendar_unique_per_school_year"
            )
        ]

    def __str__(self) -> str:
        return f"{self.school} {self.school_year} ({self.code})"


class CalendarDate(models.Model):
    """One date of a calendar, with its kind.

    No running count of school days is stored: the metrics engine derives it per school
    from the kinds (`engines._make_school_days`), so it can never disagree with them.
    """

    class Kind(models.TextChoices):
        INSTRUCTIONAL = "instructional", "Instructional day"
        MAKEUP = "makeup", "Make-up day"
        HOLIDAY = "holiday", "Holiday"
        STAFF = "staff", "Staff day"
        WEEKEND = "weekend", "Weekend"
        OTHER = "other", "Other non-instructional day"

    COUNTED_KINDS = (Kind.INSTRUCTIONAL, Kind.MAKEUP)

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="dates")
    date = models.DateField()
    kind = models.CharField(max_length=20, choices=Kind.choices)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="calendar_date_unique")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.kind}"

    @property
    def is_instructional(self) -> bool:
        """Whether the day counts toward membership."""
        return self.kind in self.COUNTED_KINDS


class AuditEntry(models.Model):
    """Who viewed, changed or exported which student record, when, and why it was allowed;
    and every refused attempt (a student not visible, a failed or locked sign-in).

    Written in the same transaction as the change it records. `student_id` is a plain
    integer so the trail outlives the record it describes. An entry written by a command
    has no user: `command` and `system_user` say who ran it.
    """

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        CREATE = "create", "Created"
        UPDATE = "update", "Updated"
        DELETE = "delete", "Deleted"
        EXPORT = "export", "Exported"
        IMPORT = "import", "Imported"
        DENIED = "denied", "Refused: not visible"
        LOGIN_FAILED = "login_failed", "Sign-in failed"
        LOGIN_LOCKED = "login_locked", "Sign-in refused: locked"
        UNLOCK = "unlock", "Sign-in unlocked"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    district = models.ForeignKey(
        District, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    command = models.CharField(
        max_length=60, blank=True, help_text="The command that wrote it, e.g. 'homeroom import'."
    )
    system_user = models.CharField(
        max_length=60, blank=True, help_text="Who ran the command, as the server knows them."
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    student_id = models.BigIntegerField(null=True, db_index=True)
    subject = models.CharField(max_length=100, help_text="What was touched, e.g. 'student page'.")
    count = models.PositiveIntegerField(
        null=True, blank=True, help_text="How many records or rows, for imports and exports."
    )
    address = models.GenericIPAddressField(
        null=True, blank=True, help_text="Where a sign-in came from."
    )
    access_reason = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["district", "-at"]), models.Index(fields=["action", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user_id} {self.action} {self.subject}"
