"""Family outreach: the district's settings, message templates, the outbox and its log.

A `Message` is both the outbox row and the delivery log: it is written in the same
transaction as the decision to send it, a worker sends it (`delivery.py`) under its
`idempotency_key`, and the provider's reports and the family's replies come back to it.
"""

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from homeroom.roster.models import ContactChannel, ContactPreference, Language


class MessageKind(models.TextChoices):
    """What a message is for; each kind has its templates, one per language."""

    STAFF = "staff", _("Message from staff")
    ABSENCE_TODAY = "absence_today", _("Absence today")
    ABSENCE_THRESHOLD = "absence_threshold", _("Absences reached a threshold")
    ABSENCE_MONTH = "absence_month", _("Absences this month reached a threshold")
    TIER_CHANGE = "tier_change", _("Attendance tier changed")
    RECOGNITION = "recognition", _("Improved attendance")
    NUDGE = "nudge", _("Nudge letter: absences compared with classmates")
    SURVEY_INVITATION = "survey_invitation", _("Needs survey invitation")
    OPTED_OUT = "opted_out", _("Opt-out confirmed")
    OPTED_IN = "opted_in", _("Opt-in confirmed")
    REPLY = "reply", _("Reply from the family")
    TRUANCY_NOTICE = "truancy_notice", _("Truancy notice")


# Kinds whose words are not the outreach templates': a family's reply, and a truancy notice
# (the statute's wording is in the district's truancy pack; docs/truancy.md).
WITHOUT_TEMPLATES = frozenset({MessageKind.REPLY, MessageKind.TRUANCY_NOTICE})

# Confirmations of STOP and START go to the number that asked, whatever its consent says.
CONFIRMATIONS = frozenset({MessageKind.OPTED_OUT, MessageKind.OPTED_IN})


class OutreachSettings(models.Model):
    """A district's rules for reaching families: quiet hours, the weekly cap, the fallback."""

    district = models.OneToOneField(
        "core.District", on_delete=models.CASCADE, related_name="outreach_settings"
    )
    fallback_language = models.CharField(
        max_length=10,
        choices=Language.choices,
        default=Language.ENGLISH,
        help_text="Used when a family's language has no template (the message log says so).",
    )
    quiet_start = models.TimeField(
        default=dt.time(20, 0), help_text="No texts from this time (district time)..."
    )
    quiet_end = models.TimeField(default=dt.time(8, 0), help_text="...until this time.")
    weekly_cap = models.PositiveSmallIntegerField(
        default=3, help_text="At most this many messages to a household in any 7 days."
    )
    triggers = models.JSONField(
        default=dict, blank=True, help_text="Each trigger's switch and settings (triggers.py)."
    )

    def __str__(self) -> str:
        return f"outreach settings of {self.district_id}"


class MessageTemplate(models.Model):
    """One version of a message kind's words in one language; the highest version is used.

    `body` and `subject` hold placeholders such as `{{ children }}` (templates.py); a saved
    edit is a new version, so every message names the exact words it was made from.
    """

    district = models.ForeignKey("core.District", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=MessageKind.choices)
    language = models.CharField(max_length=10, choices=Language.choices)
    version = models.PositiveIntegerField(default=1)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    shipped_default = models.BooleanField(
        default=False, help_text="Homeroom's wording, not yet reviewed by the district."
    )
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    saved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "language", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["district", "kind", "language", "version"], name="template_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.language}) v{self.version}"


