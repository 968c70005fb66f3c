"""The night's outreach triggers: who gets which message, decided set-wise, sent through the outbox.

Each trigger is switched on or off and configured per district
(`OutreachSettings.triggers`, merged over `DEFAULT_TRIGGERS`):

- `absence_today`: an unexcused absence on the as-of date, when that date is today and the
  district's clock has passed `not_before` (a district importing at midday runs the
  pipeline after that import);
- `absence_threshold`: the student's days absent this school year reached one of `year`
  (e.g. the 5th and 10th absence), each mark once a year;
- `tier_change`: the student's tier rose tonight (the pipeline says whose).

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
from django.db import transaction
from django.utils import timezone

from homeroom.attendance.models import AttendanceEvent, Category
from homeroom.core.models import District
from homeroom.core.selectors import current_school_year, district_today
from homeroom.metrics.display import date as show_date
from homeroom.metrics.display import days as show_days
from homeroom.metrics.models import StudentSummary
from homeroom.outreach.actions import outreach_settings, queue_trigger_message
from homeroom.outreach.models import MessageKind, TriggerHit
from homeroom.outreach.rules import normal_phone
from homeroom.roster.models import ContactPreference, Enrollment, Student, StudentGuardian

DEFAULT_TRIGGERS: dict[str, dict[str, Any]] = {
    "absence_today": {"enabled": True, "not_before": "10:00", "channels": ["sms", "email"]},
    "absence_threshold": {"enabled": True, "year": [5, 10], "channels": ["sms", "email"]},
    "tier_change": {"enabled": False, "channels": ["sms", "email"]},
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
            if channel == "letter":  # letters go unless opted out (selectors.channel_allowed)
                consented = consent != ContactPreference.Consent.OPTED_OUT
                address = guardian.address_line.strip() and guardian.postal_code.strip()
            else:
                consented = consent == ContactPreference.Consent.GRANTED
                address = normal_phone(guardian.phone) if channel == "sms" else guardian.email
            if consented and address:
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
            "date": show_date(on),
            "as_of": show_date(on),
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
        try:
            with transaction.atomic():
                message = queue_trigger_message(
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
                TriggerHit.objects.bulk_create(
                    [
                        TriggerHit(student=s, kind=kind, mark=due[s.pk]["mark"], message=message)
                        for s in children
                    ],
                    ignore_conflicts=True,
                )
        except ValidationError as refused:
            reason = next(iter(refused.message_dict.values()))[0]
            key = "weekly limit reached" if "weekly limit" in reason else "refused"
            counts[key] = counts.get(key, 0) + 1
        else:
            counts[str(kind)] = counts.get(str(kind), 0) + 1


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
