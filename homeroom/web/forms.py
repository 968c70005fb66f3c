"""Forms of the staff web interface."""

from collections.abc import Iterable

from django import forms
from django.db.models import QuerySet

from homeroom.core.models import GradeLevel, School
from homeroom.web.tables import SORT_CHOICES


class StudentSearchForm(forms.Form):
    """Search, filters and sort order of the students list (all optional, read from GET)."""

    q = forms.CharField(label="Name or student id", required=False, max_length=100)
    school = forms.ModelChoiceField(
        label="School", queryset=School.objects.none(), required=False, empty_label="All schools"
    )
    grade = forms.TypedChoiceField(
        label="Grade", choices=(), coerce=int, empty_value=None, required=False
    )
    sort = forms.ChoiceField(label="Sort by", choices=SORT_CHOICES, required=False)

    def __init__(self, data, *, schools: QuerySet[School], grades: Iterable[int]) -> None:
        super().__init__(data)
        self.fields["school"].queryset = schools
        labels = dict(GradeLevel.choices)
        self.fields["grade"].choices = [
            ("", "All grades"),
            *((grade, labels[grade]) for grade in grades),
        ]
        self.fields["q"].widget.attrs.update({"type": "search", "autocomplete": "off"})

    def filters(self) -> dict:
        """The valid filters given; a field with a bad value is simply not applied."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {
            "text": (cleaned.get("q") or "").strip(),
            "school": cleaned.get("school"),
            "grade": cleaned.get("grade"),
            "sort": cleaned.get("sort") or "name",
        }
