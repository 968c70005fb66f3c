"""The cast's families for the survey tests, and a families survey of the default barriers.

- María Alvarez (Spanish; texts consented) and José Alvarez (same address) are Ana's
  parents: one household, reached through María, who comes first;
- Bea Brooks (English; email consented) is Ben's mother;
- Carlos Chen (Arabic; opted out of texts, no email or postal address) is Carla's father:
  no channel reaches him;
- Dana Desai is Dev's guardian, marked no contact: never asked;
- Gloria Garcia (English; nothing consented, a postal address) is Gabe's: a letter.
Eli left a month ago and Hal last year: their families are not invited.
"""

import datetime as dt
from types import SimpleNamespace

from homeroom.interventions.actions import do_install_defaults
from homeroom.interventions.models import Barrier
from homeroom.outreach.actions import do_install_default_templates
from homeroom.roster.models import ContactPreference, Guardian, StudentGuardian
from homeroom.surveys.actions import do_create_survey
from homeroom.surveys.models import Answer, Invitation
from homeroom.surveys.tokens import new_token, token_hash


def guardian(cast, local_id, first, last, *, language="en", phone="", email="", street=""):
    return Guardian.objects.create(
        district=cast.district,
        local_id=local_id,
        first_name=first,
        last_name=last,
        phone=phone,
        email=email,
        address_line=street,
        city="Riverside" if street else "",
        state="IL" if street else "",
        postal_code="60601" if street else "",
        preferred_language=language,
    )


def link(pupil, parent, *, priority=1, no_contact=False):
    StudentGuardian.objects.create(
        student=pupil,
        guardian=parent,
        relationship=StudentGuardian.Relationship.MOTHER,
        contact_priority=priority,
        no_contact=no_contact,
    )


def consent(parent, channel, value=ContactPreference.Consent.GRANTED, preferred=True):
    ContactPreference.objects.create(
        guardian=parent, channel=channel, consent=value, preferred=preferred
    )


def families(cast) -> SimpleNamespace:
    """The families above, the default barriers and templates, and a families survey open
    for two weeks."""
    do_install_defaults(cast.district)
    do_install_default_templates(cast.district)
    maria = guardian(
        cast, "G1", "María", "Alvarez", language="es", phone="+13125550101", street="1 Elm St"
    )
    jose = guardian(
        cast, "G2", "José", "Alvarez", language="es", phone="+13125550102", street="1 Elm  st"
    )
    bea = guardian(cast, "G3", "Bea", "Brooks", email="bea@example.org")
    carlos = guardian(cast, "G4", "Carlos", "Chen", language="ar", phone="+13125550104")
    dana = guardian(cast, "G5", "Dana", "Desai", email="dana@example.org")
    gloria = guardian(cast, "G6", "Gloria", "Garcia", street="7 Oak Ave")
    link(cast.ana, maria)
    link(cast.ana, jose, priority=2)
    link(cast.ben, bea)
    link(cast.carla, carlos)
    link(cast.dev, dana, no_contact=True)
    link(cast.gabe, gloria)
    consent(maria, "sms")
    consent(jose, "sms")
    consent(bea, "email")
    consent(carlos, "sms", ContactPreference.Consent.OPTED_OUT)
    consent(dana, "email")
    survey = do_create_survey(
        cast.admin,
        title="Getting to school",
        audience="families",
        barrier_ids=list(
            Barrier.objects.filter(district=cast.district).values_list("pk", flat=True)
        ),
        closes_on=min(cast.today + dt.timedelta(days=14), cast.this_year.end_date),
    )
    return SimpleNamespace(
        cast=cast,
        survey=survey,
        maria=maria,
        jose=jose,
        bea=bea,
        carlos=carlos,
        dana=dana,
        gloria=gloria,
    )


def barrier(cast, key: str) -> Barrier:
    return Barrier.objects.get(district=cast.district, key=key)


def answered(survey, household: str, students, schools, barriers, language="en") -> Answer:
    """A household's answer recorded directly (no message): the roll-up tests' many answers."""
    invitation = Invitation.objects.create(
        survey=survey, token_hash=token_hash(new_token()), household=household, language=language
    )
    invitation.students.set(students)
    invitation.schools.set(schools)
    answer = Answer.objects.create(invitation=invitation, language=language)
    answer.barriers.set(barriers)
    return answer
