"""Reads of family outreach; student data only through the gatekeeper."""

import re
from dataclasses import dataclass

from django.db.models import Q

from homeroom.access.gatekeeper import StudentAccess, access_student, visible_students
from homeroom.core.selectors import district_today
from homeroom.metrics.display import days as show_days
from homeroom.metrics.display import family_date
from homeroom.metrics.models import StudentSummary
from homeroom.outreach.models import Message, MessageKind, MessageTemplate
from homeroom.outreach.rules import consent_allows, normal_phone
from homeroom.outreach.templates import RIGHT_TO_LEFT, fill
from homeroom.roster.models import (
    ContactChannel,
    ContactPreference,
    Guardian,
    Student,
    StudentGuardian,
)


def address_of(guardian: Guardian, channel: str) -> str:
    """Where a channel reaches the guardian (empty when the roster holds no address)."""
    if channel == ContactChannel.SMS:
        return normal_phone(guardian.phone)
    if channel == ContactChannel.EMAIL:
        return guardian.email.strip()
    if guardian.address_line.strip() and guardian.postal_code.strip():
        return f"{guardian.address_line}, {guardian.city} {guardian.state} {guardian.postal_code}"
    return ""


def _consent(guardian_id: int, channel: str) -> str:
    preference = ContactPreference.objects.filter(guardian_id=guardian_id, channel=channel).first()
    return preference.consent if preference else ContactPreference.Consent.UNKNOWN


def channel_allowed(guardian_id: int, channel: str) -> bool:
    """Texts and email need consent given; letters go unless the guardian opted out."""
    return consent_allows(channel, _consent(guardian_id, channel))


@dataclass(frozen=True)
class Reachable:
    """A guardian of the student and the channels Homeroom may use to reach them."""

    guardian: Guardian
    channels: tuple[str, ...]


def reachable_guardians(access: StudentAccess) -> list[Reachable]:
    """The student's guardians who may be contacted, with each channel they consented to."""
    links = StudentGuardian.objects.filter(
        student=access.student, contact_rights=True, no_contact=False
    ).select_related("guardian")
    found = []
    for link in links:
        channels = tuple(
            channel
            for channel in (ContactChannel.SMS, ContactChannel.EMAIL)
            if channel_allowed(link.guardian_id, channel) and address_of(link.guardian, channel)
        )
        found.append(Reachable(guardian=link.guardian, channels=channels))
    return found


def conversation(user, *, student_id: int) -> tuple[StudentAccess, list[Message]]:
    """The messages to and from the families of a student the user sees, newest first."""
    access = access_student(user, student_id)
    messages = (
        Message.objects.filter(students=access.student)
        .exclude(kind__in=(MessageKind.OPTED_OUT, MessageKind.OPTED_IN))
        .select_related("guardian", "template", "created_by")
        .order_by("-created_at", "-pk")
    )
    return access, list(messages[:50])


def templates_of(user) -> list[MessageTemplate]:
    """The current version of each of the district's templates, by kind and language."""
    latest: dict[tuple[str, str], MessageTemplate] = {}
    for template in MessageTemplate.objects.filter(district_id=user.district_id).order_by(
        "kind", "language", "version"
    ):
        latest[(template.kind, template.language)] = template
    return list(latest.values())


def consent_of(guardian_id: int) -> dict[str, str]:
    """A guardian's consent per channel (not asked when never recorded)."""
    held = dict(
        ContactPreference.objects.filter(guardian_id=guardian_id).values_list("channel", "consent")
    )
    return {
        channel: held.get(channel, ContactPreference.Consent.UNKNOWN)
        for channel in ContactChannel.values
    }


@dataclass(frozen=True)
class Preview:
    """A template's words filled in for one real student, as their family would read them."""

    subject: str
    body: str
    language: str
    rtl: bool
    values: dict[str, str]


def preview_template(
    user, *, student_id: int, language: str, subject: str, body: str
) -> tuple[StudentAccess, Preview]:
    """The words filled in with a visible student's data (nothing is saved or sent)."""

    access = access_student(user, student_id)
    student = access.student
    today = district_today(student.district)
    guardian = next((item.guardian for item in reachable_guardians(access)), None)
    summary = StudentSummary.objects.filter(student=student, school__isnull=True).first()
    enrollment = student.enrollments.select_related("school").order_by("-entry_date").first()
    values = {
        "guardian": f"{guardian.first_name} {guardian.last_name}" if guardian else "(guardian)",
        "children": student.first_name,
        "school": enrollment.school.name if enrollment else student.district.name,
        "district": student.district.name,
        "days_absent": show_days(summary.days_absent) if summary else "0",
        "typical_days": "(a typical classmate's days)",
        "as_of": family_date(today, language),
        "date": family_date(today, language),
        "message": "(the words staff write)",
        "sender": user.get_full_name() or user.username,
        "link": "(the household's own survey link)",
        "closes": family_date(today, language),
    }
    return access, Preview(
        subject=fill(subject, values, language),
        body=fill(body, values, language),
        language=language,
        rtl=language in RIGHT_TO_LEFT,
        values=values,
    )


