"""Truancy escalation: the district's pack, each student's steps, the documents they produced
(with their evidence frozen), and attendance team meetings (SART)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class DistrictPack(models.Model):
    """The pack a district follows: a shipped pack's name, or its own copy as TOML text
    (`based_on = "california"` and the values it changes). `revision` counts the edits, so
    each step records exactly which rules it was decided under."""

    district = models.OneToOneField(
        "core.District", on_delete=models.CASCADE, related_name="truancy_pack"
    )
    based_on = models.CharField(max_length=60)
    text = models.TextField(blank=True, help_text="The district's copy; empty: the shipped pack.")
    revision = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.district_id}: {self.based_on} r{self.revision}"


class TruancyStep(models.Model):
    """A step of a student's escalation in a school year: found eligible by the nightly
    run, then approved (its document generated) and sent, or declined with a reason.

    `evidence` is what the step was decided on, frozen: the counted absences (date, code,
    which import recorded each), the pack and the enrollment. An absence excused later puts
    a pending step under review (`review_reason` names it); a characteristic in the step's
    `blocked_by` blocks it (`blocked_reason`).
    """

    class Status(models.TextChoices):
        # In context: Spanish agrees a status with its noun (a step, not a referral).
        ELIGIBLE = "eligible", pgettext_lazy("truancy step status", "Awaiting approval")
        REVIEW = "review", pgettext_lazy("truancy step status", "Evidence changed: review")
        BLOCKED = "blocked", pgettext_lazy("truancy step status", "Blocked by an exemption")
        APPROVED = "approved", pgettext_lazy("truancy step status", "Approved")
        SENT = "sent", pgettext_lazy("truancy step status", "Sent")
        DECLINED = "declined", pgettext_lazy("truancy step status", "Declined")

    class Kind(models.TextChoices):
        NOTICE = "notice", _("Notice to the family")
        MEETING = "meeting", _("Attendance team meeting")
        REFERRAL = "referral", _("Referral")

    student = models.ForeignKey(
        "roster.Student", on_delete=models.CASCADE, related_name="truancy_steps"
    )
    school = models.ForeignKey("core.School", on_delete=models.PROTECT, related_name="+")
    school_year = models.ForeignKey("core.SchoolYear", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(
        "interventions.Case",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="truancy_steps",
    )
    key = models.CharField(max_length=40)
    position = models.PositiveSmallIntegerField(help_text="The step's place in the pack (1 first).")
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    statute = models.CharField(max_length=200)
    pack = models.CharField(max_length=80, help_text="Pack name, version and district revision.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ELIGIBLE)
    eligible_on = models.DateField()
    due_on = models.DateField(null=True, blank=True)
    evidence = models.JSONField(default=dict)
    counted_events = models.TextField(
        blank=True,
        help_text="The evidence's counted events as 'id:code,...': what the nightly check for "
        "later excusals reads, without decoding every step's evidence.",
    )
    blocked_reason = models.CharField(max_length=300, blank=True)
    review_reason = models.CharField(max_length=500, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(max_length=500, blank=True)
    sent_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["eligible_on", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "school_year", "key"], name="truancy_step_once_a_year"
            )
        ]
        indexes = [models.Index(fields=["school", "status"])]

    def __str__(self) -> str:
        return f"{self.student_id} {self.key} ({self.status})"

    @property
    def pending(self) -> bool:
        """Whether the step still waits for a decision or for sending."""
        return self.status in (self.Status.ELIGIBLE, self.Status.REVIEW, self.Status.APPROVED)


class TruancyDocument(models.Model):
    """A generated letter, meeting agreement or referral packet, kept as the PDF sent and
    the snapshot it was made from: rendering the snapshot again gives the same PDF
    (`sha256`)."""

    class Kind(models.TextChoices):
        NOTICE = "notice", _("Notice letter")
        AGREEMENT = "agreement", _("Attendance agreement")
        PACKET = "packet", _("Referral packet")

    step = models.ForeignKey(TruancyStep, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    language = models.CharField(max_length=10)
    snapshot = models.JSONField(help_text="Everything the document shows, as it was generated.")
    pdf = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    delivery = models.CharField(
        max_length=20,
        default="printed",
        help_text="How it reached the family: printed, or the channels of its messages.",
    )
    messages = models.ManyToManyField(
        "outreach.Message",
        blank=True,
        related_name="+",
        help_text="The outbox messages a notice was sent by (the letter, the email).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} of step {self.step_id}"


class AttendanceMeeting(models.Model):
    """An attendance team meeting (SART, Texas prevention measures) for a meeting step: when,
    who came, and the agreement (attendance contract) reached."""

    step = models.OneToOneField(TruancyStep, on_delete=models.CASCADE, related_name="meeting")
    scheduled_for = models.DateField()
    place = models.CharField(max_length=200, blank=True)
    attendees = models.TextField(help_text="One attendee a line: name and role.")
    agreement = models.TextField(blank=True, help_text="What the family and school agreed.")
    notes = models.TextField(blank=True)
    held_on = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"meeting for step {self.step_id} on {self.scheduled_for}"


class TruancyRun(models.Model):
    """The district's last nightly evaluation: under which pack and year, and a fingerprint
    of each student's state then (their counted absences, steps and days enrolled), so the
    next night evaluates only the students whose state changed (`actions.do_find_eligible`).
    """

    district = models.OneToOneField(
        "core.District", on_delete=models.CASCADE, related_name="truancy_run"
    )
    school_year = models.ForeignKey("core.SchoolYear", on_delete=models.CASCADE, related_name="+")
    pack = models.CharField(max_length=80, help_text="The pack's label, as steps record it.")
    as_of = models.DateField()
    fingerprints = models.JSONField(
        default=dict, help_text="Student id -> a digest of what their evaluation read."
    )
    finished_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.district_id}: {self.pack} as of {self.as_of}"
