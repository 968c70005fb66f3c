"""Forms of the case management pages: they parse what staff type into the arguments of the
actions (`actions.do_*`). The actions decide what is allowed; a form's choices only offer
what the selectors list, and an action's refusal is shown next to the field it names.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from homeroom.accounts.models import Role, User
from homeroom.interventions.models import Case, CaseNote, FamilyContact, Referral
from homeroom.metrics import display
from homeroom.roster.models import Language

TIER_CHOICES = [(1, "Tier 1"), (2, "Tier 2"), (3, "Tier 3")]
DATE = {"type": "date"}
ACTION_ITEM_ROWS = 3


def _name(user: User) -> str:
    return user.get_full_name() or user.username


class LongSelect(forms.Select):
    """A select of many options, written in Python rather than through a template per
    option: the team meeting's three student lists hold a school's students of concern,
    hundreds at a large school, and the template per option cost about a third of that
    page's time (docs/benchmarks.md, "Interventions"). The same markup as `forms.Select`."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        groups = []
        for group_name, options, _index in widget["optgroups"]:
            rendered = format_html_join(
                "",
                '<option value="{}"{}>{}</option>',
                ((o["value"], flatatt(o["attrs"]), o["label"]) for o in options),
            )
            if group_name:
                rendered = format_html('<optgroup label="{}">{}</optgroup>', group_name, rendered)
            groups.append(rendered)
        return format_html(
            '<select name="{}"{}>{}</select>',
            widget["name"],
            flatatt(widget["attrs"]),
            mark_safe("".join(groups)),  # each group escaped by format_html above
        )


def staff_choices(users) -> list[tuple[int, str]]:
    """Staff as choices, each once, by name."""
    seen: dict[int, str] = {}
    for user in users:
        if user is not None:
            seen.setdefault(user.pk, _name(user))
    return sorted(seen.items(), key=lambda item: item[1].lower())


def school_staff(school_id: int, district_id: int):
    """The active principals and counselors serving a school: owners of meeting items."""
    return User.objects.filter(
        district_id=district_id,
        is_active=True,
        schools=school_id,
        role__in=[Role.PRINCIPAL, Role.COUNSELOR],
    )


class DateField(forms.DateField):
    """A date typed in the browser's date picker (YYYY-MM-DD)."""

    widget = forms.DateInput(attrs=DATE)
    default_error_messages = {"invalid": "Give a date as YYYY-MM-DD."}


class VersionForm(forms.Form):
    """A change to a record two staff may edit: the version the editor read goes with it."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


# Student page ------------------------------------------------------------------------


class ContactForm(forms.Form):
    """Log a contact with a student's family: with a guardian of the student, or someone named."""

    channel = forms.ChoiceField(label=_("Channel"), choices=FamilyContact.Channel.choices)
    guardian_id = forms.TypedChoiceField(
        label=_("With whom"), coerce=int, empty_value=None, required=False
    )
    with_whom = forms.CharField(
        label=_("Someone else (name and relationship)"), required=False, max_length=200
    )
    outcome = forms.ChoiceField(label=_("Outcome"), choices=FamilyContact.Outcome.choices)
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)
    contacted_on = DateField(label=_("Date"))
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, guardians=(), today: dt.date, language: str = "en", **kwargs):
        kwargs.setdefault("initial", {})
        links = list(guardians)
        kwargs["initial"] = {
            "contacted_on": today,
            "language": links[0].guardian.preferred_language if links else language,
            "guardian_id": links[0].guardian_id if links else None,
        } | kwargs["initial"]
        super().__init__(*args, **kwargs)
        self.fields["guardian_id"].choices = [
            *(
                (
                    link.guardian_id,
                    f"{link.guardian.first_name} {link.guardian.last_name} "
                    f"({link.get_relationship_display()})",
                )
                for link in links
            ),
            ("", _("Someone else (name them below)")),
        ]
        self.fields["guardian_id"].widget = forms.RadioSelect(
            choices=self.fields["guardian_id"].choices
        )

    def arguments(self) -> dict:
        data = dict(self.cleaned_data)
        data["with_whom"] = data["with_whom"] if data["guardian_id"] is None else ""
        return data


