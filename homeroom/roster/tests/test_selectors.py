"""Reads of the roster: finding the students a user may see, and one student's record."""

import datetime as dt

import pytest

from homeroom.access.gatekeeper import access_student
from homeroom.conftest import enroll
from homeroom.roster import selectors
from homeroom.roster.models import (
    Enrollment,
    Guardian,
    Student,
    StudentCharacteristic,
    StudentGuardian,
)

pytestmark = pytest.mark.django_db

CAST_STUDENTS = ("ana", "ben", "carla", "dev", "eli", "gabe", "hal")


def found(cast, user, **filters) -> list[str]:
    """The cast names of the students `find_students` returns, in its order."""
    by_pk = {getattr(cast, name).pk: name for name in CAST_STUDENTS}
    filters.setdefault("school_year", cast.this_year)
    return [by_pk.get(s.pk, s.local_id) for s in selectors.find_students(user, **filters)]


# Finding students


def test_without_filters_a_user_finds_every_student_they_may_see_by_name(cast):
    # the principal serves Lincoln: this year's Lincoln students, Alvarez to Garcia
    assert found(cast, cast.principal) == ["ana", "ben", "eli", "gabe"]
    assert found(cast, cast.counselor) == ["carla", "gabe"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chen", ["carla"]),  # last name, any case
        ("CARLA", ["carla"]),  # first name
        ("S4", ["dev"]),  # the SIS id
        ("ar", ["ana", "carla", "gabe"]),  # part of a name: Alvarez, Carla, Garcia
        ("e ch", ["carla"]),  # every word must match
        ("Ana Brooks", []),  # one word each of two students finds neither
        ("   ", ["ana", "ben", "carla", "dev", "eli", "gabe", "hal"]),
    ],
)
def test_search_matches_every_word_in_names_or_ids(cast, text, expected):
    assert found(cast, cast.admin, text=text) == expected


def test_search_finds_a_student_by_state_id(cast):
    Student.objects.filter(pk=cast.dev.pk).update(state_id="IL-55501")
    assert found(cast, cast.admin, text="55501") == ["dev"]


def test_search_never_reaches_beyond_the_students_a_user_may_see(cast):
    # Ben is a Lincoln student: the principal finds him, the teacher does not
    assert found(cast, cast.principal, text="brooks") == ["ben"]
    assert found(cast, cast.teacher, text="brooks") == []


def test_filter_by_school_keeps_the_students_enrolled_there_this_year(cast):
    # Hal was at Lincoln last year only; Eli withdrew this year but was enrolled
    assert found(cast, cast.admin, school=cast.lincoln) == ["ana", "ben", "eli", "gabe"]
    assert found(cast, cast.admin, school=cast.central) == ["carla", "dev"]
    lincoln_last_year = found(cast, cast.admin, school=cast.lincoln, school_year=cast.last_year)
    assert lincoln_last_year == ["hal"]


def test_filter_by_grade_and_school_together(cast):
    assert found(cast, cast.admin, grade=5) == ["eli", "hal"]
    assert found(cast, cast.admin, grade=5, school=cast.lincoln) == ["eli"]
    assert found(cast, cast.admin, grade=5, school=cast.central) == []


def test_each_student_carries_the_school_of_their_latest_enrollment_this_year(cast):
    # given Ben transferred from Lincoln to Central a week ago
    moved = cast.today - dt.timedelta(days=7)
    Enrollment.objects.filter(student=cast.ben).update(exit_date=moved - dt.timedelta(days=1))
    enroll(cast.ben, cast.central, cast.this_year, entry=moved)
    # when the students are listed
    schools = {
        s.local_id: s.school_name
        for s in selectors.find_students(cast.admin, school_year=cast.this_year)
    }
    # then Ben shows at Central; Hal, not enrolled this year, at no school
    assert schools == {
        "S1": "Lincoln Elementary",
        "S2": "Central High",
        "S3": "Central High",
        "S4": "Central High",
        "S5": "Lincoln Elementary",
        "S6": "Lincoln Elementary",
        "S7": None,
    }
    # and he is found at both schools he attended this year
    assert "ben" in found(cast, cast.admin, school=cast.lincoln)
    assert "ben" in found(cast, cast.admin, school=cast.central)


# The choices of the students list's filters


def test_school_choices_are_where_the_users_students_are_enrolled_by_name(cast):
    # the counselor's grades reach Central, her caseload (Gabe) reaches Lincoln
    def schools(user):
        return list(selectors.menus_of_visible_students(user, school_year=cast.this_year)[0])

    assert [s.name for s in schools(cast.counselor)] == ["Central High", "Lincoln Elementary"]
    assert schools(cast.teacher) == [cast.lincoln]
    assert schools(cast.outsider) == []


def test_grade_choices_are_the_users_students_grades_lowest_first(cast):
    def grades(user):
        return selectors.menus_of_visible_students(user, school_year=cast.this_year)[1]

    assert grades(cast.counselor) == [2, 9]
    assert grades(cast.admin) == [2, 3, 4, 5, 9, 11]
    assert grades(cast.outsider) == []


# One student's record


def test_characteristics_newest_first_then_by_kind(cast):
    # given Ana in foster care and economically disadvantaged since this year, on an IEP
    # since last year
    for kind, start in (
        (StudentCharacteristic.Kind.IEP, cast.last_year.start_date),
        (StudentCharacteristic.Kind.FOSTER_CARE, cast.this_year.start_date),
        (StudentCharacteristic.Kind.ECONOMICALLY_DISADVANTAGED, cast.this_year.start_date),
    ):
        StudentCharacteristic.objects.create(student=cast.ana, kind=kind, start_date=start)
    StudentCharacteristic.objects.create(
        student=cast.ben, kind="homeless", start_date=cast.this_year.start_date
    )
    # when her record is read
    record = access_student(cast.teacher, cast.ana.pk)
    kinds = [c.kind for c in selectors.student_characteristics(record)]
    # then this year's come first (by kind: "econ..." before "foster..."), Ben's not at all
    assert kinds == ["econ_disadvantaged", "foster_care", "iep"]


def test_guardians_in_the_order_to_call_them_then_by_name(cast):
    # given three contacts of Ana: two to call first (Ruiz, then Alvarez by name), one second
    def link(local_id, first, last, priority):
        person = Guardian.objects.create(
            district=cast.district, local_id=local_id, first_name=first, last_name=last
        )
        StudentGuardian.objects.create(
            student=cast.ana, guardian=person, relationship="other", contact_priority=priority
        )

    link("G1", "Marta", "Ruiz", 1)
    link("G2", "Ines", "Alvarez", 2)
    link("G3", "Luis", "Alvarez", 1)
    # when her record is read
    guardians = selectors.student_guardians(access_student(cast.teacher, cast.ana.pk))
    # then priority 1 by last name, then priority 2
    assert [str(g.guardian) for g in guardians] == ["Luis Alvarez", "Marta Ruiz", "Ines Alvarez"]


def test_enrollments_most_recent_first_with_school_and_year(cast):
    # given Hal at Lincoln last year, and at Central this year
    enroll(cast.hal, cast.central, cast.this_year, grade=6)
    spans = selectors.student_enrollments(access_student(cast.admin, cast.hal.pk))
    assert [(e.school.name, e.school_year.name) for e in spans] == [
        ("Central High", cast.this_year.name),
        ("Lincoln Elementary", cast.last_year.name),
    ]
