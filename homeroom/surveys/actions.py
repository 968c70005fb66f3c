"""Writes of needs surveys: building one, inviting families through the outbox, answering.

Invitations go out as outreach messages (`outreach.actions.queue_many`), so every rule a
family message keeps holds for them too: only guardians with contact rights and consent on
the channel, the weekly cap, quiet hours, the family's language; one idempotency key per
survey and household, so sending twice sends nothing twice. Each invitation row is written
in the transaction that decided its message.
"""

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse

from homeroom.access.surveys import builds_surveys
from homeroom.core.actions import CommandLine, do_log_district_change
from homeroom.core.models import AuditEntry
from homeroom.core.selectors import current_school_year, district_today
from homeroom.interventions.models import Barrier
from homeroom.metrics.display import date as show_date
from homeroom.outreach.actions import Draft, outreach_settings, queue_many
from homeroom.outreach.models import Message, MessageKind
from homeroom.outreach.rules import consent_allows, household_of
from homeroom.outreach.selectors import address_of
from homeroom.roster.models import ContactChannel, ContactPreference, Enrollment, StudentGuardian
from homeroom.surveys.models import Answer, Audience, Invitation, Survey
from homeroom.surveys.selectors import invitation_for_token, is_closed
from homeroom.surveys.tokens import new_token, token_hash
from homeroom.surveys.wording import language_of, survey_languages

CHANNELS = (ContactChannel.SMS, ContactChannel.EMAIL, ContactChannel.LETTER)


def do_create_survey(
    user, *, title: str, audience: str, barrier_ids: list[int], closes_on: dt.date
) -> Survey:
    """A new survey of the district's current school year, asking about the chosen barriers."""
    if not builds_surveys(user):
        raise PermissionDenied("Only district administrators build surveys.")
    errors: dict[str, str] = {}
    title = title.strip()
    if not title:
        errors["title"] = "Give the survey a title families will recognize."
    if audience not in Audience.values:
        errors["audience"] = "Choose families, students or staff."
    barriers = list(
        Barrier.objects.filter(
            pk__in=barrier_ids, district_id=user.district_id, retired_on__isnull=True
        )
    )
    if not barriers or len(barriers) != len(set(barrier_ids)):
        errors["barrier_ids"] = "Choose at least one barrier from the district's list."
    today = district_today(user.district)
    year = current_school_year(user.district_id, today)
    if year is None:
        errors["closes_on"] = "The district has no school year holding today: import one first."
    elif not today <= closes_on <= year.end_date:
        errors["closes_on"] = (
            f"Choose a last day from today ({show_date(today)}) to the end of the school year "
            f"({show_date(year.end_date)})."
        )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        survey = Survey.objects.create(
            district_id=user.district_id,
            school_year=year,
            title=title,
            audience=audience,
            closes_on=closes_on,
            created_by=user,
        )
        survey.barriers.set(barriers)
        do_log_district_change(
            user=user,
            action=AuditEntry.Action.CREATE,
            subject="needs survey",
            details={"survey_id": survey.pk, "barriers": sorted(b.key for b in barriers)},
        )
    return survey


@dataclass
class Sent:
    """What sending a survey's invitations did: households invited now, invited before, and
    households not reached, by reason."""

    invited: int = 0
    already: int = 0
    not_sent: dict[str, int] = field(default_factory=dict)


@dataclass
class _Household:
    guardian: object
    channel: str
    students: list = field(default_factory=list)
    schools: set[int] = field(default_factory=set)


def _channel(guardian, preferences: dict[tuple[int, str], tuple[str, bool]]) -> str | None:
    """The guardian's preferred channel they consented to and have an address for, else the
    first such channel (texts, email, letters); None when there is none."""
    usable = [
        channel
        for channel in CHANNELS
        if consent_allows(
            channel,
            preferences.get((guardian.pk, channel), (ContactPreference.Consent.UNKNOWN,))[0],
        )
        and address_of(guardian, channel)
    ]
    preferred = [c for c in usable if preferences.get((guardian.pk, c), ("", False))[1]]
    return (preferred or usable or [None])[0]


