"""Writes of family outreach: deciding to send (the outbox), replies, consent, templates.

Every decision to send writes its `Message` (with an idempotency key), the student's
timeline rows and the audit entry in one transaction; `delivery.py`'s worker sends it.
The rules each message keeps are checked here, in one place (`_refusal`, `_queue`):

- only a guardian linked to the student with contact rights, never one marked no-contact;
- only a channel the guardian consented to (texts and email: consent given; letters: not
  opted out), and only with an address for it;
- at most the district's weekly cap of messages to a household in any 7 days;
- texts due in quiet hours wait until they end (`rules.next_allowed`);
- in the family's language, else the district's fallback, and the message says which.
"""

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import HeaderParser
from email.utils import parseaddr
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from homeroom.access.cases import (
    logs_family_contacts,
    resolves_unknown_sends,
    resolves_unmatched_messages,
)
from homeroom.access.gatekeeper import access_student, visible_students
from homeroom.core.actions import (
    do_log_district_change,
    do_log_student_access,
    in_records_language,
)
from homeroom.core.models import AuditEntry, District
from homeroom.core.selectors import district_today
from homeroom.interventions.models import Case, CaseEvent, FamilyContact
from homeroom.outreach import channels
from homeroom.outreach.channels import keys_replied_to
from homeroom.outreach.models import (
    CONFIRMATIONS,
    ConsentChange,
    DeliveryReport,
    Message,
    MessageKind,
    MessageTemplate,
    OutreachSettings,
)
from homeroom.outreach.rules import (
    consent_allows,
    household_of,
    keyword_of,
    next_allowed,
    normal_phone,
)
from homeroom.outreach.selectors import address_of
from homeroom.outreach.templates import (
    PLACEHOLDERS,
    fill,
    names_together,
    shipped_defaults,
    unknown_placeholders,
)
from homeroom.roster.models import (
    ContactChannel,
    ContactPreference,
    Enrollment,
    Guardian,
    Language,
    Student,
    StudentGuardian,
)

CHANNEL_WORDS = {
    ContactChannel.SMS: "text messages",
    ContactChannel.EMAIL: "email",
    ContactChannel.LETTER: "letters",
}
CONTACT_CHANNEL = {  # the contact log's word for each outreach channel
    ContactChannel.SMS: FamilyContact.Channel.TEXT,
    ContactChannel.EMAIL: FamilyContact.Channel.EMAIL,
    ContactChannel.LETTER: FamilyContact.Channel.LETTER,
}
WEEK = dt.timedelta(days=7)
# Messages that do not count against the weekly cap: the answers to a family's STOP or
# START, and a reply to what the family wrote (a conversation the family started). A
# truancy notice is required by law: the cap, a courtesy to families, never holds it back.
UNCAPPED = CONFIRMATIONS | {MessageKind.TRUANCY_NOTICE}


def outreach_settings(district: District) -> OutreachSettings:
    """The district's outreach settings, with Homeroom's defaults until it changes them."""
    found, _ = OutreachSettings.objects.get_or_create(district=district)
    return found


def do_save_outreach_settings(
    user,
    *,
    triggers: dict[str, dict[str, Any]],
    quiet_start: dt.time,
    quiet_end: dt.time,
    weekly_cap: int,
    fallback_language: str,
) -> OutreachSettings:
    """Save the district's triggers, quiet hours, weekly cap and fallback (administrators),
    audited as a district change with what was before and after.

    Each trigger's values are merged over what the district held, so settings the page does
    not show (a trigger's channels) are kept.
    """
    if user.role != "district_admin":
        raise PermissionDenied("Only district administrators change the outreach settings.")
    if weekly_cap < 1:
        raise ValidationError({"weekly_cap": "Allow at least 1 message a week."})
    if fallback_language not in Language.values or fallback_language == Language.OTHER:
        raise ValidationError({"fallback_language": "Choose a language from the list."})
    with transaction.atomic():
        rules = OutreachSettings.objects.select_for_update().get(
            pk=outreach_settings(user.district).pk
        )
        before = _settings_state(rules)
        held = rules.triggers or {}
        rules.triggers = {**held, **{k: {**held.get(k, {}), **v} for k, v in triggers.items()}}
        rules.quiet_start, rules.quiet_end = quiet_start, quiet_end
        rules.weekly_cap, rules.fallback_language = weekly_cap, fallback_language
        rules.save()
        do_log_district_change(
            user=user,
            subject="outreach settings",
            details={"before": before, "after": _settings_state(rules)},
        )
    return rules


def _settings_state(rules: OutreachSettings) -> dict[str, Any]:
    return {
        "triggers": rules.triggers,
        "quiet_start": rules.quiet_start.strftime("%H:%M"),
        "quiet_end": rules.quiet_end.strftime("%H:%M"),
        "weekly_cap": rules.weekly_cap,
        "fallback_language": rules.fallback_language,
    }


def do_install_default_templates(district: District) -> dict[str, int]:
    """Install Homeroom's shipped templates a district has never held (safe to repeat)."""
    held = set(MessageTemplate.objects.filter(district=district).values_list("kind", "language"))
    new = [
        MessageTemplate(
            district=district,
            kind=kind,
            language=language,
            subject=words.get("subject", ""),
            body=words["body"],
            shipped_default=True,
        )
        for kind, languages in shipped_defaults().items()
        for language, words in languages.items()
        if (kind, language) not in held
    ]
    MessageTemplate.objects.bulk_create(new)
    return {"templates installed": len(new)}


