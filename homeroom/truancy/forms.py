"""Forms of the truancy pages: they parse; the actions decide and validate."""

from django import forms
from django.utils.translation import gettext_lazy as _

from homeroom.truancy.packs import shipped_packs


class DecisionForm(forms.Form):
    """Approve a step at the version read."""

    version = forms.IntegerField(widget=forms.HiddenInput)


class DeclineForm(DecisionForm):
    """Decline a step, saying why."""

    reason = forms.CharField(
        max_length=500,
        label=_("Why is this step declined?"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class MeetingForm(DecisionForm):
    """Record an approved meeting step as held, with its agreement."""

    held_on = forms.DateField(label=_("Held on"), widget=forms.DateInput(attrs={"type": "date"}))
    place = forms.CharField(max_length=200, required=False, label=_("Where"))
    attendees = forms.CharField(
        label=_("Who attended"),
        help_text=_("One a line: name and role."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    agreement = forms.CharField(
        label=_("What the family and the school agreed"),
        help_text=_(
            "The attendance agreement, printed for signature. Leave a blank line between "
            "paragraphs."
        ),
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    notes = forms.CharField(
        required=False, label=_("Notes"), widget=forms.Textarea(attrs={"rows": 2})
    )


class PackForm(forms.Form):
    """The district's pack: a shipped one, optionally with the district's changes."""

    based_on = forms.ChoiceField(label=_("State law"), choices=[])
    text = forms.CharField(
        required=False,
        label=_("The district's changes (TOML)"),
        help_text=_(
            'Leave empty to follow the pack as shipped; see "How a district edits its '
            'pack" in the documentation.'
        ),
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["based_on"].choices = [(name, name) for name in shipped_packs()]