class StartInterventionForm(forms.Form):
    """Start an intervention from the district's playbook."""

    intervention_type_id = forms.TypedChoiceField(label=_("Intervention"), coerce=int)
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)

    def __init__(self, *args, kinds=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["intervention_type_id"].choices = [
            ("", _("Choose an intervention")),
            *((kind.pk, kind.name) for kind in kinds),
        ]


class ReferForCaseForm(forms.Form):
    """A teacher asks the case team for a case: why, in their words."""

    reason = forms.CharField(
        label=_("What worries you"),
        max_length=250,
        help_text=_("The counselor and principal read this; the family does not."),
    )

    def arguments(self) -> dict:
        return {"reason": self.cleaned_data["reason"]}


class OpenCaseForm(forms.Form):
    """Open a case for a student: from one of their flags, or by hand."""

    tier = forms.TypedChoiceField(label=_("Tier"), coerce=int, choices=TIER_CHOICES, initial=2)
    source_flag_id = forms.TypedChoiceField(
        label=_("Opened because of"), coerce=int, empty_value=None, required=False
    )
    note = forms.CharField(label=_("Why (optional)"), required=False, max_length=250)

    def __init__(self, *args, flags=(), **kwargs):
        super().__init__(*args, **kwargs)
        flags = list(flags)
        self.fields["source_flag_id"].choices = [
            *(
                (flag.pk, f"Flag: {flag.get_kind_display()} (since {display.date(flag.raised_on)})")
                for flag in flags
            ),
            ("", _("Opened by hand (no flag)")),
        ]
        if flags:
            self.fields["source_flag_id"].initial = flags[0].pk

    def arguments(self) -> dict:
        flag = self.cleaned_data["source_flag_id"]
        return {
            "tier": self.cleaned_data["tier"],
            "source": Case.Source.FLAG if flag else Case.Source.MANUAL,
            "source_flag_id": flag,
            "note": self.cleaned_data["note"],
        }


class TimelineFilterForm(forms.Form):
    """Which kinds of entries the student's timeline keeps to (optional, read from GET)."""

    kind = forms.ChoiceField(label=_("Show"), required=False)

    def __init__(self, *args, kinds=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", _("Everything")), *kinds]

    def kind_filter(self) -> str:
        return self.cleaned_data["kind"] if self.is_valid() else ""


# Case page ---------------------------------------------------------------------------


class BarrierForm(forms.Form):
    """Record a barrier (root cause) on a case."""

    barrier_id = forms.TypedChoiceField(label=_("Barrier"), coerce=int)
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, barriers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["barrier_id"].choices = [
            ("", _("Choose a barrier")),
            *((b.pk, b.name) for b in barriers),
        ]


def _steps_text(steps: list[dict]) -> str:
    return "\n".join(f"{step['who']}: {step['step']}" for step in steps)


class PlanForm(forms.Form):
    """Write or revise an attendance plan; steps one a line, as 'who: what'."""

    goal_percent = forms.DecimalField(
        label=_("Goal: attend this % of school days"),
        min_value=Decimal("0.1"),
        max_value=Decimal(100),
        decimal_places=1,
        initial=Decimal(95),
    )
    goal_until = DateField(label=_("Goal runs through"))
    review_on = DateField(label=_("Review on"))
    steps = forms.CharField(
        label=_("Steps"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One step a line, who first: 'Mother: wake-up call at 7:00'."),
    )
    agreed_with = forms.CharField(label=_("Agreed with (family)"), required=False, max_length=200)

    @classmethod
    def of_plan(cls, plan, **kwargs) -> "PlanForm":
        """A form holding a plan as it stands, to revise it."""
        kwargs.setdefault(
            "initial",
            {
                "goal_percent": (plan.goal_rate * 100).normalize(),
                "goal_until": plan.goal_until,
                "review_on": plan.review_on,
                "steps": _steps_text(plan.steps),
                "agreed_with": plan.agreed_with,
                "version": plan.version,
                "plan_id": plan.pk,
            },
        )
        return cls(**kwargs)

    def clean_steps(self) -> list[dict]:
        steps = []
        for number, line in enumerate(self.cleaned_data["steps"].splitlines(), start=1):
            if not line.strip():
                continue
            who, colon, step = line.partition(":")
            if not colon or not who.strip() or not step.strip():
                raise forms.ValidationError(
                    f"Line {number}: write who does it, a colon, then the step "
                    "('Mother: wake-up call at 7:00')."
                )
            steps.append({"step": step.strip(), "who": who.strip()})
        return steps

    def arguments(self) -> dict:
        data = dict(self.cleaned_data)
        data["goal_rate"] = data.pop("goal_percent") / 100
        data.pop("version", None)
        return data


class RevisePlanForm(PlanForm, VersionForm):
    """Revise a plan at the version read."""

    plan_id = forms.IntegerField(widget=forms.HiddenInput)


class ReviewPlanForm(VersionForm):
    """Record a plan's review."""

    plan_id = forms.IntegerField(widget=forms.HiddenInput)
    reviewed_on = DateField(label=_("Reviewed on"))
    note = forms.CharField(label=_("How it went"), widget=forms.Textarea(attrs={"rows": 2}))


class FollowUpForm(forms.Form):
    """Schedule a follow-up: what, by when, who."""

    description = forms.CharField(label=_("What"), max_length=300)
    due_on = DateField(label=_("Due on"))
    owner_id = forms.TypedChoiceField(label=_("Who"), coerce=int)

    def __init__(self, *args, owners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner_id"].choices = staff_choices(owners)


class CompleteFollowUpForm(VersionForm):
    """Record a follow-up done, with its outcome."""

    follow_up_id = forms.IntegerField(widget=forms.HiddenInput)
    done_on = DateField(label=_("Done on"))
    outcome = forms.CharField(label=_("Outcome"), max_length=2000)


class ReferralForm(forms.Form):
    """Refer the student to a partner."""

    partner_id = forms.TypedChoiceField(label=_("Partner"), coerce=int)
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)

    def __init__(self, *args, partners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partner_id"].choices = [
            ("", _("Choose a partner")),
            *((p.pk, p.name) for p in partners),
        ]


class ReferralStatusForm(VersionForm):
    """Record where a referral stands."""

    referral_id = forms.IntegerField(widget=forms.HiddenInput)
    status = forms.ChoiceField(label=_("Status"), choices=Referral.Status.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)


class NoteForm(forms.Form):
    """Add a note to a case."""

    topic = forms.ChoiceField(label=_("Topic"), choices=CaseNote.Topic.choices)
    confidential = forms.BooleanField(
        label=_("Confidential (health and family crisis notes always are)"), required=False
    )
    text = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}))