def _households(survey: Survey, today: dt.date) -> tuple[dict[str, _Household], int]:
    """The households of the students enrolled today, each with the guardian and channel to
    reach it; and how many households no channel reaches."""
    enrolled = Enrollment.objects.filter(
        Q(exit_date__isnull=True) | Q(exit_date__gte=today),
        school_year=survey.school_year,
        entry_date__lte=today,
    )
    schools: dict[int, set[int]] = defaultdict(set)
    for student_id, school_id in enrolled.values_list("student_id", "school_id"):
        schools[student_id].add(school_id)
    links = list(
        StudentGuardian.objects.filter(
            student_id__in=list(schools), contact_rights=True, no_contact=False
        )
        .select_related("guardian", "student")
        .order_by("contact_priority", "guardian_id")
    )
    preferences = {
        (guardian_id, channel): (consent, preferred)
        for guardian_id, channel, consent, preferred in ContactPreference.objects.filter(
            guardian_id__in={link.guardian_id for link in links}
        ).values_list("guardian_id", "channel", "consent", "preferred")
    }
    households: dict[str, _Household] = {}
    unreachable: set[str] = set()
    for link in links:
        guardian = link.guardian
        key = household_of(
            guardian_id=guardian.pk,
            address_line=guardian.address_line,
            postal_code=guardian.postal_code,
        )
        household = households.get(key)
        if household is None:
            channel = _channel(guardian, preferences)
            if channel is None:
                unreachable.add(key)
                continue
            household = households[key] = _Household(guardian=guardian, channel=channel)
            unreachable.discard(key)
        if link.guardian_id == household.guardian.pk:
            household.students.append(link.student)
            household.schools |= schools[link.student_id]
    return households, len(unreachable - households.keys())


def do_send_survey_invitations(user, *, survey_id: int, base_url: str) -> Sent:
    """Invite every household of the students enrolled today to answer a families survey,
    each by its own link, through the outbox; households invited before are left alone."""
    if not builds_surveys(user):
        raise PermissionDenied("Only district administrators send survey invitations.")
    survey = Survey.objects.filter(pk=survey_id, district_id=user.district_id).first()
    if survey is None:
        raise ValidationError({"survey_id": "No such survey in your district."})
    if survey.audience != Audience.FAMILIES:
        raise ValidationError(
            {"survey_id": "Only a families survey is sent to families by message."}
        )
    today = district_today(survey.district)
    if today > survey.closes_on:
        raise ValidationError({"survey_id": "This survey is closed: its last day has passed."})
    households, unreachable = _households(survey, today)
    invited_before = set(survey.invitations.values_list("household", flat=True))
    result = Sent(already=len(invited_before & households.keys()))
    if unreachable:
        result.not_sent["no channel the family agreed to, with an address"] = unreachable
    fallback = outreach_settings(survey.district).fallback_language
    tokens: dict[str, tuple[str, str, _Household]] = {}
    drafts = []
    for key, household in sorted(households.items()):
        if key in invited_before:
            continue
        token = new_token()
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        message_key = f"survey:{survey.pk}:{digest}"
        tokens[message_key] = (token, key, household)
        link = base_url.rstrip("/") + reverse("surveys:answer", args=[token])
        drafts.append(
            Draft(
                district=survey.district,
                kind=MessageKind.SURVEY_INVITATION,
                channel=household.channel,
                guardian=household.guardian,
                students=tuple(household.students),
                key=message_key,
                values={"link": link, "closes": survey.closes_on},  # in the family's language
                stated={"survey_id": survey.pk, "closes_on": survey.closes_on.isoformat()},
                user=user,
                access_reason="needs survey invitation",
            )
        )

    def record(decided: list[tuple[Draft, Message]]) -> None:
        """The invitations of the messages just decided, in their transaction."""
        rows = []
        for draft, message in decided:
            token, key, household = tokens[draft.key]
            wanted = draft.guardian.preferred_language
            language = wanted if wanted in survey_languages() else language_of(fallback)
            rows.append(
                (
                    Invitation(
                        survey=survey,
                        token_hash=token_hash(token),
                        household=key,
                        guardian=draft.guardian,
                        language=language,
                        message=message,
                    ),
                    household,
                )
            )
        made = Invitation.objects.bulk_create([invitation for invitation, _ in rows])
        Invitation.students.through.objects.bulk_create(
            Invitation.students.through(invitation_id=i.pk, student_id=s.pk)
            for i, (_, household) in zip(made, rows, strict=True)
            for s in household.students
        )
        Invitation.schools.through.objects.bulk_create(
            Invitation.schools.through(invitation_id=i.pk, school_id=school)
            for i, (_, household) in zip(made, rows, strict=True)
            for school in sorted(household.schools)
        )

    outcomes = queue_many(drafts, decided=record)
    for outcome in outcomes:
        if isinstance(outcome, ValidationError):
            for problems in outcome.message_dict.values():
                for problem in problems:
                    result.not_sent[problem] = result.not_sent.get(problem, 0) + 1
        else:
            result.invited += 1
    with transaction.atomic():
        do_log_district_change(
            user=user,
            action=AuditEntry.Action.CREATE,
            subject="needs survey invitations",
            details={"survey_id": survey.pk, "invited": result.invited, "already": result.already},
        )
    return result


