"""Reads of family outreach; student data only through the gatekeeper."""

from dataclasses import dataclass

from homeroom.access.gatekeeper import StudentAccess, access_student
from homeroom.core.selectors import district_today
from homeroom.metrics.display import days as show_days
from homeroom.metrics.display import family_date
from homeroom.metrics.models import StudentSummary
from homeroom.outreach.models import Message, MessageKind, MessageTemplate
from homeroom.outreach.rules import consent_allows, normal_phone
from homeroom.outreach.templates import RIGHT_TO_LEFT, fill
from homeroom.roster.models import ContactChannel, ContactPreference, Guardian, StudentGuardian


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