STRIKE_LABELS = {
    "barrier": "barrier",
    "plan": "plan",
    "intervention": "intervention",
    "follow_up": "follow-up",
    "contact": "contact",
    "note": "note",
    "referral": "referral",
}


class StrikeForm(forms.Form):
    """Strike an entry through with a reason (it stays in the history)."""

    entry = forms.ChoiceField(choices=list(STRIKE_LABELS.items()), widget=forms.HiddenInput)
    entry_id = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Reason"), max_length=2000)


@dataclass(frozen=True)
class UnsentStrike:
    """A strike form not yet sent, as _strike.html writes it: a long case lists hundreds,
    and a `StrikeForm` each (its fields deep-copied) took a good part of the page's time.
    `auto_id` as the form's ("id_strike_<entry key>_%s")."""

    entry: str
    entry_id: int
    auto_id: str
    is_bound = False
    errors: ClassVar[dict] = {}
    reason_label: ClassVar[str] = StrikeForm.base_fields["reason"].label
    reason_max_length: ClassVar[int] = StrikeForm.base_fields["reason"].max_length

    def _id(self, name: str) -> str:
        return self.auto_id % name

    @property
    def entry_html_id(self) -> str:
        return self._id("entry")

    @property
    def entry_id_html_id(self) -> str:
        return self._id("entry_id")

    @property
    def reason_html_id(self) -> str:
        return self._id("reason")


