"""Forms of the outreach pages: they parse what staff type into the actions' arguments."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from homeroom.outreach.actions import CHANNEL_WORDS
from homeroom.outreach.models import MessageKind
from homeroom.roster.models import ContactChannel, Language


class FamilyMessageForm(forms.Form):
    """A one-off message to one of the student's guardians, by text or email."""

    guardian_id = forms.TypedChoiceField(label=pgettext_lazy("recipient", "To"), coerce=int)
    channel = forms.ChoiceField(
        label=_("By"),
        choices=[(ContactChannel.SMS, _("Text message")), (ContactChannel.EMAIL, _("Email"))],
    )
    text = forms.CharField(
        label=_("Message"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "Sent in your words; the greeting and the way to reply or opt out are added "
            "in the family's language."
        ),
    )
    case_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    in_reply_to_id = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, data=None, *, reachable, initial=None) -> None:
        super().__init__(data, initial=initial)
        self.fields["guardian_id"].choices = [
            (
                item.guardian.pk,
                f"{item.guardian} ({Language(item.guardian.preferred_language).label}; "
                + (
                    ", ".join(CHANNEL_WORDS[c] for c in item.channels)
                    or "no consent to texts or email"
                )
                + ")",
            )
            for item in reachable
        ]


class TemplateForm(forms.Form):
    """New words for a message kind in one language, at the version the editor read."""

    kind = forms.ChoiceField(choices=MessageKind.choices, widget=forms.HiddenInput)
    language = forms.ChoiceField(choices=Language.choices, widget=forms.HiddenInput)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    subject = forms.CharField(required=False, max_length=200)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}))
    preview_student = forms.IntegerField(
        required=False, label=_("Preview for student (id)"), help_text=_("A student you see.")
    )


def _marks(text: str, what: str) -> list[int]:
    """ "5, 10" as [5, 10]; a clear error for anything else."""
    marks = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) <= 180:
            raise forms.ValidationError(
                f"“{part}” is not a number of days: write whole numbers from 1 to 180, "
                f"separated by commas (e.g. {what})."
            )
        marks.append(int(part))
    return sorted(set(marks))


