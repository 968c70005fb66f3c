"""The escalation rules on plain data: windows, order, the rate step (no database: the
counting of events by category and minutes is in test_actions.py, on both databases)."""

import datetime as dt

from homeroom.truancy.evaluation import Absence, Recorded, months_before, next_step, next_steps
from homeroom.truancy.packs import load_pack

TUESDAY = dt.date(2026, 9, 1)


def day(date: dt.date, student: int = 1, event: int | None = None) -> Absence:
    return Absence(student, event or date.toordinal(), date, "A", "unexcused", None, 1)


def days(*offsets: int, start: dt.date = TUESDAY) -> list[Absence]:
    return [day(start + dt.timedelta(days=offset)) for offset in offsets]


def reached(pack: str, absences, recorded=None, as_of=dt.date(2027, 6, 1), enrolled=None):
    found = next_step(
        load_pack(pack), absences, recorded or {}, as_of=as_of, days_enrolled=enrolled
    )
    return None if found is None else (found[0].key, found[1], len(found[2]))


SENT = Recorded("sent", dt.date(2026, 10, 1))


def test_months_before_keeps_the_day_or_the_months_last():
    assert months_before(dt.date(2027, 3, 1), 6) == dt.date(2026, 9, 1)
    assert months_before(dt.date(2027, 8, 31), 6) == dt.date(2027, 2, 28)


def test_texas_warning_needs_three_within_four_weeks_and_the_window_slides():
    # the 1st and the 28th day are within four weeks; the 29th is not
    assert reached("texas", days(0, 14, 27)) == ("warning", TUESDAY + dt.timedelta(27), 3)
    assert reached("texas", days(0, 14, 28)) is None
    # a fourth absence a week later makes a window of three from the 14th
    assert reached("texas", days(0, 14, 28, 35)) == ("warning", TUESDAY + dt.timedelta(35), 3)


def test_texas_court_needs_ten_within_six_months_after_prevention():
    recorded = {"warning": SENT, "prevention": SENT}
    nine = days(*range(0, 9 * 7, 7))  # weekly from Tuesday Sep 1
    # the tenth on Feb 28: within six months of Sep 1
    assert reached("texas", [*nine, day(dt.date(2027, 2, 28))], recorded) == (
        "court",
        dt.date(2027, 2, 28),
        10,
    )
    # the tenth on Mar 1, the same day six months later: outside
    assert reached("texas", [*nine, day(dt.date(2027, 3, 1))], recorded) is None
    # the window slides: an eleventh on Mar 2 makes ten (Sep 8 to Mar 2) within six months
    eleven = [*nine, day(dt.date(2027, 3, 1)), day(dt.date(2027, 3, 2))]
    assert reached("texas", eleven, recorded) == ("court", dt.date(2027, 3, 2), 10)
    # nine only: never
    assert reached("texas", nine, recorded) is None


def test_a_step_is_never_reached_before_the_previous_one_was_sent():
    absences = days(*range(0, 20))
    # six absences: NOT1 is the step reached, never NOT2
    assert reached("north-carolina", absences[:6]) == ("not1", TUESDAY + dt.timedelta(2), 6)
    # NOT1 awaiting approval: nothing more
    assert reached("north-carolina", absences[:6], {"not1": Recorded("eligible", None)}) is None
    # NOT1 sent: NOT2 at six
    assert reached("north-carolina", absences[:6], {"not1": SENT})[0] == "not2"
    assert reached("north-carolina", absences[:5], {"not1": SENT}) is None
    # declined stops the escalation
    assert reached("north-carolina", absences, {"not1": Recorded("declined", None)}) is None


def test_california_second_report_counts_only_absences_after_the_first_was_sent():
    before = days(0, 1, 2)  # Sep 1-3, NOT1 sent Oct 1
    assert reached("california", before, {"not1": SENT}) is None
    after = [*before, day(dt.date(2026, 10, 2))]
    assert reached("california", after, {"not1": SENT}) == ("not2", dt.date(2026, 10, 2), 4)
    # an absence on the day the notice went out is not "again"
    same_day = [*before, day(dt.date(2026, 10, 1))]
    assert reached("california", same_day, {"not1": SENT}) is None


def test_california_chronic_truant_at_ten_percent_of_days_enrolled():
    recorded = {key: SENT for key in ("not1", "not2", "sart", "not3", "sarb")}
    nine = days(*range(9))
    assert reached("california", nine, recorded, enrolled=91) is None  # 9.9%
    assert reached("california", nine, recorded, enrolled=90)[0] == "chronic"  # 10%


def test_a_day_counts_once_and_exemptions_block():
    pack = load_pack("texas")
    twice = [day(TUESDAY, event=1), day(TUESDAY, event=2), day(TUESDAY + dt.timedelta(1))]
    assert next_steps(pack, twice, {}, as_of=dt.date(2027, 1, 1)) == []
    recorded = {1: {"warning": SENT, "prevention": SENT}}
    ten = days(*range(10))
    found = next_steps(
        pack, ten, recorded, as_of=dt.date(2027, 1, 1), characteristics={1: {"homeless"}}
    )
    assert [(f.step.key, f.blocked_by) for f in found] == [("court", ("homeless",))]