def unmatched_messages(district_id: int) -> list[Message]:
    """Texts and emails from addresses no guardian has, oldest first."""
    return list(
        Message.objects.filter(district_id=district_id, status=Message.Status.UNMATCHED).order_by(
            "created_at", "pk"
        )[:200]
    )


@dataclass(frozen=True)
class UnknownSend:
    """A message whose sending was interrupted, with the children the user may see."""

    message: Message
    children: tuple[Student, ...]


def unknown_sends(user) -> list[UnknownSend]:
    """The district's messages left `unknown` (a worker died while sending), longest
    waiting first, each with its children as the gatekeeper lets the user see them; a
    message about no child the user sees is left out."""
    found = list(
        Message.objects.filter(
            district_id=user.district_id,
            direction=Message.Direction.OUT,
            status=Message.Status.UNKNOWN,
        )
        .select_related("guardian")
        .prefetch_related("students")
        .order_by("status_at", "pk")[:200]
    )
    wanted = {student.pk for message in found for student in message.students.all()}
    seen = set(visible_students(user).filter(pk__in=wanted).values_list("pk", flat=True))
    rows = []
    for message in found:
        children = tuple(s for s in message.students.all() if s.pk in seen)
        if children or not message.students.all():
            rows.append(UnknownSend(message=message, children=children))
    return rows


def unknown_send_count(district_id: int) -> int:
    """How many of the district's messages wait for someone to settle an interrupted send."""
    return Message.objects.filter(
        district_id=district_id, direction=Message.Direction.OUT, status=Message.Status.UNKNOWN
    ).count()


@dataclass(frozen=True)
class GuardianMatch:
    """A guardian found by a search, with the children of theirs the user may see."""

    guardian: Guardian
    children: tuple[Student, ...]


SEARCH_LIMIT = 20


def find_guardians(user, query: str) -> list[GuardianMatch]:
    """Guardians of students the user may see (the gatekeeper's scope) whose name, roster
    ID, email or phone matches `query`, by last and first name, at most `SEARCH_LIMIT`.

    Every word of a name must begin or be inside the first or last name; an email matches
    any part of the address; a phone needs at least its last 4 digits, however the roster
    wrote the number ("(555) 010-1001" is found by 5550101001 or 010-1001)."""
    query = query.strip()
    if len(query) < 2:
        return []
    links = StudentGuardian.objects.filter(student__in=visible_students(user))
    guardians = Guardian.objects.filter(
        district_id=user.district_id, pk__in=links.values("guardian")
    )
    digits = re.sub(r"\D", "", query)
    if "@" in query:
        guardians = guardians.filter(email__icontains=query)
    elif len(digits) >= 4 and len(digits) >= len(re.sub(r"[\s()+.-]", "", query)):
        # Rosters write numbers many ways: narrow by the last digits in SQL, then compare
        # the digits themselves.
        candidates = guardians.filter(phone__contains=digits[-4:]).order_by("last_name", "pk")
        matches = [g.pk for g in candidates if digits in re.sub(r"\D", "", g.phone)]
        guardians = guardians.filter(pk__in=matches)
    else:
        condition = Q(local_id__iexact=query)
        words = query.split()
        by_name = Q()
        for word in words:
            by_name &= Q(first_name__icontains=word) | Q(last_name__icontains=word)
        guardians = guardians.filter(condition | by_name)
    found = list(guardians.order_by("last_name", "first_name", "pk")[:SEARCH_LIMIT])
    children: dict[int, list[Student]] = {g.pk: [] for g in found}
    for link in (
        StudentGuardian.objects.filter(guardian__in=found, student__in=visible_students(user))
        .select_related("student")
        .order_by("student__last_name", "student__first_name", "student__pk")
    ):
        children[link.guardian_id].append(link.student)
    return [GuardianMatch(guardian=g, children=tuple(children[g.pk])) for g in found]
