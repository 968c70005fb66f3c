"""Tiered interventions and case management: the district's playbook, barriers and partners;
cases with their plans, follow-ups, contacts, notes, referrals; team meetings; the timeline.

Nothing here is ever deleted by the app: a case is closed, and a part of it is struck
through with a reason (`Struck`). Rows that two staff may edit at once carry a `version`
that every change checks and raises (`actions.VersionConflict`).
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from homeroom.metrics import display
from homeroom.roster.models import Language


class Struck(models.Model):
    """A record struck through with a reason instead of deleted: it stays in the history."""

    struck_on = models.DateField(null=True, blank=True)
    struck_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    struck_reason = models.TextField(blank=True)

    class Meta:
        abstract = True

    @property
    def is_struck(self) -> bool:
        """Whether the record was struck through."""
        return self.struck_on is not None


class Barrier(models.Model):
    """A root cause of absence a district tracks (transportation, health, ...); editable."""

    district = models.ForeignKey("core.District", on_delete=models.CASCADE, related_name="+")
    key = models.SlugField(max_length=60, help_text="Stable name used by the playbook file.")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    retired_on = models.DateField(null=True, blank=True, help_text="No longer offered.")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["district", "key"], name="barrier_key_unique")
        ]

    def __str__(self) -> str:
        return self.name


class InterventionType(models.Model):
    """A playbook entry: an intervention the district offers, for which tiers and barriers."""

    district = models.ForeignKey("core.District", on_delete=models.CASCADE, related_name="+")
    key = models.SlugField(max_length=60, help_text="Stable name used by the playbook file.")
    name = models.CharField(max_length=120)
    tier1 = models.BooleanField("Tier 1", default=False)
    tier2 = models.BooleanField("Tier 2", default=False)
    tier3 = models.BooleanField("Tier 3", default=False)
    barriers = models.ManyToManyField(Barrier, blank=True, related_name="intervention_types")
    description = models.TextField(blank=True)
    typical_weeks = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Typical duration in weeks (empty: ongoing)."
    )
    evidence = models.TextField(blank=True, help_text="What the evidence says, with sources.")
    retired_on = models.DateField(null=True, blank=True, help_text="No longer offered.")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["district", "key"], name="intervention_type_key_unique")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tiers(self) -> list[int]:
        """The tiers the intervention serves, lowest first."""
        return [tier for tier in (1, 2, 3) if getattr(self, f"tier{tier}")]


class SisInterventionMapping(models.Model):
    """Which playbook entry an intervention code of the district's SIS is; district-editable.

    A code with no mapping is matched to an entry whose key or name reads the same as the
    code or the SIS's name for it (case, spaces and punctuation aside); a code matching
    none is shown as the SIS names it and listed as unmapped on the playbook page.
    """

    district = models.ForeignKey("core.District", on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=60, help_text="The SIS's intervention code.")
    kind = models.ForeignKey(InterventionType, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["district", "code"], name="sis_mapping_code_unique")
        ]

    def __str__(self) -> str:
        return f"SIS {self.code} -> {self.kind_id}"


class Partner(models.Model):
    """A community organization students are referred to."""

    district = models.ForeignKey("core.District", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    services = models.TextField(blank=True)
    barriers = models.ManyToManyField(Barrier, blank=True, related_name="partners")
    languages = models.JSONField(default=list, blank=True, help_text="Language codes served.")
    contact_name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Open referrals it can take at once (empty: no limit)."
    )
    schools = models.ManyToManyField(
        "core.School", blank=True, related_name="+", help_text="Schools served (none: all)."
    )
    retired_on = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Case(models.Model):
    """A student's case: opened for a reason, managed by one staff member, closed with a reason.

    `school` is the student's school when the case opened: its principal reads confidential
    notes and assigns the case manager. A student has at most one open case.
    """

    class Source(models.TextChoices):
        FLAG = "flag", _("Early-warning flag")
        TIER_CHANGE = "tier_change", _("Tier change")
        REFERRAL = "referral", _("Referral by staff")
        MANUAL = "manual", _("Opened by hand")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    class CloseReason(models.TextChoices):
        GOAL_MET = "goal_met", _("Goal met")
        MOVED = "moved", _("Moved away")
        TRUANCY = "truancy", _("Escalated to truancy")
        OTHER = "other", _("Other")

    student = models.ForeignKey("roster.Student", on_delete=models.CASCADE, related_name="cases")
    school = models.ForeignKey("core.School", on_delete=models.PROTECT, related_name="+")
    tier = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(3)], help_text="MTSS tier (1-3)."
    )
    source = models.CharField(max_length=20, choices=Source.choices)
    source_flag = models.ForeignKey(
        "warnings.Flag", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    referred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    case_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="managed_cases",
    )
    opened_on = models.DateField()
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    closed_on = models.DateField(null=True, blank=True)
    close_reason = models.CharField(max_length=20, choices=CloseReason.choices, blank=True)
    close_note = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-opened_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["student"],
                condition=models.Q(status="open"),
                name="case_open_once_per_student",
            ),
            models.CheckConstraint(
                condition=models.Q(status="open", closed_on__isnull=True)
                | models.Q(status="closed", closed_on__gte=models.F("opened_on")),
                name="case_closed_after_opened",
            ),
        ]
        indexes = [models.Index(fields=["case_manager", "status"])]

    def __str__(self) -> str:
        return f"case {self.pk} of {self.student_id} ({self.status})"


class CaseBarrier(Struck):
    """A barrier recorded as a root cause on a case."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="barriers")
    barrier = models.ForeignKey(Barrier, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    recorded_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["recorded_on", "pk"]

    def __str__(self) -> str:
        return f"{self.barrier_id} on case {self.case_id}"


class AttendancePlan(Struck):
    """An attendance plan written with the family: goal, steps with who does what, review date."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="plans")
    goal_rate = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Share of school days to attend, e.g. 0.950.",
    )
    goal_until = models.DateField(help_text="The goal runs through this date.")
    steps = models.JSONField(default=list, help_text='[{"step": ..., "who": ...}]')
    agreed_with = models.CharField(max_length=200, blank=True, help_text="Family members.")
    written_on = models.DateField()
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    review_on = models.DateField()
    reviewed_on = models.DateField(null=True, blank=True)
    review_note = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["written_on", "pk"]

    def __str__(self) -> str:
        return f"plan {self.pk}: attend {self.goal_rate:.1%} through {self.goal_until}"

    @property
    def goal(self) -> str:
        """The goal in words: 'attend 95% of days through Mar 31, 2027'."""
        until = display.date(self.goal_until)
        return f"attend {float(self.goal_rate) * 100:g}% of days through {until}"


class Intervention(Struck):
    """An intervention from the playbook given to a student (in a case, or a teacher's Tier 1)."""

    student = models.ForeignKey(
        "roster.Student", on_delete=models.CASCADE, related_name="interventions"
    )
    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.CASCADE, related_name="interventions"
    )
    kind = models.ForeignKey(InterventionType, on_delete=models.PROTECT, related_name="+")
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["started_on", "pk"]
        indexes = [models.Index(fields=["student", "started_on"])]

    def __str__(self) -> str:
        return f"{self.kind_id} for {self.student_id} from {self.started_on}"


class FollowUp(Struck):
    """A follow-up scheduled on a case: due date, owner, and its outcome once done."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="follow_ups")
    description = models.CharField(max_length=300)
    due_on = models.DateField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    scheduled_on = models.DateField()
    done_on = models.DateField(null=True, blank=True)
    outcome = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["due_on", "pk"]
        indexes = [models.Index(fields=["owner", "done_on", "due_on"])]

    def __str__(self) -> str:
        return f"follow-up {self.pk} due {self.due_on}"


class FamilyContact(Struck):
    """A contact (or attempt) with a student's family: channel, with whom, outcome, language."""

    class Channel(models.TextChoices):
        CALL = "call", _("Phone call")
        TEXT = "text", _("Text message")
        EMAIL = "email", _("Email")
        HOME_VISIT = "home_visit", _("Home visit")
        MEETING = "meeting", _("Meeting")
        LETTER = "letter", _("Letter")

    class Outcome(models.TextChoices):
        REACHED = "reached", _("Reached")
        NO_ANSWER = "no_answer", _("No answer")
        LEFT_MESSAGE = "left_message", _("Left a message")
        WRONG_NUMBER = "wrong_number", _("Wrong number")
        REFUSED = "refused", _("Refused")
        SENT = "sent", _("Message sent")
        REPLIED = "replied", _("Family replied")

    student = models.ForeignKey(
        "roster.Student", on_delete=models.CASCADE, related_name="family_contacts"
    )
    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.CASCADE, related_name="contacts"
    )
    contacted_on = models.DateField()
    channel = models.CharField(max_length=20, choices=Channel.choices)
    guardian = models.ForeignKey(
        "roster.Guardian", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    with_whom = models.CharField(max_length=200, blank=True, help_text="When not a guardian.")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    language = models.CharField(max_length=10, choices=Language.choices, default="en")
    note = models.TextField(blank=True)
    # Empty for a family's own reply, which no staff member recorded (outreach).
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["contacted_on", "pk"]
        indexes = [models.Index(fields=["student", "contacted_on"])]

    def __str__(self) -> str:
        return f"{self.channel} with {self.student_id}'s family on {self.contacted_on}"


class CaseNote(Struck):
    """A note on a case; confidential ones (health, family crisis) only some staff read."""

    class Topic(models.TextChoices):
        GENERAL = "general", _("General")
        HEALTH = "health", _("Health")
        FAMILY_CRISIS = "family_crisis", _("Family crisis")
        OTHER = "other", _("Other")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    written_on = models.DateField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    topic = models.CharField(max_length=20, choices=Topic.choices, default=Topic.GENERAL)
    confidential = models.BooleanField(default=False)
    text = models.TextField()

    class Meta:
        ordering = ["written_on", "pk"]

    def __str__(self) -> str:
        return f"note {self.pk} on case {self.case_id}"


class Referral(Struck):
    """A referral of a case's student to a community partner, and where it stands."""

    class Status(models.TextChoices):
        MADE = "made", _("Made")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    OPEN_STATUSES = (Status.MADE, Status.ACCEPTED, Status.IN_PROGRESS)

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="referrals")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="referrals")
    made_on = models.DateField()
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.MADE)
    status_on = models.DateField()
    note = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["made_on", "pk"]

    def __str__(self) -> str:
        return f"referral {self.pk} to {self.partner_id}: {self.status}"


