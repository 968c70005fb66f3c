"""The night's outreach triggers: who gets which message, decided set-wise, sent through the outbox.

Each trigger is switched on or off and configured per district
(`OutreachSettings.triggers`, merged over `DEFAULT_TRIGGERS`):

- `absence_today`: an unexcused absence on the as-of date, when that date is today and the
  district's clock has passed `not_before` (a district importing at midday runs the
  pipeline after that import);
- `absence_threshold`: the student's days absent this school year reached one of `year`
  (e.g. the 5th and 10th absence), each mark once a year;
- `absence_month`: the student's days absent this calendar month reached one of `month`
  (e.g. the 3rd absence), each mark once a month;
- `tier_change`: the student's tier rose tonight (the pipeline says whose);
- `recognition`: attendance over the last 4 weeks improved on the 4 weeks before by at
  least `margin`, told at most once a calendar month;
- `nudge`: the letter comparing the child's absences with a typical classmate's.

Days absent and enrolled by window are the metric definitions' (`definitions.student_months`
under the district's rule profile), so they agree with the summaries.

Students are grouped by the guardian who will hear about them (the first by contact
priority who may be contacted on a channel they consented to), so siblings get one
message naming each child. `TriggerHit` records what was decided, in the same transaction
as the message, so a night run twice sends nothing twice.
"""

import datetime as dt
import hashlib
import statistics
import zoneinfo
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from homeroom.attendance.models import AttendanceEvent, Category
from homeroom.core.models import District
from homeroom.core.selectors import current_school_year, district_today
from homeroom.metrics import definitions
from homeroom.metrics.display import days as show_days
from homeroom.metrics.engines import database_engine
from homeroom.metrics.models import StudentSummary
from homeroom.metrics.rules import load_rule_profile
from homeroom.outreach.actions import Draft, outreach_settings, queue_many
from homeroom.outreach.models import Message, MessageKind, TriggerHit
from homeroom.outreach.rules import consent_allows
from homeroom.outreach.selectors import address_of
from homeroom.roster.models import ContactPreference, Enrollment, Student, StudentGuardian

DEFAULT_TRIGGERS: dict[str, dict[str, Any]] = {
    "absence_today": {"enabled": True, "not_before": "10:00", "channels": ["sms", "email"]},
    "absence_threshold": {"enabled": True, "year": [5, 10], "channels": ["sms", "email"]},
    # The nth absence in a calendar month (e.g. the 3rd), each mark once a month.
    "absence_month": {"enabled": False, "month": [3], "channels": ["sms", "email"]},
    "tier_change": {"enabled": False, "channels": ["sms", "email"]},
    # Attendance over the last 4 weeks at least `margin` (a share: 0.05 is 5 points) above
    # the 4 weeks before, with at least `min_days` school days in each; once a month.
    "recognition": {"enabled": False, "margin": 0.05, "min_days": 10, "channels": ["sms", "email"]},
    # Rogers & Feller (2018): a mailed letter with the child's days absent and a typical
    # classmate's. `share` of eligible households get it; the rest are the recorded holdout.
    "nudge": {"enabled": False, "min_days": 3, "share": 0.5, "round": "1", "channels": ["letter"]},
}


def trigger_settings(district: District) -> dict[str, dict[str, Any]]:
    """Each trigger's settings: the district's over Homeroom's defaults."""
    chosen = outreach_settings(district).triggers or {}
    return {name: {**default, **chosen.get(name, {})} for name, default in DEFAULT_TRIGGERS.items()}


