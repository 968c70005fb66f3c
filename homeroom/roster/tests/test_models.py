"""What the roster's tables promise: one student per local id, names as lists show them,
dated spans that end after they start, guardians' contact preferences one per channel."""

import datetime as dt

import pytest
from django.db import transaction
from django.db.models.deletion import ProtectedError

from homeroom.conftest import enroll, refused_by_the_database
from homeroom.core.models import School
from homeroom.roster import models as roster

pytestmark = pytest.mark.django_db


def guardian(cast, local_id: str, first: str, last: str, **extra) -> roster.Guardian:
    return roster.Guardian.objects.create(
        district=cast.district, local_id=local_id, first_name=first, last_name=last, **extra
    )


# Students


def test_a_student_reads_last_name_first_as_staff_lists_show_it(cast):
    assert str(cast.ana) == "Alvarez, Ana"
    assert cast.carla.full_name == "Chen, Carla"


def test_students_are_listed_by_last_name_then_first_name_then_id(cast):
    # given two more students: a second Ana Alvarez, and an Aaron with the same last name
    twin = roster.Student.objects.create(
        district=cast.district, local_id="S0", first_name="Ana", last_name="Alvarez", grade=3
    )
    aaron = roster.Student.objects.create(
        district=cast.district, local_id="S9", first_name="Aaron", last_name="Alvarez", grade=1
    )
    # when the district's students are listed in their default order
    listed = list(roster.Student.objects.filter(district=cast.district))
    # then the Alvarezes come first, Aaron before the Anas, S0 before S1
    assert listed[:3] == [aaron, twin, cast.ana]
    assert [s.last_name for s in listed] == [
        "Alvarez",
        "Alvarez",
        "Alvarez",
        "Brooks",
        "Chen",
        "Desai",
        "Evans",
        "Garcia",
        "Hughes",
    ]


def test_a_local_id_names_one_student_per_district(cast):
    # given S1 (Ana) in Riverside
    # when another district's SIS uses the same id, it is another student
    roster.Student.objects.create(
        district=cast.other_district, local_id="S1", first_name="Zoe", last_name="Z", grade=1
    )
    # but a second S1 in Riverside is refused
    with refused_by_the_database():
        roster.Student.objects.create(
            district=cast.district, local_id="S1", first_name="Ann", last_name="A", grade=3
        )
    assert roster.Student.objects.filter(local_id="S1").count() == 2


def test_what_the_sis_did_not_report_reads_not_reported(cast):
    # given a student created with only name, id and grade
    pupil = roster.Student.objects.create(
        district=cast.district, local_id="S8", first_name="Ivy", last_name="Ito", grade=0
    )
    pupil.refresh_from_db()
    # then gender and race/ethnicity say so, the home language is English, the grade is K
    assert pupil.gender == roster.Gender.UNKNOWN
    assert pupil.get_gender_display() == "Not reported"
    assert pupil.get_race_ethnicity_display() == "Not reported"
    assert pupil.get_home_language_display() == "English"
    assert pupil.get_grade_display() == "K"


def test_a_district_with_students_cannot_be_deleted_with_them(cast):
    with pytest.raises(ProtectedError) as protected, transaction.atomic():
        cast.district.delete()
    assert cast.ana in protected.value.protected_objects


def test_deleting_a_student_removes_their_spans_and_links_but_not_their_guardian(cast):
    # given Ana with a characteristic, a guardian, an enrollment and a homeroom membership
    roster.StudentCharacteristic.objects.create(
        student=cast.ana,
        kind=roster.StudentCharacteristic.Kind.IEP,
        start_date=cast.this_year.start_date,
    )
    mother = guardian(cast, "G1", "Rosa", "Alvarez")
    roster.StudentGuardian.objects.create(student=cast.ana, guardian=mother, relationship="mother")
    # when Ana is deleted
    cast.ana.delete()
    # then her rows go with her, and her mother stays (she may have other children)
    assert not roster.Enrollment.objects.filter(student_id=cast.ana.pk).exists()
    assert not roster.SectionEnrollment.objects.filter(student_id=cast.ana.pk).exists()
    assert not roster.StudentCharacteristic.objects.filter(student_id=cast.ana.pk).exists()
    assert not roster.StudentGuardian.objects.filter(guardian=mother).exists()
    assert roster.Guardian.objects.filter(pk=mother.pk).exists()


# Characteristics