class OutreachSettingsForm(forms.Form):
    """The district's triggers, quiet hours, weekly cap and fallback language, as typed."""

    absence_today = forms.BooleanField(required=False, label=_("Send the same-day absence notice"))
    absence_today_not_before = forms.TimeField(
        label=_("Not before (district time)"),
        help_text=_("The notice waits until the day's attendance is taken, e.g. 10:00."),
    )
    absence_threshold = forms.BooleanField(
        required=False, label=_("Send the yearly threshold notices")
    )
    absence_threshold_year = forms.CharField(
        required=False,
        label=_("Tell the family at these days absent"),
        help_text=_(
            "Whole numbers separated by commas, e.g. 5, 10. Each mark is told once a year."
        ),
    )
    absence_month = forms.BooleanField(
        required=False, label=_("Send the monthly threshold notices")
    )
    absence_month_month = forms.CharField(
        required=False,
        label=_("Tell the family at these days absent in a calendar month"),
        help_text=_("e.g. 3 for the third absence in a month. Each mark is told once a month."),
    )
    tier_change = forms.BooleanField(required=False, label=_("Send a notice when the tier rises"))
    recognition = forms.BooleanField(required=False, label=_("Send the recognition message"))
    recognition_margin = forms.DecimalField(
        label=_("Improvement needed (percentage points)"),
        min_value=1,
        max_value=50,
        decimal_places=1,
        help_text=_("Attendance over the last 4 weeks compared with the 4 before, e.g. 5."),
    )
    recognition_min_days = forms.IntegerField(
        label=_("School days needed in each 4 weeks"),
        min_value=5,
        max_value=20,
        help_text=_("Students enrolled fewer days in either window are not compared."),
    )
    nudge = forms.BooleanField(required=False, label=_("Send the nudge letter"))
    nudge_min_days = forms.IntegerField(
        label=_("Letters to students with at least this many days absent"),
        min_value=1,
        max_value=180,
    )
    nudge_share = forms.IntegerField(
        label=_("Share of households sent the letter (percent)"),
        min_value=1,
        max_value=100,
        help_text=_("The rest are the holdout, to measure the letter's effect."),
    )
    nudge_round = forms.CharField(
        label=_("Round"),
        max_length=20,
        help_text=_("A new round draws the households again and may send a new letter."),
    )
    quiet_start = forms.TimeField(
        label=_("Quiet hours start"), help_text=_("No texts from, e.g. 20:00.")
    )
    quiet_end = forms.TimeField(
        label=_("Quiet hours end"), help_text=_("…until, e.g. 08:00. The same time twice: none.")
    )
    weekly_cap = forms.IntegerField(
        label=_("Messages to a household in any 7 days, at most"), min_value=1, max_value=14
    )
    fallback_language = forms.ChoiceField(
        label=_("Fallback language"),
        choices=[(code, label) for code, label in Language.choices if code != Language.OTHER],
        help_text=_("For families whose language has no template."),
    )

    def clean_absence_threshold_year(self) -> list[int]:
        return _marks(self.cleaned_data["absence_threshold_year"], "5, 10")

    def clean_absence_month_month(self) -> list[int]:
        return _marks(self.cleaned_data["absence_month_month"], "3")

    def clean(self):
        data = super().clean()
        for switch, marks in (
            ("absence_threshold", "absence_threshold_year"),
            ("absence_month", "absence_month_month"),
        ):
            if data.get(switch) and marks in data and not data[marks]:
                self.add_error(marks, "Give at least one number of days, or switch this off.")
        return data

    def triggers(self) -> dict:
        """The cleaned values as `OutreachSettings.triggers` holds them."""
        data = self.cleaned_data
        return {
            "absence_today": {
                "enabled": data["absence_today"],
                "not_before": data["absence_today_not_before"].strftime("%H:%M"),
            },
            "absence_threshold": {
                "enabled": data["absence_threshold"],
                "year": data["absence_threshold_year"],
            },
            "absence_month": {
                "enabled": data["absence_month"],
                "month": data["absence_month_month"],
            },
            "tier_change": {"enabled": data["tier_change"]},
            "recognition": {
                "enabled": data["recognition"],
                "margin": float(data["recognition_margin"]) / 100,
                "min_days": data["recognition_min_days"],
            },
            "nudge": {
                "enabled": data["nudge"],
                "min_days": data["nudge_min_days"],
                "share": data["nudge_share"] / 100,
                "round": data["nudge_round"].strip(),
            },
        }

    @staticmethod
    def initial_from(rules, triggers: dict) -> dict:
        """The form's values from the district's settings (`triggers.trigger_settings`)."""
        return {
            "absence_today": triggers["absence_today"]["enabled"],
            "absence_today_not_before": triggers["absence_today"]["not_before"],
            "absence_threshold": triggers["absence_threshold"]["enabled"],
            "absence_threshold_year": ", ".join(map(str, triggers["absence_threshold"]["year"])),
            "absence_month": triggers["absence_month"]["enabled"],
            "absence_month_month": ", ".join(map(str, triggers["absence_month"]["month"])),
            "tier_change": triggers["tier_change"]["enabled"],
            "recognition": triggers["recognition"]["enabled"],
            "recognition_margin": round(float(triggers["recognition"]["margin"]) * 100, 1),
            "recognition_min_days": triggers["recognition"]["min_days"],
            "nudge": triggers["nudge"]["enabled"],
            "nudge_min_days": triggers["nudge"]["min_days"],
            "nudge_share": round(float(triggers["nudge"]["share"]) * 100),
            "nudge_round": triggers["nudge"]["round"],
            "quiet_start": rules.quiet_start.strftime("%H:%M"),
            "quiet_end": rules.quiet_end.strftime("%H:%M"),
            "weekly_cap": rules.weekly_cap,
            "fallback_language": rules.fallback_language,
        }
