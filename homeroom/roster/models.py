"""Students, their characteristics, guardians and contacts, enrollments and sections."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from homeroom.core.models import DateSpan, GradeLevel


class Gender(models.TextChoices):
    """Gender as reported by the SIS."""

    FEMALE = "F", _("Female")
    MALE = "M", _("Male")
    NONBINARY = "X", _("Nonbinary")
    UNKNOWN = "U", _("Not reported")


class RaceEthnicity(models.TextChoices):
    """The federal (EDFacts) race/ethnicity reporting categories."""

    HISPANIC = "hispanic", _("Hispanic or Latino")
    AMERICAN_INDIAN = "american_indian", _("American Indian or Alaska Native")
    ASIAN = "asian", _("Asian")
    BLACK = "black", _("Black or African American")
    PACIFIC_ISLANDER = "pacific_islander", _("Native Hawaiian or Other Pacific Islander")
    WHITE = "white", _("White")
    TWO_OR_MORE = "two_or_more", _("Two or more races")
    UNKNOWN = "unknown", _("Not reported")


class Language(models.TextChoices):
    """Home and contact languages, as ISO 639-1 codes (extend as districts need)."""

    ENGLISH = "en", _("English")
    SPANISH = "es", _("Spanish")
    CHINESE = "zh", _("Chinese")
    VIETNAMESE = "vi", _("Vietnamese")
    ARABIC = "ar", _("Arabic")
    HAITIAN_CREOLE = "ht", _("Haitian Creole")
    SOMALI = "so", _("Somali")
    RUSSIAN = "ru", _("Russian")
    PORTUGUESE = "pt", _("Portuguese")
    TAGALOG = "tl", _("Tagalog")
    OTHER = "other", _("Other")


class Student(models.Model):
    """A student of the district, identified by the SIS's local id."""

    district = models.ForeignKey("core.District", on_delete=models.PROTECT, related_name="students")
    local_id = models.CharField(max_length=40)
    state_id = models.CharField(max_length=40, blank=True)
    first_name = models.CharField(max_length=100)
    middle_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100)
    birth_date = models.DateField(null=True, blank=True)
    grade = models.SmallIntegerField(
        choices=GradeLevel.choices, help_text="Current grade level (enrollments keep history)."
    )
    gender = models.CharField(max_length=1, choices=Gender.choices, default=Gender.UNKNOWN)
    race_ethnicity = models.CharField(
        max_length=20, choices=RaceEthnicity.choices, default=RaceEthnicity.UNKNOWN
    )
    home_language = models.CharField(max_length=10, choices=Language.choices, default="en")

    class Meta:
        ordering = ["last_name", "first_name", "local_id"]
        constraints = [
            models.UniqueConstraint(fields=["district", "local_id"], name="student_local_id_unique")
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        """Last, first as staff lists show it."""
        return f"{self.last_name}, {self.first_name}"


class StudentCharacteristic(DateSpan):
    """A characteristic held for a period: IEP, 504, English learner, homeless, and so on.

    Stored as rows, not a column per flag, so a district can add kinds and a student can
    gain or lose one during the year.
    """

    class Kind(models.TextChoices):
        IEP = "iep", _("Students with disabilities (IEP)")
        SECTION_504 = "section_504", _("Section 504")
        ENGLISH_LEARNER = "english_learner", _("English learner")
        FOSTER_CARE = "foster_care", _("Foster care")
        HOMELESS = "homeless", _("Homeless")
        ECONOMICALLY_DISADVANTAGED = "econ_disadvantaged", _("Economically disadvantaged")
        MIGRANT = "migrant", _("Migrant")

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="characteristics")
    kind = models.CharField(max_length=30, choices=Kind.choices)

    class Meta:
        indexes = [models.Index(fields=["kind", "start_date"])]
        constraints = [DateSpan.dates_ordered("characteristic_dates_ordered")]

    def __str__(self) -> str:
        return f"{self.student_id} {self.kind} from {self.start_date}"


class ContactChannel(models.TextChoices):
    """Ways to reach a family."""

    SMS = "sms", _("Text message")
    EMAIL = "email", _("Email")
    VOICE = "voice", _("Phone call")
    LETTER = "letter", _("Letter")


class Guardian(models.Model):
    """A parent, guardian or other contact of one or more students."""

    district = models.ForeignKey("core.District", on_delete=models.PROTECT, related_name="+")
    local_id = models.CharField(max_length=40)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    phone = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    preferred_language = models.CharField(max_length=10, choices=Language.choices, default="en")

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["district", "local_id"], name="guardian_local_id_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"


class ContactPreference(models.Model):
    """Whether a guardian prefers a channel and has consented to (or opted out of) it."""

    class Consent(models.TextChoices):
        GRANTED = "granted", _("Consented")
        OPTED_OUT = "opted_out", _("Opted out")
        UNKNOWN = "unknown", _("Not asked")

    guardian = models.ForeignKey(Guardian, on_delete=models.CASCADE, related_name="preferences")
    channel = models.CharField(max_length=10, choices=ContactChannel.choices)
    preferred = models.BooleanField(default=False)
    consent = models.CharField(max_length=10, choices=Consent.choices, default=Consent.UNKNOWN)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["guardian", "channel"], name="preference_unique")
        ]

    def __str__(self) -> str:
        return f"{self.guardian_id} {self.channel} {self.consent}"


