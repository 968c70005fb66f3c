"""Mapping profiles: the shipped ones load, and a mistaken one says which file and key."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from homeroom.ingest.adapters.tabular.fields import (
    CellError,
    DateParser,
    parse_fraction,
    parse_grade,
)
from homeroom.ingest.adapters.tabular.profiles import (
    ProfileError,
    load_profile,
    shipped_profiles,
)

MINIMAL = """
[codes]
A = { category = "unexcused" }

[attendance]
file = "absences.csv"
mode = "exceptions"
student_id = "student"
school_id = "school"
date = "date"
code = "code"
"""


def problems_of(tmp_path: Path, text: str, name: str = "district.toml") -> list[str]:
    """The problems load_profile lists for a profile with this text."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as raised:
        load_profile(str(path))
    return raised.value.problems


@pytest.mark.parametrize("name", shipped_profiles())
def test_every_shipped_profile_loads(name):
    profile = load_profile(name)
    assert profile.name == name
    assert profile.sources


def test_the_shipped_profiles_are_the_documented_ones():
    assert set(shipped_profiles()) >= {
        "homeroom-generator",
        "oea-contoso",
        "oea-contoso-periods",
        "exceptions-only",
        "period-attendance",
    }


def test_a_profile_loads_by_path_and_names_itself_after_the_file(tmp_path):
    path = tmp_path / "riverside.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    profile = load_profile(str(path))
    assert profile.name == "riverside"
    assert [s.entity for s in profile.sources] == ["attendance"]
    assert profile.codes["A"].day_fraction == Decimal(1)
    assert profile.codes["A"].line == 3  # where the code is mapped, for provenance


def test_an_unknown_shipped_name_lists_the_shipped_profiles():
    with pytest.raises(ProfileError) as raised:
        load_profile("powerschool-typo")
    assert "oea-contoso" in str(raised.value)
    assert isinstance(raised.value, ValueError)  # the import command reports ValueErrors


def test_unknown_keys_are_named_with_their_table(tmp_path):
    text = MINIMAL.replace('student_id = "student"', 'studnet_id = "student"')
    text += "\n[profil]\nname = 'x'\n"
    problems = problems_of(tmp_path, text)
    assert any(p.startswith("district.toml: profil: unknown key") for p in problems)
    assert any(
        p.startswith("district.toml: attendance.studnet_id: unknown key") and "student_id" in p
        for p in problems
    )
    assert any("attendance.student_id: missing required field" in p for p in problems)


def test_missing_required_fields_are_named(tmp_path):
    text = MINIMAL.replace('date = "date"\n', "").replace('file = "absences.csv"\n', "")
    problems = problems_of(tmp_path, text)
    assert any(
        p.startswith("district.toml: attendance.date: missing required field") for p in problems
    )
    assert any(p.startswith("district.toml: attendance.file: missing") for p in problems)


def test_a_bad_category_is_named_with_the_allowed_ones(tmp_path):
    problems = problems_of(tmp_path, MINIMAL.replace('"unexcused"', '"absentish"'))
    [problem] = problems
    assert problem.startswith("district.toml: codes.A.category: unknown category 'absentish'")
    assert "excused" in problem and "oss" in problem


def test_value_map_targets_and_constants_are_checked(tmp_path):
    text = """
[students]
file = "students.csv"
local_id = "id"
first_name = "first"
last_name = "last"
grade = { value = "13" }
race_ethnicity = { column = "race", map = { Martian = "martian", H = "hispanic" } }
birth_date = { column = "born", date_format = "%Q" }
"""
    problems = problems_of(tmp_path, text)
    assert any(
        p.startswith("district.toml: students.grade.value: '13': not a grade") for p in problems
    )
    assert any(p.startswith("district.toml: students.race_ethnicity.map.Martian") for p in problems)
    assert any(p.startswith("district.toml: students.birth_date.date_format") for p in problems)


