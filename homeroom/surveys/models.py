"""Needs surveys: which barriers keep students from school, asked of families (or students,
or staff) by a link they answer without an account.

A `Survey` is built by district staff from the district's barrier list; an `Invitation` is
one household's link (only the token's hash is kept here; the link itself goes out in the
outbox message); an `Answer` is what the household said, one per invitation.
"""

from django.conf import settings
from django.db import models

from homeroom.roster.models import Language


class Audience(models.TextChoices):
    """Who a survey asks: the question's words differ for each."""

    FAMILIES = "families", "Families"
    STUDENTS = "students", "Students"
    STAFF = "staff", "Staff"


class Survey(models.Model):
    """A barrier survey of one district and school year: which barriers it asks about, whom,
    and until when its links work."""

    district = models.ForeignKey("core.District", on_delete=models.CASCADE, related_name="+")
    school_year = models.ForeignKey("core.SchoolYear", on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    audience = models.CharField(max_length=10, choices=Audience.choices)
    barriers = models.ManyToManyField("interventions.Barrier", related_name="+")
    closes_on = models.DateField(help_text="The last day its links may be answered.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.title


class Invitation(models.Model):
    """One household's link to a survey: a secret token (stored hashed), the guardian it was
    sent to, the children and schools it speaks for, the language it is shown in."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    household = models.CharField(max_length=200)
    guardian = models.ForeignKey(
        "roster.Guardian", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    students = models.ManyToManyField("roster.Student", related_name="+")
    schools = models.ManyToManyField("core.School", related_name="+")
    language = models.CharField(max_length=10, choices=Language.choices, default="en")
    message = models.ForeignKey(
        "outreach.Message", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "household"], name="survey_invitation_once_per_household"
            )
        ]

    def __str__(self) -> str:
        return f"invitation {self.pk} to survey {self.survey_id}"


class Answer(models.Model):
    """What one household answered: the barriers it named, in which language, when."""

    invitation = models.OneToOneField(Invitation, on_delete=models.CASCADE, related_name="answer")
    barriers = models.ManyToManyField("interventions.Barrier", related_name="+", blank=True)
    language = models.CharField(max_length=10, choices=Language.choices)
    answered_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"answer to invitation {self.invitation_id}"
