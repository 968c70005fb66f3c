"""Forms of the outreach pages: they parse what staff type into the actions' arguments."""

from django import forms

from homeroom.outreach.actions import CHANNEL_WORDS
from homeroom.outreach.models import MessageKind
from homeroom.roster.models import ContactChannel, Language


class FamilyMessageForm(forms.Form):
    """A one-off message to one of the student's guardians, by text or email."""

    guardian_id = forms.TypedChoiceField(label="To", coerce=int)
    channel = forms.ChoiceField(
        label="By",
        choices=[(ContactChannel.SMS, "Text message"), (ContactChannel.EMAIL, "Email")],
    )
    text = forms.CharField(
        label="Message",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Sent in your words; the greeting and the way to reply or opt out are added "
        "in the family's language.",
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
        required=False, label="Preview for student (id)", help_text="A student you see."
    )