def test_attendance_needs_its_mode_and_a_rollup_needs_codes_and_periods(tmp_path):
    text = MINIMAL.replace('mode = "exceptions"\n', "") + '\n[attendance.periods]\nrule = "most"\n'
    problems = problems_of(tmp_path, text)
    assert any(p.startswith("district.toml: attendance.mode: missing or wrong") for p in problems)
    assert any(p.startswith("district.toml: attendance.periods.rule") for p in problems)
    assert any(p.startswith("district.toml: attendance.period: a period roll-up") for p in problems)
    assert any(p.startswith("district.toml: attendance.periods.periods_per_day") for p in problems)


def test_a_positive_file_needs_a_present_code(tmp_path):
    problems = problems_of(tmp_path, MINIMAL.replace('"exceptions"', '"positive"'))
    assert problems == [
        "district.toml: attendance.mode: a positive-attendance file needs a code with"
        ' category = "present" in [codes]'
    ]


def test_column_and_value_are_exclusive_and_encodings_must_exist(tmp_path):
    text = '[profile]\nencoding = "klingon"\ndelimiter = "#"\n' + MINIMAL.replace(
        'code = "code"', 'code = { column = "code", value = "A" }'
    )
    problems = problems_of(tmp_path, text)
    assert any(p.startswith("district.toml: profile.encoding: unknown encoding") for p in problems)
    assert any(p.startswith("district.toml: profile.delimiter") for p in problems)
    assert any(p.startswith("district.toml: attendance.code: give exactly one") for p in problems)


def test_broken_toml_is_reported_with_its_position(tmp_path):
    [problem] = problems_of(tmp_path, "[attendance\nfile = 1")
    assert problem.startswith("district.toml: is not valid TOML") and "line 1" in problem


def test_a_profile_mapping_nothing_says_so(tmp_path):
    [problem] = problems_of(tmp_path, '[profile]\nname = "empty"\n')
    assert "maps no entity" in problem


def test_an_array_of_tables_is_numbered_in_problems(tmp_path):
    text = """
[[schools]]
file = "a.csv"
local_id = "id"
name = "name"

[[schools]]
file = "b.csv"
local_id = "id"
nmae = "name"
"""
    problems = problems_of(tmp_path, text)
    assert any(p.startswith("district.toml: schools[2].nmae: unknown key") for p in problems)
    assert any(p.startswith("district.toml: schools[2].name: missing required") for p in problems)


def test_a_declared_scope_is_checked(tmp_path):
    text = MINIMAL + '\n[attendance.scope]\nstart = 2025-09-01\nend = "2025-08-01"\n'
    [problem] = problems_of(tmp_path, text)
    assert problem == "district.toml: attendance.scope: start is after end"


def test_dates_in_an_order_the_formats_leave_open_are_ambiguous():
    auto = DateParser(None)
    assert auto("2022-03-04") == dt.date(2022, 3, 4)
    assert auto("8/16/2020") == dt.date(2020, 8, 16)  # 16 cannot be a month
    assert auto("27/05/2020") == dt.date(2020, 5, 27)
    assert auto("2022-01-03T00:00:00") == dt.date(2022, 1, 3)
    with pytest.raises(CellError) as raised:
        auto("03/04/2022")
    assert raised.value.code == "ambiguous_date"
    assert "2022-03-04 or 2022-04-03" in raised.value.message
    assert "date_format" in raised.value.hint
    assert DateParser(("%d/%m/%Y",))("03/04/2022") == dt.date(2022, 4, 3)
    with pytest.raises(CellError):
        DateParser(("%Y-%m-%d",))("2022-02-30")


def test_grades_and_fractions():
    assert [parse_grade(g) for g in ("PK", "k", "KG", "07", "12", "-1", "3.0")] == [
        -1,
        0,
        0,
        7,
        12,
        -1,
        3,
    ]
    for bad in ("13", "TK", "1e999999999", "nan", ""):
        with pytest.raises(CellError):
            parse_grade(bad)
    assert parse_fraction("0,5") == Decimal("0.500")
    for bad in ("1.5", "-0.1", "NaN", "Infinity", "half"):
        with pytest.raises(CellError):
            parse_fraction(bad)