class StudentGuardian(models.Model):
    """Links a student to a guardian, with the relationship and contact priority."""

    class Relationship(models.TextChoices):
        MOTHER = "mother", _("Mother")
        FATHER = "father", _("Father")
        GUARDIAN = "guardian", _("Legal guardian")
        GRANDPARENT = "grandparent", _("Grandparent")
        FOSTER_PARENT = "foster_parent", _("Foster parent")
        OTHER = "other", _("Other")

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="guardian_links")
    guardian = models.ForeignKey(Guardian, on_delete=models.CASCADE, related_name="student_links")
    relationship = models.CharField(max_length=20, choices=Relationship.choices)
    contact_priority = models.PositiveSmallIntegerField(default=1)
    lives_with = models.BooleanField(default=True)
    # FERPA: education records go only to guardians with the right to them (custody or
    # educational rights); a court order or a family's safety can forbid any contact.
    contact_rights = models.BooleanField(
        default=True, help_text="May receive the student's records and messages."
    )
    no_contact = models.BooleanField(
        default=False, help_text="Never to be contacted (e.g. a court order)."
    )

    class Meta:
        ordering = ["contact_priority"]
        constraints = [
            models.UniqueConstraint(fields=["student", "guardian"], name="student_guardian_unique")
        ]

    def __str__(self) -> str:
        return f"{self.guardian_id} {self.relationship} of {self.student_id}"


# Exit reasons as SISs and Ed-Fi commonly send them, in words. The SIS's text is stored as
# sent (a district's own codes too); one it is not listed here is shown as written.
EXIT_REASONS = {
    "end_of_year": "End of the school year",
    "graduated": "Graduated",
    "transferred_in_district": "Transferred to another school of the district",
    "transferred": "Transferred",
    "moved_out_of_district": "Moved out of the district",
    "dropped_out": "Dropped out",
    "expelled": "Expelled",
    "deceased": "Deceased",
    "withdrawn": "Withdrawn",
}


class Enrollment(models.Model):
    """A span of a student's enrollment at a school; entry and exit days both count."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="enrollments")
    school = models.ForeignKey("core.School", on_delete=models.PROTECT, related_name="enrollments")
    school_year = models.ForeignKey(
        "core.SchoolYear", on_delete=models.PROTECT, related_name="enrollments"
    )
    grade = models.SmallIntegerField(choices=GradeLevel.choices)
    entry_date = models.DateField()
    exit_date = models.DateField(null=True, blank=True)
    exit_reason = models.CharField(max_length=100, blank=True)
    source_run = models.ForeignKey(
        "ingest.ImportRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_file = models.CharField(max_length=200, blank=True)
    source_line = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["entry_date"]
        indexes = [models.Index(fields=["school", "school_year", "grade"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(exit_date__isnull=True)
                | models.Q(exit_date__gte=models.F("entry_date")),
                name="enrollment_dates_ordered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.student_id} at {self.school_id} from {self.entry_date}"

    @property
    def exit_reason_label(self) -> str:
        """The exit reason in words ("moved_out_of_district" -> "Moved out of the district")."""
        reason = self.exit_reason.strip()
        known = EXIT_REASONS.get(reason.lower())
        if known:
            return known
        if reason and " " not in reason and "_" in reason:
            return reason.replace("_", " ").capitalize()
        return reason


class Section(models.Model):
    """A class or homeroom section of a school in a year, taught by one or more teachers."""

    school = models.ForeignKey("core.School", on_delete=models.PROTECT, related_name="sections")
    school_year = models.ForeignKey(
        "core.SchoolYear", on_delete=models.PROTECT, related_name="sections"
    )
    local_id = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    period = models.CharField(max_length=20, blank=True)
    is_homeroom = models.BooleanField(default=False)
    teachers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="sections")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "school_year", "local_id"], name="section_local_id_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class SectionEnrollment(DateSpan):
    """A student's membership in a section, for a period."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="section_links")
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        constraints = [DateSpan.dates_ordered("section_enrollment_dates_ordered")]

    def __str__(self) -> str:
        return f"{self.student_id} in {self.section_id}"


class SisIntervention(DateSpan):
    """An intervention the district's SIS records for a student, as the last import said it.

    A plain record of what the SIS says, written only by imports (which replace a student's
    rows with what each file holds) and never edited in Homeroom: the interventions app maps
    its code to a playbook entry and shows it on the student's timeline with its source.
    Kept in roster, beside the other facts the SIS sends, so that ingest writes it without
    knowing the playbook (docs/architecture.md).
    """

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="sis_interventions")
    code = models.CharField(max_length=60, help_text="The SIS's code for the intervention.")
    name = models.CharField(max_length=200, blank=True, help_text="Its name, if the SIS gives one.")
    school = models.ForeignKey(
        "core.School", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_run = models.ForeignKey(
        "ingest.ImportRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_file = models.CharField(max_length=200, blank=True)
    source_line = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["start_date", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "code", "start_date"], name="sis_intervention_unique"
            ),
            DateSpan.dates_ordered("sis_intervention_dates_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.code} for {self.student_id} from {self.start_date}"
