"""Staff accounts, their roles, and the scopes that decide which students they serve."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from homeroom.core.models import DateSpan, GradeLevel


class Role(models.TextChoices):
    """What a staff member does; scopes say for whom."""

    DISTRICT_ADMIN = "district_admin", _("District administrator")
    DISTRICT_ANALYST = "district_analyst", _("District analyst")
    PRINCIPAL = "principal", _("Principal / school administrator")
    COUNSELOR = "counselor", _("Counselor / attendance specialist")
    TEACHER = "teacher", _("Teacher")
    VIEWER = "viewer", _("Read-only viewer")


DISTRICT_WIDE_ROLES = frozenset({Role.DISTRICT_ADMIN, Role.DISTRICT_ANALYST})


class User(AbstractUser):
    """A staff member of one district. Students reach them only through their scopes."""

    district = models.ForeignKey(
        "core.District", null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    schools = models.ManyToManyField(
        "core.School",
        blank=True,
        related_name="staff",
        help_text="Schools this person serves (principals, counselors, viewers).",
    )
    # A code of settings.LANGUAGES, chosen by the person on any page's header; blank until
    # they choose, when their browser's languages decide (homeroom/web/middleware.py).
    language = models.CharField(max_length=10, blank=True, default="")

    class Meta:
        ordering = ["username"]

    @property
    def is_district_wide(self) -> bool:
        """Whether the role sees every student of the district."""
        return self.role in DISTRICT_WIDE_ROLES

    @property
    def may_change_student_data(self) -> bool:
        """Whether the role may record changes to student data (never the viewer)."""
        return self.role != Role.VIEWER


class GradeScope(models.Model):
    """Limits a counselor to some grades of one school (e.g. grades 9-10 at Central High)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="grade_scopes")
    school = models.ForeignKey("core.School", on_delete=models.CASCADE, related_name="+")
    grade = models.SmallIntegerField(choices=GradeLevel.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "school", "grade"], name="grade_scope_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.school} grade {self.get_grade_display()}"


class CaseloadAssignment(DateSpan):
    """A student explicitly assigned to a staff member's caseload, for a period."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="caseload")
    student = models.ForeignKey("roster.Student", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [DateSpan.dates_ordered("caseload_dates_ordered")]

    def __str__(self) -> str:
        return f"{self.user} -> {self.student}"