def current_template(district_id: int, kind: str, language: str) -> MessageTemplate | None:
    """The latest version of the district's template of a kind in a language, if any."""
    return (
        MessageTemplate.objects.filter(district_id=district_id, kind=kind, language=language)
        .order_by("-version")
        .first()
    )


def do_save_template(
    user, *, kind: str, language: str, subject: str, body: str, version: int | None
) -> MessageTemplate:
    """Save new words for a kind and language as the next version (district administrators).

    `version` is the version the editor read (None for a new template); if someone saved in
    between, nothing is saved and the error says so.
    """
    if user.role != "district_admin":
        raise PermissionDenied("Only district administrators edit message templates.")
    errors: dict[str, str] = {}
    if kind not in MessageKind.values:
        errors["kind"] = "Choose a message kind from the list."
    if language not in Language.values or language == Language.OTHER:
        errors["language"] = "Choose a language from the list."
    if not body.strip():
        errors["body"] = "Write the message."
    for field, text in (("subject", subject), ("body", body)):
        if unknown := unknown_placeholders(text):
            errors[field] = (
                f"Unknown placeholder {{{{ {unknown[0]} }}}}: use one of "
                + ", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDERS)
                + "."
            )
    if len(subject) > 200:
        errors["subject"] = "Keep the subject to 200 characters."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        latest = current_template(user.district_id, kind, language)
        if (latest.version if latest else None) != version:
            raise ValidationError(
                {"version": "Someone saved this template since you opened it: reload it."}
            )
        template = MessageTemplate.objects.create(
            district_id=user.district_id,
            kind=kind,
            language=language,
            version=(latest.version + 1) if latest else 1,
            subject=subject.strip(),
            body=body.strip(),
            saved_by=user,
        )
        do_log_district_change(
            user=user,
            subject="message template",
            details={"kind": kind, "language": language, "version": template.version},
        )
    return template


@dataclass(frozen=True)
class Draft:
    """A message to decide on: who, about whom, what for, and the words' values."""

    district: District
    kind: str
    channel: str
    guardian: Guardian
    students: tuple[Student, ...]
    key: str
    values: dict[str, str | dt.date]
    stated: dict[str, Any]
    user: Any = None
    case: Case | None = None
    in_reply_to: Message | None = None
    access_reason: str = ""
    # The words themselves, when the caller holds them (a truancy notice: the statute's
    # wording from the pack, in the family's language): {"language", "subject", "body"},
    # sent as they are instead of a template's.
    words: dict[str, str] | None = None


def _refusal(draft: Draft, links: dict, consents: dict) -> dict[str, str]:
    """Why this draft's guardian may not get it on its channel (empty when they may).

    `links` maps (guardian, student) to the roster's link and `consents` (guardian, channel)
    to the consent, both read for a whole set of drafts at once (`_facts`).
    """
    guardian, channel = draft.guardian, draft.channel
    for student in draft.students:
        link = links.get((guardian.pk, student.pk))
        if link is None:
            return {"guardian_id": f"{guardian} is not a guardian of {student.first_name}."}
        if link.no_contact:
            return {"guardian_id": f"{guardian} is marked “no contact”."}
        if not link.contact_rights:
            return {"guardian_id": f"{guardian} has no right to the student's records."}
    if channel not in CHANNEL_WORDS:
        return {"channel": "Choose text message, email or letter."}
    consent = consents.get((guardian.pk, channel), ContactPreference.Consent.UNKNOWN)
    if not consent_allows(channel, consent):
        return {"channel": f"{guardian} has not agreed to receive {CHANNEL_WORDS[channel]}."}
    if not address_of(guardian, channel):
        what = {"sms": "mobile number", "email": "email address", "letter": "postal address"}
        return {"channel": f"The roster holds no {what[channel]} for {guardian}."}
    return {}


def _household(guardian: Guardian) -> str:
    return household_of(
        guardian_id=guardian.pk,
        address_line=guardian.address_line,
        postal_code=guardian.postal_code,
    )


def _capped(draft: Draft) -> bool:
    """Whether a draft counts against the weekly cap (not confirmations, not replies)."""
    return draft.kind not in UNCAPPED and draft.in_reply_to is None


def _messages_this_week(households: set[str], now: dt.datetime) -> dict[str, int]:
    """Per household, the messages counted against the weekly cap in the 7 days to `now`."""
    counted = (
        Message.objects.filter(
            household__in=households, direction=Message.Direction.OUT, created_at__gt=now - WEEK
        )
        .exclude(
            status__in=(Message.Status.CANCELLED, Message.Status.FAILED, Message.Status.EXCLUDED)
        )
        .exclude(kind__in=UNCAPPED)
        .exclude(in_reply_to__isnull=False)
        .values("household")
        .annotate(count=Count("pk"))
    )
    return {row["household"]: row["count"] for row in counted}


def _templates(district_id: int, kinds: set[str]) -> dict[tuple[str, str], MessageTemplate]:
    """The latest version of each of the district's templates of these kinds, by language."""
    latest: dict[tuple[str, str], MessageTemplate] = {}
    held = MessageTemplate.objects.filter(district_id=district_id, kind__in=kinds)
    for template in held.order_by("version"):
        latest[(template.kind, template.language)] = template
    return latest