def _contacts(student_ids: set[int], channels: list[str]) -> dict[int, tuple[Any, str]]:
    """Per student, the guardian to tell and the channel: the first by contact priority
    with contact rights, no "no contact" mark, and consent and an address for a channel."""
    links = (
        StudentGuardian.objects.filter(
            student_id__in=student_ids, contact_rights=True, no_contact=False
        )
        .select_related("guardian")
        .order_by("student_id", "contact_priority", "pk")
    )
    links = list(links)
    consents = defaultdict(dict)
    for guardian_id, channel, consent in ContactPreference.objects.filter(
        guardian_id__in={link.guardian_id for link in links}
    ).values_list("guardian_id", "channel", "consent"):
        consents[guardian_id][channel] = consent
    chosen: dict[int, tuple[Any, str]] = {}
    for link in links:
        if link.student_id in chosen:
            continue
        guardian = link.guardian
        for channel in channels:
            consent = consents[guardian.pk].get(channel, ContactPreference.Consent.UNKNOWN)
            if consent_allows(channel, consent) and address_of(guardian, channel):
                chosen[link.student_id] = (guardian, channel)
                break
    return chosen


def _schools(student_ids: set[int], on: dt.date) -> dict[int, str]:
    spans = Enrollment.objects.filter(student_id__in=student_ids, entry_date__lte=on).order_by(
        "entry_date"
    )
    return {
        student_id: name for student_id, name in spans.values_list("student_id", "school__name")
    }


def _send(
    district: District,
    kind: str,
    due: dict[int, dict[str, Any]],
    channels: list[str],
    on: dt.date,
    counts: dict[str, int],
    held_out: Callable[[int], bool] = lambda guardian_id: False,
) -> None:
    """Group the students due a message by guardian and queue one message each (or, for a
    household `held_out` draws, record that it was held out)."""
    if not due:
        return
    contacts = _contacts(set(due), channels)
    if unreachable := len(set(due) - set(contacts)):
        counts["no guardian to contact"] = counts.get("no guardian to contact", 0) + unreachable
    schools = _schools(set(due), on)
    households: dict[tuple[int, str], list[int]] = defaultdict(list)
    guardians = {}
    for student_id, (guardian, channel) in contacts.items():
        households[(guardian.pk, channel)].append(student_id)
        guardians[guardian.pk] = guardian
    students = Student.objects.in_bulk(set(contacts))
    drafts: list[Draft] = []
    for (guardian_id, channel), student_ids in households.items():
        if held_out(guardian_id):
            TriggerHit.objects.bulk_create(
                [
                    TriggerHit(student_id=pk, kind=kind, mark=due[pk]["mark"], held_out=True)
                    for pk in student_ids
                ],
                ignore_conflicts=True,
            )
            counts[f"{kind} holdout"] = counts.get(f"{kind} holdout", 0) + 1
            continue
        children = tuple(
            students[pk] for pk in sorted(student_ids, key=lambda pk: students[pk].first_name)
        )
        facts = [due[s.pk] for s in children]
        values = {
            "school": ", ".join(dict.fromkeys(schools.get(s.pk, district.name) for s in children)),
            "date": on,  # written in the message's language when filled in
            "as_of": on,
        }
        for figure in ("days_absent", "typical_days"):  # one child: "6"; siblings: "6 (Ana), ..."
            if figure not in facts[0]:
                continue
            if len(children) == 1:
                values[figure] = show_days(facts[0][figure])
            else:
                values[figure] = ", ".join(
                    f"{show_days(f[figure])} ({s.first_name})"
                    for s, f in zip(children, facts, strict=True)
                )
        stated = {
            "as_of": on.isoformat(),
            "students": {
                str(s.pk): {"name": s.first_name, **f} for s, f in zip(children, facts, strict=True)
            },
        }
        drafts.append(
            Draft(
                district=district,
                kind=kind,
                channel=channel,
                guardian=guardians[guardian_id],
                students=children,
                key=f"{kind}:{on.isoformat()}:{guardian_id}:"
                + "-".join(str(s.pk) for s in children),
                values=values,
                stated=stated,
            )
        )

    def mark(decided: list[tuple[Draft, Message]]) -> None:
        # In the transaction that wrote the messages: a night run twice decides nothing twice.
        TriggerHit.objects.bulk_create(
            [
                TriggerHit(student=s, kind=kind, mark=due[s.pk]["mark"], message=message)
                for draft, message in decided
                for s in draft.students
            ],
            ignore_conflicts=True,
        )

    for outcome in queue_many(drafts, decided=mark):
        if isinstance(outcome, ValidationError):
            reason = next(iter(outcome.message_dict.values()))[0]
            key = "weekly limit reached" if "weekly limit" in reason else "refused"
        else:
            key = str(kind)
        counts[key] = counts.get(key, 0) + 1