def test_a_characteristic_may_last_one_day_but_not_end_before_it_starts(cast):
    day = cast.this_year.start_date
    one_day = roster.StudentCharacteristic.objects.create(
        student=cast.ana,
        kind=roster.StudentCharacteristic.Kind.HOMELESS,
        start_date=day,
        end_date=day,
    )
    assert one_day.end_date == one_day.start_date
    with refused_by_the_database():
        roster.StudentCharacteristic.objects.create(
            student=cast.ana,
            kind=roster.StudentCharacteristic.Kind.HOMELESS,
            start_date=day,
            end_date=day - dt.timedelta(days=1),
        )


def test_a_student_may_gain_the_same_characteristic_again_after_losing_it(cast):
    # given Ben an English learner last year, exited, and identified again this year
    kind = roster.StudentCharacteristic.Kind.ENGLISH_LEARNER
    roster.StudentCharacteristic.objects.create(
        student=cast.ben,
        kind=kind,
        start_date=cast.last_year.start_date,
        end_date=cast.last_year.end_date,
    )
    roster.StudentCharacteristic.objects.create(
        student=cast.ben, kind=kind, start_date=cast.this_year.start_date
    )
    # then both periods are kept, and their kind reads in the school's words
    periods = cast.ben.characteristics.filter(kind=kind)
    assert periods.count() == 2
    assert {p.get_kind_display() for p in periods} == {"English learner"}


# Guardians and their contact preferences


def test_a_guardian_reads_first_name_first_and_lists_by_last_name(cast):
    zed = guardian(cast, "G2", "Amy", "Zed")
    ames = guardian(cast, "G1", "Zora", "Ames")
    assert str(zed) == "Amy Zed"
    assert list(roster.Guardian.objects.filter(district=cast.district)) == [ames, zed]


def test_a_guardian_id_is_unique_in_a_district_only(cast):
    guardian(cast, "G1", "Rosa", "Alvarez")
    roster.Guardian.objects.create(
        district=cast.other_district, local_id="G1", first_name="Other", last_name="Parent"
    )
    with refused_by_the_database():
        guardian(cast, "G1", "Someone", "Else")


def test_a_guardian_not_yet_asked_has_given_no_consent(cast):
    # given a guardian with a phone but no preference recorded beyond the channel
    rosa = guardian(cast, "G1", "Rosa", "Alvarez", phone="555-0100", preferred_language="es")
    sms = roster.ContactPreference.objects.create(guardian=rosa, channel=roster.ContactChannel.SMS)
    sms.refresh_from_db()
    # then the channel is neither preferred nor consented to: "Not asked"
    assert sms.preferred is False
    assert sms.consent == roster.ContactPreference.Consent.UNKNOWN
    assert sms.get_consent_display() == "Not asked"
    assert rosa.get_preferred_language_display() == "Spanish"


def test_one_preference_per_guardian_and_channel(cast):
    # given Rosa consented to text messages and opted out of calls
    rosa = guardian(cast, "G1", "Rosa", "Alvarez")
    roster.ContactPreference.objects.create(
        guardian=rosa,
        channel=roster.ContactChannel.SMS,
        preferred=True,
        consent=roster.ContactPreference.Consent.GRANTED,
    )
    roster.ContactPreference.objects.create(
        guardian=rosa,
        channel=roster.ContactChannel.VOICE,
        consent=roster.ContactPreference.Consent.OPTED_OUT,
    )
    # when a second text-message preference is written, it is refused
    with refused_by_the_database():
        roster.ContactPreference.objects.create(guardian=rosa, channel=roster.ContactChannel.SMS)
    # then her preferences say which channels may be used
    consents = {p.channel: p.get_consent_display() for p in rosa.preferences.all()}
    assert consents == {"sms": "Consented", "voice": "Opted out"}


def test_changing_a_consent_records_when(cast):
    # given a preference written at some time
    rosa = guardian(cast, "G1", "Rosa", "Alvarez")
    email = roster.ContactPreference.objects.create(
        guardian=rosa, channel=roster.ContactChannel.EMAIL
    )
    first = email.updated_at
    # when the guardian opts out
    email.consent = roster.ContactPreference.Consent.OPTED_OUT
    email.save(update_fields=["consent", "updated_at"])
    # then the time of the change is kept (later than the first write)
    email.refresh_from_db()
    assert email.consent == "opted_out"
    assert email.updated_at > first


