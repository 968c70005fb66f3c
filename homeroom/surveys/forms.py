"""The survey builder's form: it parses what staff choose into `do_create_survey`'s arguments."""

from django import forms

from homeroom.interventions.models import Barrier
from homeroom.surveys.models import Audience


class SurveyForm(forms.Form):
    """A new barrier survey: its title, audience, barriers and last day."""

    title = forms.CharField(max_length=200, help_text="Families see it at the top of the page.")
    audience = forms.ChoiceField(choices=Audience.choices, initial=Audience.FAMILIES)
    barrier_ids = forms.ModelMultipleChoiceField(
        label="Barriers to ask about",
        queryset=Barrier.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )
    closes_on = forms.DateField(
        label="Last day to answer", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, data=None, *, district_id: int) -> None:
        barriers = Barrier.objects.filter(district_id=district_id, retired_on__isnull=True)
        super().__init__(data, initial={"barrier_ids": list(barriers)})
        self.fields["barrier_ids"].queryset = barriers.order_by("name")