class TierForm(VersionForm):
    """Move the case to another tier."""

    tier = forms.TypedChoiceField(label=_("Tier"), coerce=int, choices=TIER_CHOICES)


class ManagerForm(VersionForm):
    """Assign or reassign the case manager."""

    case_manager_id = forms.TypedChoiceField(label=_("Case manager"), coerce=int)

    def __init__(self, *args, staff=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["case_manager_id"].choices = [("", _("Choose a case manager")), *staff]


class CloseForm(VersionForm):
    """Close the case with a reason."""

    reason = forms.ChoiceField(label=_("Reason"), choices=Case.CloseReason.choices)
    note = forms.CharField(
        label=_("Note (required for 'Other')"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


# Team meeting ------------------------------------------------------------------------


class AgendaForm(forms.Form):
    """Which school's team meeting, on which date (read from GET)."""

    school = forms.TypedChoiceField(label=_("School"), coerce=int)
    on = DateField(label=_("Meeting date"))

    def __init__(self, *args, schools=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["school"].choices = [(s.pk, s.name) for s in schools]


class TeamMeetingForm(forms.Form):
    """Record a team meeting: notes and up to `ACTION_ITEM_ROWS` action items."""

    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, owners=(), students=(), **kwargs):
        super().__init__(*args, **kwargs)
        owner_choices = [("", _("Owner")), *staff_choices(owners)]
        student_choices = [("", _("No student")), *((s.pk, s.full_name) for s in students)]
        for row in range(1, ACTION_ITEM_ROWS + 1):
            self.fields[f"item{row}_description"] = forms.CharField(
                label=f"Action item {row}", required=False, max_length=300
            )
            self.fields[f"item{row}_owner"] = forms.TypedChoiceField(
                label=_("Owner"),
                coerce=int,
                empty_value=None,
                required=False,
                choices=owner_choices,
            )
            self.fields[f"item{row}_student"] = forms.TypedChoiceField(
                label=_("Student"),
                coerce=int,
                empty_value=None,
                required=False,
                choices=student_choices,
                widget=LongSelect,
            )
            self.fields[f"item{row}_due"] = DateField(label=_("Due"), required=False)

    def item_rows(self) -> list[dict]:
        """The action item rows' bound fields, for the template."""
        return [
            {part: self[f"item{row}_{part}"] for part in ("description", "owner", "student", "due")}
            for row in range(1, ACTION_ITEM_ROWS + 1)
        ]

    def clean(self) -> dict:
        cleaned = super().clean()
        for row in range(1, ACTION_ITEM_ROWS + 1):
            if cleaned.get(f"item{row}_description") and not cleaned.get(f"item{row}_owner"):
                self.add_error(f"item{row}_owner", "Choose who owns this action item.")
        return cleaned

    def action_items(self) -> list[dict]:
        """The filled rows, as the action takes them."""
        return [
            {
                "description": self.cleaned_data[f"item{row}_description"],
                "owner_id": self.cleaned_data[f"item{row}_owner"],
                "student_id": self.cleaned_data[f"item{row}_student"],
                "due_on": self.cleaned_data[f"item{row}_due"],
            }
            for row in range(1, ACTION_ITEM_ROWS + 1)
            if self.cleaned_data.get(f"item{row}_description")
        ]


# District: playbook, barriers, partners, measures ------------------------------------


class InterventionTypeForm(forms.Form):
    """Add or change an intervention type of the playbook (by key)."""

    key = forms.SlugField(
        label=_("Key"), max_length=60, help_text=_("Stable name in the playbook file.")
    )
    name = forms.CharField(label=_("Name"), max_length=120)
    tiers = forms.TypedMultipleChoiceField(
        label=_("Tiers"), coerce=int, choices=TIER_CHOICES, widget=forms.CheckboxSelectMultiple
    )
    barrier_ids = forms.TypedMultipleChoiceField(
        label=_("Barriers it addresses"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    typical_weeks = forms.IntegerField(
        label=_("Typical weeks"), required=False, help_text=_("Empty: ongoing.")
    )
    evidence = forms.CharField(
        label=_("Evidence"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, barriers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["barrier_ids"].choices = [(b.pk, b.name) for b in barriers]


class PlaybookImportForm(forms.Form):
    """A playbook file to replace the district's playbook."""

    file = forms.FileField(label=_("Playbook file (TOML)"))

    def text(self) -> str | None:
        """The file's text, or None (and an error on the field) if it is not UTF-8."""
        try:
            return self.cleaned_data["file"].read().decode("utf-8")
        except UnicodeDecodeError:
            self.add_error("file", "The file is not UTF-8 text: save it as UTF-8 and try again.")
            return None


class SisMappingForm(forms.Form):
    """Show one of the SIS's intervention codes as a playbook entry, or as itself (empty)."""

    code = forms.CharField(max_length=60, widget=forms.HiddenInput)
    intervention_type_id = forms.TypedChoiceField(
        label=_("Shown as"), coerce=int, empty_value=None, required=False
    )

    def __init__(self, *args, kinds=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["intervention_type_id"].choices = [
            ("", _("Itself, as the SIS names it")),
            *((kind.pk, kind.name) for kind in kinds),
        ]


class RetireForm(forms.Form):
    """Retire a barrier, intervention type or partner."""

    entry = forms.ChoiceField(
        choices=[
            ("barrier", "barrier"),
            ("intervention_type", "intervention"),
            ("partner", "partner"),
        ],
        widget=forms.HiddenInput,
    )
    entry_id = forms.IntegerField(widget=forms.HiddenInput)


class BarrierEntryForm(forms.Form):
    """Add a barrier to the district's list, or rename one (by key)."""

    key = forms.SlugField(label=_("Key"), max_length=60)
    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(label=_("Description"), required=False, max_length=2000)


class PartnerForm(forms.Form):
    """Add or change a partner of the directory."""

    partner_id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(label=_("Name"), max_length=200)
    services = forms.CharField(
        label=_("Services"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    barrier_ids = forms.TypedMultipleChoiceField(
        label=_("Barriers it addresses"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    languages = forms.MultipleChoiceField(
        label=_("Languages served"),
        choices=Language.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    contact_name = forms.CharField(label=_("Contact"), required=False, max_length=200)
    phone = forms.CharField(label=_("Phone"), required=False, max_length=30)
    email = forms.EmailField(label=_("Email"), required=False)
    capacity = forms.IntegerField(
        label=_("Capacity (open referrals)"), required=False, help_text=_("Empty: no limit.")
    )
    school_ids = forms.TypedMultipleChoiceField(
        label=_("Schools served (none: all)"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, barriers=(), schools=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["barrier_ids"].choices = [(b.pk, b.name) for b in barriers]
        self.fields["school_ids"].choices = [(s.pk, s.name) for s in schools]


class WindowForm(forms.Form):
    """The window of dates process measures count over (read from GET)."""

    start = DateField(label=_("From"))
    end = DateField(label=_("Through"))

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("start") and cleaned.get("end") and cleaned["end"] < cleaned["start"]:
            self.add_error("end", "Must be on or after the first date.")
        return cleaned
