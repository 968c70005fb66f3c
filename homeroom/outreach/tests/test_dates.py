"""Dates in messages and letters are written in the family's language."""

import datetime as dt

import pytest

from homeroom.metrics.display import family_date
from homeroom.outreach.actions import queue_trigger_message

DECEMBER_7 = dt.date(2026, 12, 7)


@pytest.mark.parametrize(
    ("language", "expected"),
    [  # each language's long date form, written by hand from its usage
        ("en", "December 7, 2026"),
        ("es", "7 de diciembre de 2026"),
        ("vi", "7 tháng 12, 2026"),
        ("zh", "2026年12月7日"),
        ("ar", "7 ديسمبر 2026"),
        ("so", "Diseembar 7, 2026"),
        ("ht", "7 desanm 2026"),
        ("tl", "Disyembre 7, 2026"),
        ("other", "December 7, 2026"),  # no locale: English
    ],
)
def test_a_date_is_written_in_each_language_s_own_form(language, expected):
    assert family_date(DECEMBER_7, language) == expected


def test_haitian_creole_months_are_its_own_not_french():
    assert family_date(dt.date(2027, 7, 1), "ht") == "1 jiyè 2027"
    assert family_date(dt.date(2027, 2, 28), "ht") == "28 fevriye 2027"


@pytest.mark.django_db
def test_a_trigger_message_states_the_date_in_the_guardian_s_language(cast, families):
    # a trigger decides on the same day for María (Spanish) and Linh (Vietnamese, email)
    spanish = queue_trigger_message(
        district=cast.district,
        kind="absence_today",
        channel="sms",
        guardian=families.maria,
        students=(cast.ana,),
        key="absence_today:dates:es",
        values={"school": "Lincoln Elementary", "date": DECEMBER_7},
        stated={"date": "2026-12-07"},
    )
    vietnamese = queue_trigger_message(
        district=cast.district,
        kind="absence_today",
        channel="email",
        guardian=families.linh,
        students=(cast.ben,),
        key="absence_today:dates:vi",
        values={"school": "Lincoln Elementary", "date": DECEMBER_7},
        stated={"date": "2026-12-07"},
    )
    assert "ausente hoy, 7 de diciembre de 2026." in spanish.body
    assert "hôm nay, 7 tháng 12, 2026." in vietnamese.body