class CaseEvent(models.Model):
    """One row of a student's timeline, written by the action that made the change.

    `summary` never holds a confidential note's text; `confidential` marks events only the
    staff who read confidential notes are shown.
    """

    class Kind(models.TextChoices):
        CASE_OPENED = "case_opened", _("Case opened")
        CASE_CLOSED = "case_closed", _("Case closed")
        CASE_UPDATED = "case_updated", _("Case updated")
        MANAGER_ASSIGNED = "manager_assigned", _("Case manager assigned")
        BARRIER = "barrier", _("Barrier recorded")
        PLAN_WRITTEN = "plan_written", _("Attendance plan written")
        PLAN_REVISED = "plan_revised", _("Attendance plan revised")
        PLAN_REVIEWED = "plan_reviewed", _("Attendance plan reviewed")
        INTERVENTION = "intervention", _("Intervention started")
        INTERVENTION_ENDED = "intervention_ended", _("Intervention ended")
        FOLLOW_UP_SCHEDULED = "follow_up_scheduled", _("Follow-up scheduled")
        FOLLOW_UP_DONE = "follow_up_done", _("Follow-up done")
        CONTACT = "contact", _("Family contact")
        NOTE = "note", _("Note")
        REFERRAL = "referral", _("Referral made")
        REFERRAL_UPDATED = "referral_updated", _("Referral updated")
        STRUCK = "struck", _("Struck through")
        MESSAGE_SENT = "message_sent", _("Message sent")
        MESSAGE_RECEIVED = "message_received", _("Message received")
        TRUANCY = "truancy", _("Truancy escalation")  # written by the truancy app's actions

    student = models.ForeignKey(
        "roster.Student", on_delete=models.CASCADE, related_name="case_events"
    )
    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    on = models.DateField(help_text="The school date the event is about.")
    at = models.DateTimeField(auto_now_add=True)
    # Empty for what no staff member did: a message a trigger sent, a family's reply.
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    summary = models.CharField(max_length=300)
    confidential = models.BooleanField(default=False)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["on", "at", "pk"]
        indexes = [
            models.Index(fields=["student", "on"]),
            # The team meeting's tier changes since the last meeting, among every event of
            # the district: without it, a scan of all of them (docs/benchmarks.md).
            models.Index(fields=["kind", "on"], name="caseevent_kind_on"),
        ]

    def __str__(self) -> str:
        return f"{self.on} {self.kind} ({self.student_id})"


class TeamMeeting(models.Model):
    """A school's attendance team (SART) meeting on a date, with its notes."""

    school = models.ForeignKey("core.School", on_delete=models.CASCADE, related_name="+")
    held_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-held_on", "-pk"]

    def __str__(self) -> str:
        return f"team meeting {self.school_id} {self.held_on}"


class ActionItem(models.Model):
    """An action agreed at a team meeting, with its owner (and student, if about one)."""

    meeting = models.ForeignKey(TeamMeeting, on_delete=models.CASCADE, related_name="action_items")
    student = models.ForeignKey(
        "roster.Student", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    description = models.CharField(max_length=300)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField(null=True, blank=True)
    done_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.description
