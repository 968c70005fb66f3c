"""The forms' own widgets write the markup Django's would."""

import re
from types import SimpleNamespace

from django import forms
from django.template.loader import render_to_string
from django.urls import reverse

from homeroom.interventions.forms import LongSelect, StrikeForm, UnsentStrike

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


def test_the_strike_form_not_yet_sent_is_written_as_the_generic_form_writes_it():
    form = StrikeForm(initial={"entry": "contact", "entry_id": 12}, auto_id="id_c-12_%s")
    unsent = UnsentStrike(entry="contact", entry_id=12, auto_id="id_c-12_%s")
    context = {"case": SimpleNamespace(pk=3), "manages": True}
    ours = render_to_string("interventions/_strike.html", context | {"form": unsent})
    generic = render_to_string(
        "interventions/_form.html",
        context
        | {"form": form, "action": reverse("interventions:case_strike", args=[3])}
        | {"button": "Strike through", "danger": True},
    )
    form_of = re.compile(r"<form.*</form>", re.S)
    assert squeeze(form_of.search(ours)[0]) == squeeze(form_of.search(generic)[0])


def squeeze(html: str) -> str:
    return re.sub(r">\s+<", "><", html).strip()
