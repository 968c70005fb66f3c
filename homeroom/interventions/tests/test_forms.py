"""The forms' own widgets write the markup Django's would."""

import re

from django import forms

from homeroom.interventions.forms import LongSelect

CHOICES = [("", "No student"), (7, "Ana <Alvarez> & co"), (12, "Ben Brooks")]


def markup(widget: forms.Select, value) -> str:
    html = widget.render("item1_student", value, attrs={"id": "id_item1_student"})
    return re.sub(r">\s+<", "><", str(html)).strip()


def test_long_select_writes_the_markup_of_django_select():
    for value in (None, "", 7, "12"):
        for required in (False, True):
            ours, django = LongSelect(choices=CHOICES), forms.Select(choices=CHOICES)
            ours.is_required = django.is_required = required
            assert markup(ours, value) == markup(django, value)


def test_long_select_writes_option_groups_as_django_select_does():
    grouped = [("Lincoln", [(1, "Ana")]), ("Central", [(2, "Carla"), (3, "Dev")])]
    assert markup(LongSelect(choices=grouped), 2) == markup(forms.Select(choices=grouped), 2)