def do_evaluate_triggers(
    district: District,
    *,
    as_of: dt.date,
    raised_tiers: list[int] = (),
    now: dt.datetime | None = None,
) -> dict[str, int]:
    """Decide tonight's messages (safe to repeat: what was decided is not decided again)."""
    now = now or timezone.now()
    triggers = trigger_settings(district)
    counts: dict[str, int] = {}
    year = current_school_year(district.pk, as_of)
    if year is None:
        return counts
    held = set(
        TriggerHit.objects.filter(student__district=district).values_list(
            "student_id", "kind", "mark"
        )
    )

    def fresh(rows: dict[int, dict[str, Any]], kind: str) -> dict[int, dict[str, Any]]:
        return {pk: row for pk, row in rows.items() if (pk, kind, row["mark"]) not in held}

    today = triggers["absence_today"]
    local = now.astimezone(zoneinfo.ZoneInfo(district.timezone))
    if (
        today["enabled"]
        and as_of == district_today(district)
        and local.time() >= dt.time.fromisoformat(today["not_before"])
    ):
        absent = AttendanceEvent.objects.filter(
            student__district=district, date=as_of, code__category=Category.UNEXCUSED
        ).values_list("student_id", flat=True)
        rows = {pk: {"mark": as_of.isoformat(), "date": as_of.isoformat()} for pk in absent}
        _send(
            district,
            MessageKind.ABSENCE_TODAY,
            fresh(rows, MessageKind.ABSENCE_TODAY),
            today["channels"],
            as_of,
            counts,
        )

    threshold = triggers["absence_threshold"]
    if threshold["enabled"] and threshold["year"]:
        marks = sorted(int(mark) for mark in threshold["year"])
        summaries = StudentSummary.objects.filter(
            student__district=district,
            school__isnull=True,
            school_year=year,
            days_absent__gte=marks[0],
        ).values_list("student_id", "days_absent")
        rows = {}
        for student_id, days_absent in summaries:
            reached = max(mark for mark in marks if days_absent >= mark)
            rows[student_id] = {"mark": f"{year.name}:year:{reached}", "days_absent": days_absent}
        _send(
            district,
            MessageKind.ABSENCE_THRESHOLD,
            fresh(rows, MessageKind.ABSENCE_THRESHOLD),
            threshold["channels"],
            as_of,
            counts,
        )

    monthly = triggers["absence_month"]
    if monthly["enabled"] and monthly["month"]:
        rows = _month_due(district, year, as_of, sorted(int(mark) for mark in monthly["month"]))
        _send(
            district,
            MessageKind.ABSENCE_MONTH,
            fresh(rows, MessageKind.ABSENCE_MONTH),
            monthly["channels"],
            as_of,
            counts,
        )

    tier = triggers["tier_change"]
    if tier["enabled"] and raised_tiers:
        rows = {pk: {"mark": as_of.isoformat()} for pk in raised_tiers}
        _send(
            district,
            MessageKind.TIER_CHANGE,
            fresh(rows, MessageKind.TIER_CHANGE),
            tier["channels"],
            as_of,
            counts,
        )

    recognition = triggers["recognition"]
    if recognition["enabled"]:
        rows = _recognition_due(district, year, as_of, recognition)
        _send(
            district,
            MessageKind.RECOGNITION,
            fresh(rows, MessageKind.RECOGNITION),
            recognition["channels"],
            as_of,
            counts,
        )

    nudge = triggers["nudge"]
    if nudge["enabled"]:
        rows = _nudge_due(district, year, nudge)
        share = float(nudge["share"])
        salt = f"{district.pk}:{year.name}:{nudge['round']}"
        _send(
            district,
            MessageKind.NUDGE,
            fresh(rows, MessageKind.NUDGE),
            nudge["channels"],
            as_of,
            counts,
            held_out=lambda guardian_id: draw(salt, guardian_id) >= share,
        )
    return counts


