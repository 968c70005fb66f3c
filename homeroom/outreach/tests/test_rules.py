"""The rules that need no database: keywords, quiet hours, phone numbers, households."""

import datetime as dt
import zoneinfo

import pytest

from homeroom.outreach.rules import household_of, keyword_of, next_allowed, normal_phone

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


@pytest.mark.parametrize(
    ("reply", "keyword"),
    [
        ("STOP", "stop"),
        (" Stop. ", "stop"),
        ("unsubscribe", "stop"),
        ("ALTO", "stop"),  # Spanish
        ("Dừng", "stop"),  # Vietnamese
        ("停止", "stop"),  # Chinese
        ("توقف", "stop"),  # Arabic
        ("Jooji", "stop"),  # Somali
        ("sispann", "stop"),  # Haitian Creole
        ("TIGIL", "stop"),  # Tagalog
        ("start", "start"),
        ("UNSTOP", "start"),
        ("Iniciar", "start"),
        ("please don't stop", None),
        ("Ana está enferma hoy", None),
        ("", None),
    ],
)
def test_a_whole_reply_of_a_keyword_changes_consent_and_nothing_else_does(reply, keyword):
    assert keyword_of(reply) == keyword


def local(hour: int, minute: int = 0, day: int = 8) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=CHICAGO)


@pytest.mark.parametrize(
    ("at", "allowed"),
    [
        (local(21, 30), local(8, 0, day=9)),  # evening: next morning
        (local(2, 15), local(8, 0)),  # small hours: this morning
        (local(7, 59), local(8, 0)),
        (local(8, 0), local(8, 0)),  # the quiet ends at 8:00 sharp
        (local(12, 0), local(12, 0)),  # day time: at once
        (local(19, 59), local(19, 59)),
        (local(20, 0), local(8, 0, day=9)),
    ],
)
def test_a_text_due_in_quiet_hours_waits_for_the_morning(at, allowed):
    # given quiet hours of 8 pm to 8 am in Chicago
    found = next_allowed(at, timezone="America/Chicago", start=dt.time(20), end=dt.time(8))
    assert found == allowed


def test_quiet_hours_within_a_day_and_none_at_all():
    lunch = {"timezone": "America/Chicago", "start": dt.time(12), "end": dt.time(13)}
    assert next_allowed(local(12, 30), **lunch) == local(13, 0)
    assert next_allowed(local(13, 0), **lunch) == local(13, 0)
    never = {"timezone": "America/Chicago", "start": dt.time(0), "end": dt.time(0)}
    assert next_allowed(local(3, 0), **never) == local(3, 0)


@pytest.mark.parametrize(
    ("written", "number"),
    [
        ("(555) 010-1001", "+15550101001"),
        ("555.010.1001", "+15550101001"),
        ("1-555-010-1001", "+15550101001"),
        ("+44 20 7946 0958", "+442079460958"),
        ("010-1001", ""),
        ("", ""),
    ],
)
def test_phone_numbers_are_compared_in_one_form(written, number):
    assert normal_phone(written) == number


def test_a_household_is_its_street_address_else_the_guardian():
    one = household_of(guardian_id=1, address_line="12  Elm St", postal_code="60546-1234")
    other = household_of(guardian_id=2, address_line="12 elm st", postal_code="60546")
    assert one == other
    assert household_of(guardian_id=3, address_line="", postal_code="") == "guardian:3"