def test_a_students_guardians_come_in_contact_priority_order(cast):
    # given Ana's grandmother to call second and her father first
    grandmother = guardian(cast, "G1", "Ines", "Alvarez")
    father = guardian(cast, "G2", "Luis", "Alvarez")
    roster.StudentGuardian.objects.create(
        student=cast.ana,
        guardian=grandmother,
        relationship=roster.StudentGuardian.Relationship.GRANDPARENT,
        contact_priority=2,
        lives_with=False,
    )
    roster.StudentGuardian.objects.create(
        student=cast.ana, guardian=father, relationship=roster.StudentGuardian.Relationship.FATHER
    )
    # then the default order is the order to call them in
    links = list(cast.ana.guardian_links.all())
    assert [link.guardian for link in links] == [father, grandmother]
    assert [link.get_relationship_display() for link in links] == ["Father", "Grandparent"]
    assert [link.lives_with for link in links] == [True, False]


def test_a_guardian_is_linked_to_a_student_once_but_may_have_several(cast):
    # given Rosa, mother of Ana and of Gabe
    rosa = guardian(cast, "G1", "Rosa", "Alvarez")
    for pupil in (cast.ana, cast.gabe):
        roster.StudentGuardian.objects.create(student=pupil, guardian=rosa, relationship="mother")
    assert {link.student for link in rosa.student_links.all()} == {cast.ana, cast.gabe}
    # when she is linked to Ana a second time, it is refused
    with refused_by_the_database():
        roster.StudentGuardian.objects.create(
            student=cast.ana, guardian=rosa, relationship="guardian"
        )


# Enrollments


def test_an_enrollment_of_one_day_counts_but_one_that_ends_before_it_starts_is_refused(cast):
    day = cast.this_year.start_date
    day_before = day - dt.timedelta(days=1)
    enroll(cast.dev, cast.lincoln, cast.this_year, entry=day, exit_date=day)
    with refused_by_the_database():
        enroll(cast.dev, cast.lincoln, cast.this_year, entry=day, exit_date=day_before)


def test_a_students_enrollments_run_in_date_order(cast):
    # given Eli, withdrawn from Lincoln a month ago, re-entering Central two weeks ago
    back = cast.today - dt.timedelta(days=14)
    central = enroll(cast.eli, cast.central, cast.this_year, entry=back)
    earlier = enroll(
        cast.eli, cast.lincoln, cast.last_year, grade=4, exit_date=cast.last_year.end_date
    )
    # then his spans read oldest first, and the open span has no exit date
    spans = list(cast.eli.enrollments.all())
    assert spans[0] == earlier and spans[-1] == central
    assert [s.entry_date for s in spans] == sorted(s.entry_date for s in spans)
    assert spans[1].exit_date == cast.today - dt.timedelta(days=30)
    assert central.exit_date is None


def test_a_school_with_enrollments_cannot_be_deleted(cast):
    with pytest.raises(ProtectedError) as protected, transaction.atomic():
        School.objects.get(pk=cast.lincoln.pk).delete()
    enrolled = {
        e.student for e in protected.value.protected_objects if isinstance(e, roster.Enrollment)
    }
    assert enrolled == {cast.ana, cast.ben, cast.eli, cast.gabe, cast.hal}


# Sections and memberships


def test_sections_read_and_list_by_name(cast):
    math = roster.Section.objects.create(
        school=cast.central, school_year=cast.this_year, local_id="M1", name="Algebra I"
    )
    assert str(cast.homeroom) == "Room 3"
    assert list(roster.Section.objects.filter(school_year=cast.this_year)) == [math, cast.homeroom]


def test_a_section_id_is_unique_in_a_school_and_year_only(cast):
    # the same id names last year's Room 3 and Central's HR3 without clash
    roster.Section.objects.create(
        school=cast.lincoln, school_year=cast.last_year, local_id="HR3", name="Room 3"
    )
    roster.Section.objects.create(
        school=cast.central, school_year=cast.this_year, local_id="HR3", name="Room 3"
    )
    with refused_by_the_database():
        roster.Section.objects.create(
            school=cast.lincoln, school_year=cast.this_year, local_id="HR3", name="Again"
        )


def test_a_section_keeps_its_teachers_and_dated_members(cast):
    # given Room 3: Ana a member since the start, Eli until a month ago
    members = {m.student: m.end_date for m in cast.homeroom.memberships.all()}
    assert members == {cast.ana: None, cast.eli: cast.today - dt.timedelta(days=30)}
    assert list(cast.homeroom.teachers.all()) == [cast.teacher]
    assert list(cast.teacher.sections.all()) == [cast.homeroom]


def test_a_membership_cannot_end_before_it_starts(cast):
    with refused_by_the_database():
        roster.SectionEnrollment.objects.create(
            student=cast.ben,
            section=cast.homeroom,
            start_date=cast.today,
            end_date=cast.today - dt.timedelta(days=1),
        )