class LinkClosed(Exception):
    """The survey's last day has passed."""


class AlreadyAnswered(Exception):
    """The household answered through this link before."""


def do_answer_survey(
    *, token: str, barrier_ids: list[int], none_of_these: bool, language: str
) -> Answer:
    """Record a household's answer through its link: once, while the survey is open.

    Raises `LinkNotFound`, `LinkClosed`, `AlreadyAnswered`, or ValidationError when nothing
    was chosen (or a barrier the survey does not ask about)."""
    with transaction.atomic():
        invitation = invitation_for_token(token)
        # Two submits of one link at once: the second waits here, then finds the answer.
        Invitation.objects.select_for_update().filter(pk=invitation.pk).first()
        if is_closed(invitation):
            raise LinkClosed()
        if Answer.objects.filter(invitation=invitation).exists():
            raise AlreadyAnswered()
        asked = set(invitation.survey.barriers.values_list("pk", flat=True))
        chosen = set(barrier_ids)
        if not chosen and not none_of_these:
            raise ValidationError({"barriers": "choose"})
        if not chosen <= asked or (chosen and none_of_these):
            raise ValidationError({"barriers": "choose"})
        answer = Answer.objects.create(invitation=invitation, language=language_of(language))
        answer.barriers.set(chosen)
        AuditEntry.objects.bulk_create(
            AuditEntry(
                district_id=invitation.survey.district_id,
                action=AuditEntry.Action.CREATE,
                student_id=student_id,
                subject="needs survey answer",
                access_reason="the family, through its survey link",
                details={"survey_id": invitation.survey_id, "invitation_id": invitation.pk},
            )
            for student_id in invitation.students.values_list("pk", flat=True)
        )
    return answer


MAX_LINKS = 5000


def do_make_survey_links(
    *, survey: Survey, school, count: int, base_url: str, via: CommandLine
) -> list[str]:
    """`count` links to a survey for one school, tied to no household: for students' and
    staff surveys, handed out at school rather than sent (the command line's
    `homeroom survey_links`). Returns the links; only their hashes are kept."""
    if school.district_id != survey.district_id:
        raise ValidationError({"school": "That school is not in the survey's district."})
    if not 1 <= count <= MAX_LINKS:
        raise ValidationError({"count": f"Make from 1 to {MAX_LINKS:,} links at a time."})
    tokens = [new_token() for _ in range(count)]
    with transaction.atomic():
        made = Invitation.objects.bulk_create(
            Invitation(
                survey=survey,
                token_hash=token_hash(token),
                household=f"link:{token_hash(token)[:32]}",
                language="en",
            )
            for token in tokens
        )
        Invitation.schools.through.objects.bulk_create(
            Invitation.schools.through(invitation_id=i.pk, school_id=school.pk) for i in made
        )
        do_log_district_change(
            user=None,
            district=survey.district,
            via=via,
            action=AuditEntry.Action.CREATE,
            subject="needs survey links",
            details={"survey_id": survey.pk, "school_id": school.pk, "links": count},
        )
    return [base_url.rstrip("/") + reverse("surveys:answer", args=[token]) for token in tokens]