def _template_for(
    templates: dict, kind: str, language: str, fallback: str
) -> MessageTemplate | dict[str, str]:
    """The template in the family's language, else in the fallback; else why there is none."""
    template = templates.get((kind, language)) or templates.get((kind, fallback))
    if template is None:
        return {
            "kind": f"There is no template for “{MessageKind(kind).label}” in "
            f"{Language(language).label} or the district's fallback language. "
            "Add one on the Templates page."
        }
    return template


def _queue(draft: Draft) -> Message:
    """Decide to send one message: `queue_many` with one draft.

    Raises ValidationError naming the rule the message would break; nothing is written then.
    """
    (outcome,) = queue_many([draft])
    if isinstance(outcome, ValidationError):
        raise outcome
    return outcome


CHUNK = 500  # drafts decided and written per transaction


def queue_many(
    drafts: list[Draft],
    *,
    decided: Callable[[list[tuple[Draft, Message]]], None] | None = None,
) -> list[Message | ValidationError]:
    """Decide to send each draft (all of one district): check every rule for the whole set
    with a few queries, then write each chunk's messages, timeline rows and audit entries in
    bulk, in the transaction that decided them. `decided`, if given, is called inside that
    transaction with the chunk's (draft, message) pairs (a trigger's marks).

    Returns, in order, each draft's message (the earlier one when its key was decided before)
    or the ValidationError naming the rule it would break.
    """
    outcomes: list[Message | ValidationError] = []
    for start in range(0, len(drafts), CHUNK):
        outcomes += _queue_chunk(drafts[start : start + CHUNK], decided)
    return outcomes