def draw(salt: str, guardian_id: int) -> float:
    """A household's draw in [0, 1): fixed by the round, so a rerun draws the same."""
    digest = hashlib.sha256(f"{salt}:{guardian_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _nudge_due(district: District, year, nudge: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Students with at least `min_days` absences, with a typical classmate's: the median
    days absent of the counted students of the same grade at the same school."""
    rows = StudentSummary.objects.filter(
        student__district=district, school_year=year, school__isnull=False, counted=True
    ).values_list("student_id", "school_id", "grade", "days_absent")
    classes: dict[tuple[int, int], list[float]] = defaultdict(list)
    for _, school_id, grade, days_absent in rows:
        classes[(school_id, grade)].append(days_absent)
    due = {}
    for student_id, school_id, grade, days_absent in rows:
        if days_absent >= float(nudge["min_days"]):
            due[student_id] = {
                "mark": f"{year.name}:nudge:{nudge['round']}",
                "days_absent": days_absent,
                "typical_days": statistics.median(classes[(school_id, grade)]),
            }
    return due


def _days(district: District, year, start: dt.date, end: dt.date) -> dict[int, tuple[int, float]]:
    """Per student, counted school days enrolled and days absent from `start` to `end`
    (within the school year): the metric definitions' days under the rule profile."""
    start, end = max(start, year.start_date), min(end, year.end_date)
    if start > end:
        return {}
    engine = database_engine(district, since=year.start_date)
    window = definitions.Window(
        school_year_id=year.pk, start=start, as_of=end, year_end=year.end_date
    )
    profile = load_rule_profile(district.rule_profile)
    totals: dict[int, tuple[int, float]] = {}
    for row in engine.run(definitions.student_months(engine.facts, profile, window)).to_pylist():
        enrolled, absent = totals.get(row["student_id"], (0, 0.0))
        totals[row["student_id"]] = (enrolled + row["days_enrolled"], absent + row["days_absent"])
    return totals


def _month_due(district: District, year, as_of: dt.date, marks: list[int]) -> dict[int, dict]:
    """Students whose days absent this calendar month (to `as_of`) reached a mark."""
    due = {}
    for student_id, (_, absent) in _days(district, year, as_of.replace(day=1), as_of).items():
        reached = [mark for mark in marks if absent >= mark]
        if reached:
            due[student_id] = {
                "mark": f"{as_of:%Y-%m}:month:{reached[-1]}",
                "days_absent": absent,
            }
    return due


FOUR_WEEKS = dt.timedelta(weeks=4)


def _recognition_due(district: District, year, as_of: dt.date, rule: dict) -> dict[int, dict]:
    """Students whose attendance rate over the 4 weeks to `as_of` is at least `margin` above
    the 4 weeks before, with at least `min_days` school days enrolled in each."""
    day = dt.timedelta(days=1)
    recent = _days(district, year, as_of - FOUR_WEEKS + day, as_of)
    before = _days(district, year, as_of - 2 * FOUR_WEEKS + day, as_of - FOUR_WEEKS)
    margin, min_days = float(rule["margin"]), int(rule["min_days"])
    due = {}
    for student_id, (enrolled, absent) in recent.items():
        was_enrolled, was_absent = before.get(student_id, (0, 0.0))
        if enrolled < min_days or was_enrolled < min_days:
            continue
        rate, was = 1 - absent / enrolled, 1 - was_absent / was_enrolled
        if rate - was >= margin - 1e-9:  # a margin met exactly counts (float rounding)
            due[student_id] = {
                "mark": f"{as_of:%Y-%m}:recognition",
                "rate": round(rate, 4),
                "rate_before": round(was, 4),
            }
    return due