class Message(models.Model):
    """A message to or from a family: the outbox row, its delivery log and its audit record."""

    class Direction(models.TextChoices):
        OUT = "out", _("To the family")
        IN = "in", _("From the family")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting to be sent")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        UNDELIVERED = "undelivered", _("Not delivered")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Not sent: consent withdrawn")
        EXCLUDED = "excluded", _("Not sent: excluded from its letter batch")
        UNKNOWN = "unknown", _("Unknown: check before sending again")
        GIVEN_UP = "given_up", _("Unknown: staff chose not to send it again")
        RECEIVED = "received", _("Received")
        UNMATCHED = "unmatched", _("Received: not matched to a family")
        DISMISSED = "dismissed", _("Received: dismissed by staff")

    district = models.ForeignKey("core.District", on_delete=models.CASCADE, related_name="+")
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.OUT)
    kind = models.CharField(max_length=30, choices=MessageKind.choices)
    channel = models.CharField(max_length=10, choices=ContactChannel.choices)
    guardian = models.ForeignKey(
        "roster.Guardian", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    household = models.CharField(
        max_length=200, blank=True, help_text="Who shares a home: the weekly cap counts per key."
    )
    students = models.ManyToManyField("roster.Student", related_name="+", blank=True)
    case = models.ForeignKey(
        "interventions.Case", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_address = models.CharField(max_length=254, blank=True)
    from_address = models.CharField(max_length=254, blank=True)
    language = models.CharField(max_length=10, choices=Language.choices, default="en")
    wanted_language = models.CharField(
        max_length=10, choices=Language.choices, default="en", help_text="The family's language."
    )
    template = models.ForeignKey(
        MessageTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    stated = models.JSONField(
        default=dict, blank=True, help_text="The data the message stated, as of when."
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    idempotency_key = models.CharField(max_length=200, unique=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    not_before = models.DateTimeField(help_text="Sent no earlier (quiet hours, retries).")
    last_error = models.TextField(blank=True)
    provider_id = models.CharField(max_length=64, blank=True, db_index=True)
    letter_batch = models.ForeignKey(
        "outreach.LetterBatch",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    in_reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    status_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["status", "not_before"], name="outbox_due"),
            models.Index(fields=["household", "created_at"], name="message_household_week"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.channel} {self.kind} #{self.pk}: {self.status}"

    @property
    def fallback_used(self) -> bool:
        """Whether the family's language had no template and the district's fallback was used."""
        return self.language != self.wanted_language


class DeliveryReport(models.Model):
    """A status the provider reported for a message; the same report twice is stored once."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reports")
    provider_id = models.CharField(max_length=64)
    status = models.CharField(max_length=20)
    error_code = models.CharField(max_length=20, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider_id", "status"], name="delivery_report_once")
        ]

    def __str__(self) -> str:
        return f"{self.provider_id} {self.status}"


class ConsentChange(models.Model):
    """The record of a guardian's consent on a channel changing, and what changed it."""

    guardian = models.ForeignKey("roster.Guardian", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, choices=ContactChannel.choices)
    consent = models.CharField(max_length=10, choices=ContactPreference.Consent.choices)
    source = models.CharField(max_length=200, help_text='e.g. "replied STOP to a text".')
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.guardian_id} {self.channel} -> {self.consent}"


class TriggerHit(models.Model):
    """That a trigger fired for a student at a mark (a date, a threshold of a year), once.

    Written with the message it decided, so the same night run twice decides nothing twice.
    """

    student = models.ForeignKey("roster.Student", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=MessageKind.choices)
    mark = models.CharField(max_length=60, help_text='e.g. "2026-12-07" or "2026-2027:year:5".')
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    held_out = models.BooleanField(
        default=False, help_text="Drawn for the holdout: no message, kept to measure the effect."
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["student", "kind", "mark"], name="trigger_hit_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.mark} for {self.student_id}"


class LetterBatch(models.Model):
    """Letters printed together for one school: one PDF (cover sheet first) and a CSV manifest."""

    district = models.ForeignKey("core.District", on_delete=models.CASCADE, related_name="+")
    school = models.ForeignKey("core.School", on_delete=models.PROTECT, related_name="+")
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    made_at = models.DateTimeField(auto_now_add=True)
    letters = models.PositiveIntegerField()
    pdf = models.CharField(max_length=300, help_text="Path under the data directory.")
    manifest = models.CharField(max_length=300, help_text="Path under the data directory.")

    class Meta:
        ordering = ["-made_at"]

    def __str__(self) -> str:
        return f"letters {self.pk} for {self.school_id}: {self.letters}"