def _queue_chunk(drafts: list[Draft], decided) -> list[Message | ValidationError]:
    if not drafts:
        return []
    district = drafts[0].district
    rules = outreach_settings(district)
    guardian_ids = {d.guardian.pk for d in drafts}
    links = {
        (link.guardian_id, link.student_id): link
        for link in StudentGuardian.objects.filter(
            guardian_id__in=guardian_ids,
            student_id__in={s.pk for d in drafts for s in d.students},
        )
    }
    consents = {
        (guardian_id, channel): consent
        for guardian_id, channel, consent in ContactPreference.objects.filter(
            guardian_id__in=guardian_ids
        ).values_list("guardian_id", "channel", "consent")
    }
    templates = _templates(district.pk, {d.kind for d in drafts})
    now = timezone.now()
    today = district_today(district)
    outcomes: list[Message | ValidationError | None] = [None] * len(drafts)
    with transaction.atomic():
        # Decisions for a guardian wait for each other, so two cannot both pass the cap.
        list(
            Guardian.objects.select_for_update()
            .filter(pk__in=guardian_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        existing = Message.objects.in_bulk([d.key for d in drafts], field_name="idempotency_key")
        week = _messages_this_week({_household(d.guardian) for d in drafts}, now)
        new: list[tuple[int, Draft, Message]] = []
        for index, draft in enumerate(drafts):
            refusal = {} if draft.kind in CONFIRMATIONS else _refusal(draft, links, consents)
            if refusal:
                outcomes[index] = ValidationError(refusal)
                continue
            if draft.key in existing:  # decided before (a repeated night, a double click)
                outcomes[index] = existing[draft.key]
                continue
            household = _household(draft.guardian)
            if _capped(draft) and week.get(household, 0) >= rules.weekly_cap:
                outcomes[index] = ValidationError(
                    {
                        "channel": f"This household has had {rules.weekly_cap} messages in the "
                        "last 7 days, the district's weekly limit."
                    }
                )
                continue
            template = None  # a draft with its own words has no template
            if draft.words is None:
                template = _template_for(
                    templates,
                    draft.kind,
                    draft.guardian.preferred_language,
                    rules.fallback_language,
                )
            if isinstance(template, dict):
                outcomes[index] = ValidationError(template)
                continue
            message = _message(draft, template, household, rules, now)
            existing[draft.key] = message  # the same key twice in one set is one message
            if _capped(draft):
                week[household] = week.get(household, 0) + 1
            new.append((index, draft, message))
            outcomes[index] = message
        Message.objects.bulk_create([message for _, _, message in new])
        Message.students.through.objects.bulk_create(
            [
                Message.students.through(message_id=message.pk, student_id=student.pk)
                for _, draft, message in new
                for student in draft.students
            ]
        )
        _record_sent([(draft, message) for _, draft, message in new], today)
        if decided is not None:
            decided(
                [
                    (draft, outcome)
                    for draft, outcome in zip(drafts, outcomes, strict=True)
                    if isinstance(outcome, Message)
                ]
            )
    return outcomes


def _message(draft: Draft, template: MessageTemplate | None, household: str, rules, now) -> Message:
    """The message a draft becomes, in words from `template` or its own (not yet saved)."""
    guardian = draft.guardian
    if template is None:
        language, subject, body = (draft.words[k] for k in ("language", "subject", "body"))
    else:
        values = {
            "guardian": f"{guardian.first_name} {guardian.last_name}",
            "children": names_together([s.first_name for s in draft.students], template.language),
            "district": draft.district.name,
            **draft.values,
        }
        language = template.language
        subject = fill(template.subject, values, template.language)
        body = fill(template.body, values, template.language)
    not_before = now
    if draft.channel == ContactChannel.SMS and draft.kind not in CONFIRMATIONS:
        not_before = next_allowed(
            now, timezone=draft.district.timezone, start=rules.quiet_start, end=rules.quiet_end
        )
    return Message(
        district=draft.district,
        kind=draft.kind,
        channel=draft.channel,
        guardian=guardian,
        household=household,
        case=draft.case,
        to_address=address_of(guardian, draft.channel),
        language=language,
        wanted_language=guardian.preferred_language,
        template=template,
        subject=subject,
        body=body,
        stated=draft.stated,
        idempotency_key=draft.key,
        not_before=not_before,
        in_reply_to=draft.in_reply_to,
        created_by=draft.user,
    )


@in_records_language
def _record_sent(sent: list[tuple[Draft, Message]], today: dt.date) -> None:
    """Each message on each child's timeline (and, sent by staff, in the contact log),
    audited: written in bulk."""
    student_ids = {s.pk for draft, _ in sent for s in draft.students}
    open_cases: dict[int, Case] = {}
    for case in Case.objects.filter(student_id__in=student_ids, status=Case.Status.OPEN).order_by(
        "-pk"
    ):
        open_cases[case.student_id] = case  # the first open case, as the case page shows
    rows = [
        (draft, message, student, draft.case or open_cases.get(student.pk))
        for draft, message in sent
        for student in draft.students
    ]
    contacts = FamilyContact.objects.bulk_create(
        [
            FamilyContact(
                student=student,
                case=case,
                contacted_on=today,
                channel=CONTACT_CHANNEL[message.channel],
                guardian=draft.guardian,
                outcome=FamilyContact.Outcome.SENT,
                language=message.language,
                note=message.body,
                recorded_by=draft.user,
            )
            for draft, message, student, case in rows
            if draft.user is not None
        ]
    )
    contact_of = iter(contacts)
    events, entries = [], []
    for draft, message, student, case in rows:
        contact = next(contact_of) if draft.user is not None else None
        events.append(
            CaseEvent(
                student=student,
                case=case,
                kind=CaseEvent.Kind.MESSAGE_SENT,
                on=today,
                by=draft.user,
                summary=_summary(draft, message)[:300],
                details={"message_id": message.pk, "contact_id": contact.pk if contact else None},
            )
        )
        # The fields core.actions.do_log_student_access writes, for many students at once
        # (the district: the message's, also when no staff member decided it).
        entries.append(
            AuditEntry(
                user=draft.user,
                district_id=message.district_id,
                action=AuditEntry.Action.CREATE,
                student_id=student.pk,
                subject="family message",
                access_reason=draft.access_reason or f"outreach: {MessageKind(message.kind).label}",
                details=_audit_details(message),
            )
        )
    CaseEvent.objects.bulk_create(events)
    AuditEntry.objects.bulk_create(entries)


@in_records_language
def _summary(draft: Draft, message: Message) -> str:
    """The timeline's line: "Text message to María Alvarez: Absence notice (in English: …)"."""
    channel_label = ContactChannel(message.channel).label
    summary = f"{channel_label} to {draft.guardian}: {MessageKind(message.kind).label}"
    if message.fallback_used:
        used, wanted = Language(message.language).label, Language(message.wanted_language).label
        summary += f" (in {used}: no {wanted} template)"
    return summary


def _audit_details(message: Message) -> dict[str, Any]:
    return {
        "message_id": message.pk,
        "kind": message.kind,
        "channel": message.channel,
        "guardian_id": message.guardian_id,
        "template_id": message.template_id,
        "template_version": message.template.version if message.template else None,
        "language": message.language,
        "fallback_language_used": message.fallback_used,
        "stated": message.stated,
        "status": message.status,
    }


def school_of(student: Student, on: dt.date) -> str:
    """The name of the school the student attends on a date (else their latest school)."""
    spans = Enrollment.objects.filter(student=student, entry_date__lte=on).select_related("school")
    current = (
        spans.filter(exit_date__isnull=True).first() or spans.filter(exit_date__gte=on).first()
    )
    latest = current or spans.order_by("-entry_date").first()
    return latest.school.name if latest else student.district.name


def do_send_family_message(
    user,
    *,
    student_id: int,
    guardian_id: int,
    channel: str,
    text: str,
    case_id: int | None = None,
    in_reply_to_id: int | None = None,
) -> Message:
    """Staff send one message to a guardian of a visible student (from the student or case page).

    It joins the student's timeline and contact log; the worker sends it.
    """
    if not logs_family_contacts(user):
        raise PermissionDenied("Your role does not contact families.")
    access = access_student(user, student_id)
    student = access.student
    errors: dict[str, str] = {}
    text = text.strip()
    if not text:
        errors["text"] = "Write the message."
    elif len(text) > 1000:
        errors["text"] = f"Keep the message to 1,000 characters (it has {len(text):,})."
    guardian = Guardian.objects.filter(pk=guardian_id, district_id=student.district_id).first()
    if guardian is None:
        errors["guardian_id"] = "Choose one of the student's guardians."
    if errors:
        raise ValidationError(errors)
    case = None
    if case_id is not None:
        case = Case.objects.filter(pk=case_id, student_id=student_id).first()
        if case is None:
            raise ValidationError({"case_id": "Not a case of this student."})
    reply_to = None
    if in_reply_to_id is not None:
        reply_to = Message.objects.filter(
            pk=in_reply_to_id, direction=Message.Direction.IN, guardian=guardian
        ).first()
        if reply_to is None:
            raise ValidationError({"in_reply_to_id": "Not a message from this guardian."})
    today = district_today(student.district)
    sender = user.get_full_name() or user.username
    # One click, one message: the same words to the same guardian on the same day are one
    # decision, so a double submit or a retried request does not send twice.
    digest = hashlib.sha256(f"{guardian_id}|{channel}|{text}".encode()).hexdigest()[:16]
    return _queue(
        Draft(
            district=student.district,
            kind=MessageKind.STAFF,
            channel=channel,
            guardian=guardian,
            students=(student,),
            key=f"staff:{user.pk}:{student_id}:{today.isoformat()}:{digest}",
            values={
                "message": text,
                "sender": sender,
                "school": school_of(student, today),
                "date": today,
            },
            stated={"text": text, "sender": sender},
            user=user,
            case=case,
            in_reply_to=reply_to,
            access_reason=access.grant,
        )
    )


def queue_trigger_message(
    *,
    district: District,
    kind: str,
    channel: str,
    guardian: Guardian,
    students: tuple[Student, ...],
    key: str,
    values: dict[str, str],
    stated: dict[str, Any],
) -> Message:
    """A message a trigger decided on (no staff member): see `_queue` for the rules."""
    return _queue(
        Draft(
            district=district,
            kind=kind,
            channel=channel,
            guardian=guardian,
            students=students,
            key=key,
            values=values,
            stated=stated,
        )
    )


# Delivery reports -------------------------------------------------------------------------

# Twilio's message statuses in the order they happen; a late report never moves one back.
STATUS_ORDER = {"queued": 0, "accepted": 0, "sending": 1, "sent": 2, "delivered": 3}
FINAL = {"undelivered": Message.Status.UNDELIVERED, "failed": Message.Status.UNDELIVERED}


def do_record_delivery_report(
    *, message_id: int, provider_id: str, status: str, error_code: str = ""
) -> bool:
    """Record a status the provider reported (once; repeats change nothing). Returns whether new."""
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None or (message.provider_id and message.provider_id != provider_id):
            return False
        _, created = DeliveryReport.objects.get_or_create(
            provider_id=provider_id,
            status=status,
            defaults={"message": message, "error_code": error_code[:20]},
        )
        if not created:
            return False
        new_status = None
        if status in FINAL:
            new_status = FINAL[status]
        elif status == "delivered":
            new_status = Message.Status.DELIVERED
        elif status == "sent" and message.status in (
            Message.Status.SENDING,
            Message.Status.QUEUED,
            Message.Status.UNKNOWN,  # the provider says it took the text: settled
        ):
            new_status = Message.Status.SENT
        fields = {"provider_id": provider_id, "status_at": timezone.now()}
        if new_status and message.status not in (
            Message.Status.DELIVERED,
            Message.Status.UNDELIVERED,
        ):
            fields["status"] = new_status
            fields["sent_at"] = message.sent_at or timezone.now()
        Message.objects.filter(pk=message.pk).update(**fields)
    return True


# Inbound messages, STOP and START ---------------------------------------------------------


def do_receive_text(
    *, sender: str, to: str, body: str, provider_id: str, district_id: int | None = None
) -> list[Message]:
    """A text from a family: STOP/START change consent at once (confirmed once); any other
    reply joins the timeline and contact log of the guardian's children; a number no
    guardian has waits on the unmatched page. Safe to repeat."""
    phone = normal_phone(sender)
    if not phone or Message.objects.filter(provider_id=provider_id, direction="in").exists():
        return []
    # Rosters write numbers many ways ("(555) 010-1234"): narrow by the last digits, then
    # compare the numbers in one form.
    candidates = Guardian.objects.filter(phone__endswith=phone[-4:])
    guardians = [guardian for guardian in candidates if normal_phone(guardian.phone) == phone]
    inbound = Inbound(ContactChannel.SMS, phone, to, "", body, provider_id, keyword_of(body))
    return _receive(inbound, guardians, district_id)


def do_receive_email(
    *, sender: str, to: str, subject: str, text: str, headers: str, district_id: int | None = None
) -> list[Message]:
    """An email from a family (the inbound-email webhook): matched to the guardian whose
    email it answers (its In-Reply-To or References name one of our Message-IDs), else to
    the guardians with the sender's address; else it waits on the unmatched page. A reply
    whose first line is only an unsubscribe word (STOP, UNSUBSCRIBE, ALTO, …) opts out of
    email. Safe to repeat (the email's own Message-ID, or a hash of it, is its id)."""
    address = parseaddr(sender)[1].strip().lower()
    own_id = HeaderParser().parsestr(headers or "").get("Message-ID", "").strip()
    provider_id = (
        "email:"
        + hashlib.sha256((own_id or f"{address}|{subject}|{text}").encode()).hexdigest()[:40]
    )
    if not address or Message.objects.filter(provider_id=provider_id, direction="in").exists():
        return []
    answered = (
        Message.objects.filter(
            idempotency_key__in=keys_replied_to(headers),
            channel=ContactChannel.EMAIL,
            direction=Message.Direction.OUT,
        )
        .exclude(guardian=None)
        .select_related("guardian")
        .first()
    )
    if answered is not None:
        guardians = [answered.guardian]
    else:
        guardians = list(Guardian.objects.filter(email__iexact=address).order_by("pk"))
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    inbound = Inbound(
        ContactChannel.EMAIL, address, to, subject[:200], text, provider_id, keyword_of(first_line)
    )
    return _receive(inbound, guardians, district_id)


@dataclass(frozen=True)
class Inbound:
    """A text or email from outside, as its webhook gave it."""

    channel: str
    sender: str
    to: str
    subject: str
    body: str
    provider_id: str
    keyword: str | None


def _receive(inbound: Inbound, guardians: list[Guardian], district_id: int | None) -> list[Message]:
    received = []
    try:
        with transaction.atomic():
            if not guardians:
                unmatched = _store_unmatched(inbound, district_id)
                return [unmatched] if unmatched else []
            for guardian in guardians:
                received.append(_receive_from(guardian, inbound, len(guardians) > 1))
    except IntegrityError:  # the same webhook twice at once: the other one recorded it
        return []
    return received


def _store_unmatched(inbound: Inbound, district_id: int | None) -> Message | None:
    """A message from an address no guardian has: kept for staff to assign or dismiss on
    the unmatched page of the district its webhook address names (`?district=`), or of the
    installation's only district. Otherwise it cannot be placed and is dropped."""
    districts = list(
        District.objects.filter(pk=district_id) if district_id else District.objects.all()[:2]
    )
    if len(districts) != 1:
        return None
    return Message.objects.create(
        district=districts[0],
        direction=Message.Direction.IN,
        kind=MessageKind.REPLY,
        channel=inbound.channel,
        from_address=inbound.sender,
        to_address=inbound.to,
        subject=inbound.subject,
        body=inbound.body,
        status=Message.Status.UNMATCHED,
        idempotency_key=f"in:{inbound.provider_id}",
        provider_id=inbound.provider_id,
        not_before=timezone.now(),
        stated={"keyword": inbound.keyword} if inbound.keyword else {},
    )


def _receive_from(guardian: Guardian, inbound: Inbound, shared: bool) -> Message:
    """One guardian's copy of a text or email from their address."""
    previous = (
        Message.objects.filter(
            guardian=guardian, direction=Message.Direction.OUT, channel=inbound.channel
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    message = Message.objects.create(
        district_id=guardian.district_id,
        direction=Message.Direction.IN,
        kind=MessageKind.REPLY,
        channel=inbound.channel,
        guardian=guardian,
        household=_household(guardian),
        case=previous.case if previous else None,
        from_address=inbound.sender,
        to_address=inbound.to,
        language=guardian.preferred_language,
        wanted_language=guardian.preferred_language,
        subject=inbound.subject,
        body=inbound.body,
        status=Message.Status.RECEIVED,
        idempotency_key=f"in:{inbound.provider_id}" + (f":{guardian.pk}" if shared else ""),
        provider_id=inbound.provider_id,
        not_before=timezone.now(),
        in_reply_to=previous,
        stated={"keyword": inbound.keyword} if inbound.keyword else {},
    )
    _take_in(message, guardian, inbound.keyword)
    return message


def _take_in(message: Message, guardian: Guardian, keyword: str | None) -> None:
    """A matched message's effects: its children, then consent (STOP/START) or the reply in
    each child's contact log and timeline."""
    district = District.objects.get(pk=guardian.district_id)
    links = list(StudentGuardian.objects.filter(guardian=guardian).select_related("student"))
    message.students.set([link.student for link in links])
    if keyword:
        _change_consent(district, guardian, keyword, message)
    else:
        _record_reply(district, guardian, message, links)


def do_assign_unmatched(
    user, *, message_id: int, guardian_local_id: str = "", guardian_id: int | None = None
) -> Message:
    """Staff say whose an unmatched text or email is (the guardian a search found, by id,
    or by roster ID): it becomes that guardian's reply (in the children's contact logs and
    timelines, or a STOP/START), audited on each child. Only a guardian of a student the
    user may see (the gatekeeper's scope) can be chosen."""
    _may_resolve_unmatched(user)
    in_scope = Guardian.objects.filter(
        district_id=user.district_id,
        pk__in=StudentGuardian.objects.filter(student__in=visible_students(user)).values(
            "guardian"
        ),
    )
    if guardian_id is not None:
        guardian = in_scope.filter(pk=guardian_id).first()
        if guardian is None:
            raise ValidationError({"guardian": "Choose a guardian from the search results."})
    else:
        local_id = guardian_local_id.strip()
        guardian = in_scope.filter(local_id=local_id).first()
        if guardian is None:
            raise ValidationError(
                {
                    "guardian": f"No guardian has the roster ID “{local_id}” in this district; "
                    "copy it from the student's page (Guardians)."
                }
            )
    with transaction.atomic():
        message = _unmatched_for_update(user, message_id)
        message.guardian = guardian
        message.household = _household(guardian)
        message.language = message.wanted_language = guardian.preferred_language
        message.status, message.status_at = Message.Status.RECEIVED, timezone.now()
        message.save()
        _take_in(message, guardian, message.stated.get("keyword"))
        for student_id in message.students.values_list("pk", flat=True):
            do_log_student_access(
                user=user,
                student_id=student_id,
                subject="family reply",
                access_reason="assigned an unmatched message to the family",
                action=AuditEntry.Action.UPDATE,
                details={"message_id": message.pk, "guardian_id": guardian.pk},
            )
    return message


def do_dismiss_unmatched(user, *, message_id: int, reason: str) -> Message:
    """Staff set aside an unmatched text or email (a wrong number, spam), saying why."""
    _may_resolve_unmatched(user)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why it is dismissed (kept in the log)."})
    with transaction.atomic():
        message = _unmatched_for_update(user, message_id)
        message.status, message.status_at = Message.Status.DISMISSED, timezone.now()
        message.last_error = f"Dismissed by {user.get_full_name() or user.username}: {reason}"
        message.save(update_fields=["status", "status_at", "last_error"])
        do_log_district_change(
            user=user,
            subject="unmatched message",
            action="update",
            details={"message_id": message.pk, "status": message.status, "reason": reason},
        )
    return message


def _may_resolve_unmatched(user) -> None:
    if not resolves_unmatched_messages(user):
        raise PermissionDenied("Only district administrators resolve unmatched messages.")


def _unmatched_for_update(user, message_id: int) -> Message:
    message = (
        Message.objects.select_for_update()
        .filter(pk=message_id, district_id=user.district_id, status=Message.Status.UNMATCHED)
        .first()
    )
    if message is None:
        raise ValidationError({"message_id": "This message is no longer waiting to be matched."})
    return message


def _change_consent(district: District, guardian: Guardian, keyword: str, message: Message) -> None:
    """STOP or START, for the channel it came by: consent changes at once; for texts the
    change (not a repeat) is confirmed once, as carriers require. (Email has no such rule,
    and the shipped confirmations speak of texts: an email opt-out is not answered.)"""
    channel = message.channel
    wanted = (
        ContactPreference.Consent.OPTED_OUT
        if keyword == "stop"
        else ContactPreference.Consent.GRANTED
    )
    preference, _ = ContactPreference.objects.get_or_create(guardian=guardian, channel=channel)
    if preference.consent == wanted:
        return
    preference.consent = wanted
    preference.save(update_fields=["consent", "updated_at"])
    ConsentChange.objects.create(
        guardian=guardian,
        channel=channel,
        consent=wanted,
        source=f"replied “{message.body.strip()[:40]}” to {_what(message)}",
        message=message,
    )
    if wanted == ContactPreference.Consent.OPTED_OUT:
        # Whatever was waiting to go to this guardian by this channel stays unsent.
        Message.objects.filter(
            guardian=guardian,
            channel=channel,
            direction=Message.Direction.OUT,
            status=Message.Status.QUEUED,
        ).exclude(kind__in=CONFIRMATIONS).update(
            status=Message.Status.CANCELLED, status_at=timezone.now()
        )
    if channel != ContactChannel.SMS:
        return
    kind = MessageKind.OPTED_OUT if keyword == "stop" else MessageKind.OPTED_IN
    _queue(
        Draft(
            district=district,
            kind=kind,
            channel=ContactChannel.SMS,
            guardian=guardian,
            students=tuple(message.students.all()),
            key=f"{kind}:{message.idempotency_key}",
            values={},
            stated={"consent": wanted},
            in_reply_to=message,
        )
    )


def _what(message: Message) -> str:
    return "a text" if message.channel == ContactChannel.SMS else "an email"


def _record_reply(
    district: District, guardian: Guardian, message: Message, links: list[StudentGuardian]
) -> None:
    """A family's reply: in each child's contact log and timeline, for the case manager."""
    today = district_today(district)
    by_email = message.channel == ContactChannel.EMAIL
    for link in links:
        if link.no_contact or not link.contact_rights:
            continue  # their words are kept on the message, but not shared as the child's record
        case = Case.objects.filter(student=link.student, status=Case.Status.OPEN).first()
        contact = FamilyContact.objects.create(
            student=link.student,
            case=case,
            contacted_on=today,
            channel=FamilyContact.Channel.EMAIL if by_email else FamilyContact.Channel.TEXT,
            guardian=guardian,
            outcome=FamilyContact.Outcome.REPLIED,
            language=guardian.preferred_language,
            note=message.body,
            recorded_by=None,
        )
        CaseEvent.objects.create(
            student=link.student,
            case=case,
            kind=CaseEvent.Kind.MESSAGE_RECEIVED,
            on=today,
            by=None,
            summary=f"{'Email' if by_email else 'Text'} from {guardian}: “{message.body[:200]}”",
            details={"message_id": message.pk, "contact_id": contact.pk},
        )
        do_log_student_access(
            user=None,
            student_id=link.student_id,
            subject="family reply",
            access_reason=f"a guardian's {'email' if by_email else 'text'} to the district",
            action=AuditEntry.Action.CREATE,
            details={"message_id": message.pk, "guardian_id": guardian.pk},
        )


# Sends to check: messages whose sending was interrupted ------------------------------------
#
# A message is `unknown` when a worker died after handing it to the provider or SMTP server
# and before recording the answer (delivery.recover_abandoned): it may or may not have
# reached the family. Each way out is one conditional update from `unknown` (so a double
# submitted form, two members of staff, or staff and the worker at once settle it once)
# with its audit entries in the same transaction.

RESOLUTIONS = {
    "sent": Message.Status.SENT,  # staff checked: the family got it
    "again": Message.Status.QUEUED,  # staff checked: it did not go; the worker sends it
    "give_up": Message.Status.GIVEN_UP,  # not sent again; it may or may not have arrived
}
# The provider's word for a text, as the message's status (as its delivery reports are).
PROVIDER_STATUS = {
    "delivered": Message.Status.DELIVERED,
    "undelivered": Message.Status.UNDELIVERED,
    "failed": Message.Status.UNDELIVERED,
}


def do_resolve_unknown(user, *, message_id: int, resolution: str, reason: str = "") -> Message:
    """Staff settle a message whose sending was interrupted: "sent" (they checked it
    arrived), "again" (back to the outbox under the same idempotency key: if it did arrive,
    the family gets it twice) or "give_up" (not sent again, with a reason). Audited on each
    child's trail; a second resolution of the same message is refused, nothing changed."""
    _may_resolve_unknown(user)
    if resolution not in RESOLUTIONS:
        raise ValidationError({"resolution": "Choose sent, send again or give up."})
    reason = reason.strip()[:500]
    if resolution == "give_up" and not reason:
        raise ValidationError({"reason": "Say why it is not sent again (kept in the log)."})
    message = _unknown_in_scope(user, message_id)
    now = timezone.now()
    who = user.get_full_name() or user.username
    fields: dict[str, Any] = {"status": RESOLUTIONS[resolution], "status_at": now}
    if resolution == "sent":
        fields["last_error"] = f"Confirmed sent by {who}" + (f": {reason}" if reason else ".")
    elif resolution == "again":
        fields.update(not_before=now, last_error=f"Sent again by {who} after an unknown outcome.")
    else:
        fields["last_error"] = f"Not sent again, by {who}: {reason}"
    with transaction.atomic():
        _settle(message, fields)
        _audit_settled(
            user,
            message,
            fields["status"],
            access_reason="resolved a message whose sending was interrupted",
            details={"resolution": resolution, "reason": reason},
        )
    message.refresh_from_db()
    return message


def do_check_unknown(user, *, message_id: int) -> Message:
    """Ask the SMS provider whether it took an interrupted text (`channels.find_sms`), and
    settle it by the answer: found, it is sent (or delivered, or not delivered, as the
    provider says) with the provider's id; not in the provider's log, it goes back to the
    outbox, since it never left. `user` is the member of staff who asked, or None for the
    worker (delivery.settle_unknown). Raises ValidationError when the provider cannot be
    asked (an email, no SMS account, the provider not answering): nothing changes then."""
    if user is not None:
        _may_resolve_unknown(user)
        message = _unknown_in_scope(user, message_id)
    else:
        message = Message.objects.filter(pk=message_id, status=Message.Status.UNKNOWN).first()
        if message is None:
            raise ValidationError({"message_id": "This message is no longer waiting for a check."})
    if message.channel != ContactChannel.SMS:
        raise ValidationError(
            {"channel": "Only texts can be looked up: an SMTP server keeps no log to ask."}
        )
    others = (
        Message.objects.filter(channel=ContactChannel.SMS, to_address=message.to_address)
        .exclude(pk=message.pk)
        .exclude(provider_id="")
        .values_list("provider_id", flat=True)
    )
    try:
        found = channels.find_sms(
            to=message.to_address,
            body=message.body,
            since=message.created_at,
            provider_id=message.provider_id,
            skip=frozenset(others),
        )
    except channels.NotKnown as error:
        raise ValidationError(
            {"provider": f"The provider does not know this text's id ({error}): check by hand."}
        ) from error
    except channels.TemporaryFailure as error:
        raise ValidationError({"provider": f"The provider could not be asked: {error}"}) from error
    now = timezone.now()
    if found is None:
        fields: dict[str, Any] = {
            "status": Message.Status.QUEUED,
            "not_before": now,
            "last_error": "The provider's log holds no such text: it never left; sent again.",
        }
    else:
        fields = {
            "status": PROVIDER_STATUS.get(found.status, Message.Status.SENT),
            "provider_id": found.sid,
            "sent_at": found.created or now,
            "last_error": "",
        }
    fields["status_at"] = now
    with transaction.atomic():
        _settle(message, fields)
        _audit_settled(
            user,
            message,
            fields["status"],
            access_reason="asked the SMS provider about a text whose sending was interrupted",
            details={"provider_id": found.sid if found else "", "found": found is not None},
        )
    message.refresh_from_db()
    return message


def _may_resolve_unknown(user) -> None:
    if not resolves_unknown_sends(user):
        raise PermissionDenied("Only district administrators resolve interrupted sends.")


def _unknown_in_scope(user, message_id: int) -> Message:
    """The user's district's unknown message, if the gatekeeper lets them see its children."""
    message = Message.objects.filter(
        pk=message_id, district_id=user.district_id, direction=Message.Direction.OUT
    ).first()
    if message is None:
        raise ValidationError({"message_id": "No message of the district has this number."})
    if message.status != Message.Status.UNKNOWN:
        raise _resolved_already(message)
    children = set(message.students.values_list("pk", flat=True))
    seen = set(visible_students(user).filter(pk__in=children).values_list("pk", flat=True))
    if seen != children:
        raise PermissionDenied("The message is about a student you may not see.")
    return message


def _settle(message: Message, fields: dict[str, Any]) -> None:
    """Move the message out of `unknown`, unless someone (or the worker) already did."""
    if not Message.objects.filter(pk=message.pk, status=Message.Status.UNKNOWN).update(**fields):
        raise _resolved_already(Message.objects.get(pk=message.pk))


def _resolved_already(message: Message) -> ValidationError:
    return ValidationError(
        {
            "message_id": "This message was resolved already (now: "
            f"“{message.get_status_display()}”); nothing was changed."
        }
    )


def _audit_settled(user, message: Message, status: str, *, access_reason: str, details) -> None:
    details = {"message_id": message.pk, "before": "unknown", "after": str(status), **details}
    children = list(message.students.values_list("pk", flat=True))
    for student_id in children:
        do_log_student_access(
            user=user,
            student_id=student_id,
            subject="family message",
            access_reason=access_reason,
            action=AuditEntry.Action.UPDATE,
            details=details,
        )
    if not children:
        do_log_district_change(
            user=user,
            subject="family message",
            details=details,
            district=message.district,
        )
