"""`homeroom metrics` and `homeroom export parquet`: formats, engines, and bad input.

The commands run on a small generated district (120 students, 2 schools, two school
years), loaded through the import engine once for the module, as of Wednesday 2025-03-12.
"""

import csv
import datetime as dt
import io
import json
import math
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Q

from homeroom.core.models import District, School
from homeroom.core.selectors import district_today
from homeroom.demo.district import DistrictParameters
from homeroom.metrics.definitions import FACT_SCHEMAS, GROUP_TYPES
from homeroom.metrics.display import PARTIAL_DAYS_NOTE
from homeroom.metrics.engines import spark_failure
from homeroom.metrics.reports import KINDS
from homeroom.metrics.tests.districts import load_generated, module_district
from homeroom.roster.models import Enrollment, Student

pytestmark = pytest.mark.django_db

PARAMS = DistrictParameters(
    students=120,
    schools=2,
    years=2,
    seed=5,
    today=dt.date(2025, 3, 14),
    name="Metrics Command Schools",
)
NAME = PARAMS.name
AS_OF = "2025-03-12"
YEAR_START = "2024-08-15"  # the generated 2024-2025 school year's first day
STAMP = {"profile": "california@1", "as_of": AS_OF, "from": YEAR_START}
# Columns each kind must have, besides the stamp.
KIND_COLUMNS = {
    "students": {"student_local_id", "school_local_id", "days_enrolled", "days_absent", "chronic"},
    "schools": {
        "group_type",
        "group_value",
        "school_name",
        "students",
        "chronic_rate",
        "attendance_rate",
    },
    "groups": {"group_type", "group_value", "students", "chronic_rate", "band_severe"},
    "days": {"student_local_id", "school_local_id", "date", "status", "absent", "category"},
}


@pytest.fixture(scope="module")
def district(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[District]:
    """The generated district, committed for the module (see districts.py)."""
    directory = tmp_path_factory.mktemp("generated")
    with module_district(django_db_blocker, lambda: load_generated(PARAMS, directory)) as held:
        yield held


@pytest.fixture
def student(district) -> Student:
    """A student enrolled this year from its first week."""
    return (
        Student.objects.filter(
            district=district,
            enrollments__school_year__name="2024-2025",
            enrollments__entry_date__lte="2024-08-31",
        )
        .order_by("local_id")
        .first()
    )


def metrics(*args: str) -> tuple[str, str]:
    """Run `homeroom metrics` with these arguments; what it wrote to stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    call_command("metrics", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def csv_rows(text: str) -> list[dict[str, str]]:
    """The rows of CSV text, read with the csv module."""
    return list(csv.DictReader(io.StringIO(text, newline="")))


def enrolled_students(district: District, as_of: str) -> set[str]:
    """Local ids of the students with an enrollment this year holding a day up to `as_of`."""
    return set(
        Enrollment.objects.filter(
            Q(exit_date__isnull=True) | Q(exit_date__gte=YEAR_START),
            student__district=district,
            school_year__name="2024-2025",
            entry_date__lte=as_of,
        ).values_list("student__local_id", flat=True)
    )


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_written_as_csv_with_the_profile_and_dates_on_every_row(
    district, student, kind
):
    # given a kind of table asked for as of a date under a profile (the days of a student)
    extra = ["--student", student.local_id] if kind == "days" else []
    # when it is written as CSV to standard output
    out, err = metrics(
        kind, "--as-of", AS_OF, "--profile", "california", "--district", NAME, *extra
    )
    rows = csv_rows(out)
    # then each row has the kind's columns, no internal ones, and the profile and window
    assert rows and err == ""
    missing = sorted(KIND_COLUMNS[kind] - set(rows[0]))
    assert not missing, f"{kind}: no column {', '.join(missing)} in {list(rows[0])}"
    assert not [column for column in rows[0] if column.endswith("_milli")]
    assert {tuple(row[k] for k in STAMP) for row in rows} == {tuple(STAMP.values())}
    # and it holds what the kind promises
    if kind == "students":  # california counts each student once, across schools
        assert sorted(row["student_local_id"] for row in rows) == sorted(
            enrolled_students(district, AS_OF)
        )
    elif kind == "schools":
        assert {row["group_type"] for row in rows} == {"school"}
        # reports.py: "students and schools are named by their local ids as the district's
        # SIS knows them", not by the database's keys
        schools = School.objects.filter(district=district).values_list("local_id", flat=True)
        named = sorted(row.get("school_local_id") or row["group_value"] for row in rows)
        assert named == sorted(schools), f"schools named {named}, not by their local ids"
    elif kind == "groups":
        assert {row["group_type"] for row in rows} == set(GROUP_TYPES)
        [everyone] = [row for row in rows if row["group_type"] == "district"]
        assert int(everyone["students"]) == len(enrolled_students(district, AS_OF))
    else:
        assert {row["student_local_id"] for row in rows} == {student.local_id}
        dates = [row["date"] for row in rows]
        assert dates == sorted(dates) and dates[0] >= YEAR_START and dates[-1] <= AS_OF
        assert {"present", "not_instructional"} <= {row["status"] for row in rows}


def as_csv_text(value) -> str:
    """How the CSV writer spells a JSON value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_json_and_parquet_hold_the_rows_of_the_csv(district, tmp_path):
    args = ("students", "--as-of", AS_OF, "--profile", "nyc", "--district", NAME)
    # when the same table is written as CSV, JSON and Parquet
    from_csv = csv_rows(metrics(*args)[0])
    from_json = json.loads(metrics(*args, "--format", "json")[0])
    path = tmp_path / "students.parquet"
    out, err = metrics(*args, "--format", "parquet", "--output", str(path))
    from_parquet = pq.read_table(path)
    # then JSON is a list of objects, each stamped with the profile and the window
    assert isinstance(from_json, list) and len(from_json) > 100
    assert all(isinstance(row, dict) for row in from_json)
    stamp = {"profile": "nyc@1", "as_of": AS_OF, "from": YEAR_START}
    assert all({k: row[k] for k in stamp} == stamp for row in from_json)
    # and Parquet has typed columns, the same rows, and says where it wrote them
    assert out == ""
    assert re.fullmatch(
        rf"{len(from_json):,} rows written to {re.escape(str(path))} on db in \d+\.\d s",
        err.strip(),
    )
    assert from_parquet.schema.field("as_of").type == "date32[day]"
    assert from_parquet.schema.field("days_enrolled").type == "int64"
    parquet_rows = [
        {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()}
        for row in from_parquet.to_pylist()
    ]
    assert parquet_rows == from_json
    # and the CSV has the same columns in the same order and the same values, as text
    assert list(from_csv[0]) == list(from_json[0])
    for text_row, row in zip(from_csv, from_json, strict=True):
        for column, value in row.items():
            if isinstance(value, float):
                assert float(text_row[column]) == value, column
            else:
                assert text_row[column] == as_csv_text(value), column


def one_decimal(value: Fraction) -> str:
    """A value rounded half up to one decimal, as people round by hand."""
    tenths = math.floor(value * 10 + Fraction(1, 2))
    return f"{tenths // 10:,}.{tenths % 10}"


def test_schools_name_each_school_and_the_table_for_people_rounds_its_figures(district):
    args = ("schools", "--as-of", AS_OF, "--profile", "california", "--district", NAME)
    # when the schools are written as CSV (full precision) and as a table for people
    rows = csv_rows(metrics(*args)[0])
    table = metrics(*args, "--format", "table")[0].splitlines()
    # then the CSV names each school beside its local id, as the district knows it
    names = dict(School.objects.filter(district=district).values_list("local_id", "name"))
    assert {row["group_value"]: row["school_name"] for row in rows} == names
    assert any(len(row["chronic_rate"].partition(".")[2]) > 1 for row in rows)
    # and the table says the profile and dates once, then one line per school, by name
    assert table[0] == f"Rule profile california@1, days from {YEAR_START} to {AS_OF}"
    header = re.split(r"\s{2,}", table[1])
    assert header[:2] == ["school", "id"]
    lines = {
        cells[0]: dict(zip(header, cells, strict=True))
        for cells in map(lambda text: re.split(r"\s{2,}", text.strip()), table[3 : 3 + len(rows)])
    }
    partial = any(Fraction(row["days_absent"]) % 1 for row in rows)
    for row in rows:
        shown = lines[row["school_name"]]
        assert shown["id"] == row["group_value"]
        assert shown["students"] == f"{int(row['students']):,}"
        # rates as percentages to one decimal, rounded from the CSV's full figures
        for column in ("attendance rate", "chronic rate"):
            exact = Fraction(row[column.replace(" ", "_")]) * 100
            assert shown[column] == f"{one_decimal(exact)}%", (row["school_name"], column)
        # days absent to one decimal when any school's count holds a partial day
        absent = Fraction(row["days_absent"])
        expected = one_decimal(absent) if partial else f"{int(absent):,}"
        assert shown["days absent"] == expected
    assert (table[-1] == PARTIAL_DAYS_NOTE) == bool(partial)


def test_duckdb_over_an_export_gives_the_rows_of_the_database(district, tmp_path):
    # given the district's facts exported as Parquet
    out = io.StringIO()
    call_command("export", "parquet", str(tmp_path / "facts"), "--district", NAME, stdout=out)
    assert out.getvalue().startswith("wrote ") and str(tmp_path / "facts") in out.getvalue()
    written = sorted(path.name for path in (tmp_path / "facts").iterdir())
    assert written == sorted(f"{name}.parquet" for name in FACT_SCHEMAS)
    # when the same metrics are read from the database and by DuckDB from the files
    args = ("students", "--as-of", AS_OF, "--profile", "federal-edfacts", "--format", "json")
    on_db = json.loads(metrics(*args, "--district", NAME)[0])
    on_duckdb = json.loads(
        metrics(*args, "--engine", "duckdb", "--source", str(tmp_path / "facts"))[0]
    )
    # then the rows are the same (federal-edfacts counts at each school: a row per school)
    assert len(on_db) >= len(enrolled_students(district, AS_OF))
    assert on_duckdb == on_db


BAD_INPUT = [
    pytest.param(
        ["students", "--as-of", "2026-13-01"],
        r"--as-of: '2026-13-01' is not a date; write it as YYYY-MM-DD",
        id="impossible-date",
    ),
    pytest.param(
        ["students", "--as-of", AS_OF, "--profile", "no-such-profile"],
        r"^no rule profile 'no-such-profile': give a shipped name \(attendance-works, ",
        id="unknown-profile",
    ),
    pytest.param(
        ["students", "--as-of", AS_OF, "--engine", "duckdb"],
        r"^--engine duckdb needs --source DIR",
        id="duckdb-without-source",
    ),
    pytest.param(
        ["days", "--as-of", AS_OF, "--student", "NO-SUCH-ID"],
        r"^no student with local id NO-SUCH-ID$",
        id="unknown-student",
    ),
    pytest.param(
        ["students", "--as-of", AS_OF, "--format", "parquet"],
        r"^--format parquet needs --output PATH$",
        id="parquet-without-output",
    ),
    pytest.param(
        ["students", "--as-of", AS_OF, "--from", "2025-03-13"],
        r"^--from 2025-03-13 is after --as-of 2025-03-12 within the year 2024-2025$",
        id="from-after-as-of",
    ),
    pytest.param(
        ["students", "--as-of", "2025-07-20", "--from", "2025-07-01"],
        r"^no school days from --from 2025-07-01 to --as-of 2025-07-20: the school year "
        r"2024-2025 ended on 2025-0[56]-\d\d$",
        id="summer-window",
    ),
    pytest.param(
        ["students", "--as-of", "2019-09-01"],
        r"^no school year starts on or before 2019-09-01$",
        id="before-any-year",
    ),
    pytest.param(
        ["students", "--as-of", AS_OF, "--district", "Nowhere"],
        r"^no district named 'Nowhere'$",
        id="unknown-district",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT)
def test_bad_input_is_a_command_error_that_says_what_is_wrong(district, args, message):
    if "--district" not in args:
        args = [*args, "--district", NAME]
    out = io.StringIO()
    # a CommandError is printed as its message alone, with no traceback
    with pytest.raises(CommandError, match=message) as raised:
        call_command("metrics", *args, stdout=out, stderr=io.StringIO())
    assert raised.type is CommandError
    assert raised.value.__cause__ is None
    assert out.getvalue() == ""


def test_a_source_directory_missing_files_is_a_command_error(district, tmp_path):
    # given an export with two of its files gone, and a directory that does not exist
    facts = tmp_path / "facts"
    call_command("export", "parquet", str(facts), "--district", NAME, stdout=io.StringIO())
    (facts / "school_days.parquet").unlink()
    (facts / "events.parquet").unlink()
    for source, missing in (
        (facts, "school_days.parquet, events.parquet"),
        (tmp_path / "nowhere", ", ".join(f"{name}.parquet" for name in FACT_SCHEMAS)),
    ):
        # when DuckDB is asked to read it
        args = ["students", "--as-of", AS_OF, "--engine", "duckdb", "--source", str(source)]
        # then the error names the directory and each missing file, and how to write them
        expected = f"{source}: missing {missing}; write them with 'homeroom export parquet DIR'"
        with pytest.raises(CommandError) as raised:
            metrics(*args)
        assert str(raised.value) == expected


# -- Parquet datasets: written where the engine computes ----------------------------------------

EDFACTS = ("students", "--as-of", AS_OF, "--profile", "federal-edfacts")


def schools_enrolling(district: District, as_of: str) -> set[str]:
    """Local ids of the schools with a student enrolled this year on a day up to `as_of`."""
    return set(
        Enrollment.objects.filter(
            Q(exit_date__isnull=True) | Q(exit_date__gte=YEAR_START),
            student__district=district,
            school_year__name="2024-2025",
            entry_date__lte=as_of,
        ).values_list("school__local_id", flat=True)
    )


def dataset_files(directory) -> dict[str, list]:
    """A Parquet dataset's data files by partition directory (relative), sorted by name;
    Spark's markers (_SUCCESS, .crc checksums) left out."""
    files: dict[str, list] = {}
    for path in sorted(directory.rglob("*.parquet")):
        if not path.name.startswith("."):
            files.setdefault(str(path.parent.relative_to(directory)), []).append(path)
    return files


@pytest.fixture
def facts(district, tmp_path):
    """The district's facts exported as Parquet."""
    directory = tmp_path / "facts"
    call_command("export", "parquet", str(directory), "--district", NAME, stdout=io.StringIO())
    return directory


@pytest.fixture
def duckdb_dataset(district, facts, tmp_path):
    """Per-student-and-school metrics written by DuckDB as a dataset, and its summary."""
    destination = tmp_path / "duckdb" / "students"
    out, err = metrics(
        *EDFACTS, "--engine", "duckdb", "--source", str(facts), "--output", f"{destination}/"
    )
    assert out == ""
    return destination, err


def test_duckdb_writes_a_dataset_partitioned_by_school_year_and_school(
    district, duckdb_dataset, tmp_path
):
    destination, err = duckdb_dataset
    # given the same table written by the database engine as one Parquet file
    single = tmp_path / "students.parquet"
    metrics(*EDFACTS, "--district", NAME, "--format", "parquet", "--output", str(single))
    expected = pq.read_table(single)
    # then the dataset has a directory per school with students this year, one file each
    files = dataset_files(destination)
    assert sorted(files) == sorted(
        f"school_year=2024-2025/school={school}" for school in schools_enrolling(district, AS_OF)
    )
    assert all(len(paths) == 1 for paths in files.values())
    # and each file holds that school's rows of the single file, in the same order and
    # types; the partition columns are in the directory names only
    for directory, [path] in files.items():
        school = directory.rsplit("=", 1)[1]
        rows = pq.read_table(path)
        assert rows.schema == expected.schema, directory
        mine = [row for row in expected.to_pylist() if row["school_local_id"] == school]
        assert rows.to_pylist() == mine, directory
    # and the command says how many rows it wrote, where, and how long it took
    assert re.fullmatch(
        rf"{expected.num_rows:,} rows written to {re.escape(str(destination))}/ as Parquet "
        r"partitioned by school_year, school on duckdb in \d+\.\d s",
        err.strip().splitlines()[-1],
    )


def test_a_dataset_is_never_written_over_or_as_text(district, facts, duckdb_dataset):
    destination, _ = duckdb_dataset
    before = {path: path.stat().st_mtime_ns for path in destination.rglob("*")}
    source = ["--engine", "duckdb", "--source", str(facts)]
    for args, message in (
        # an existing dataset is refused, and left as it was
        (
            [*source, "--output", str(destination)],
            rf"^{re.escape(str(destination))}: already exists; the metrics are written to a "
            r"new directory \(remove it, or give another --output\)$",
        ),
        # a directory takes Parquet, not one CSV file
        (
            [*source, "--output", f"{destination}-new/", "--format", "csv"],
            r"is a directory, URL or table, written as a Parquet dataset; --format csv writes one "
            r"file: give a file name$",
        ),
        # the database engine writes files, not datasets
        (
            ["--district", NAME, "--output", f"{destination}-new/"],
            r"is a Parquet dataset, written by the duckdb and spark engines: export the facts",
        ),
    ):
        with pytest.raises(CommandError, match=message):
            metrics(*EDFACTS, *args)
    assert {path: path.stat().st_mtime_ns for path in destination.rglob("*")} == before
    assert not destination.with_name("students-new").exists()


def assert_same_dataset(written, expected) -> None:
    """Two datasets with the same partition directories, one data file in each, holding the
    same rows in the same order with the same column types (Spark marks the columns it
    knows are never empty as required, DuckDB none)."""
    files, expected_files = dataset_files(written), dataset_files(expected)
    assert sorted(files) == sorted(expected_files)
    for directory, paths in files.items():
        assert len(paths) == 1, f"{directory}: {len(paths)} files"
        rows, [expected_path] = pq.read_table(paths[0]), expected_files[directory]
        expected_rows = pq.read_table(expected_path)
        assert [(f.name, f.type) for f in rows.schema] == [
            (f.name, f.type) for f in expected_rows.schema
        ], directory
        assert rows.num_rows > 0 and rows.to_pylist() == expected_rows.to_pylist(), directory


@pytest.fixture
def lake(district, tmp_path):
    """The district's facts exported into a lake."""
    directory = tmp_path / "lake"
    out = io.StringIO()
    call_command("export", "parquet", str(directory), "--lake", "--district", NAME, stdout=out)
    assert out.getvalue().startswith("wrote ") and str(directory) in out.getvalue()
    return directory


def test_the_lake_holds_each_year_apart_with_a_manifest(district, lake):
    key = district.state_id or "metrics-command-schools"  # its state id, or else its name
    mine = f"{key}-0.parquet"
    # then each yearly fact has a directory per school year, the others one file
    for fact in ("school_years", "school_days", "enrollments", "events"):
        years = sorted(path.name for path in (lake / fact).iterdir())
        assert years == ["school_year=2023-2024", "school_year=2024-2025"], fact
        assert all([p.name for p in (lake / fact / year).iterdir()] == [mine] for year in years)
    for fact in ("schools", "students", "characteristics"):
        assert [p.name for p in (lake / fact).iterdir()] == [mine], fact
        # and every row carries the district's key
        assert set(pq.read_table(lake / fact / mine).column("district").to_pylist()) <= {key}
    # and the district's manifest says what it wrote, under which rules, as of when
    manifest = json.loads((lake / "_manifests" / f"{key}.json").read_text())
    assert manifest["schema_version"] == 2 and manifest["district"] == key
    assert manifest["name"] == NAME and manifest["rule_profile"] == district.rule_profile
    assert manifest["as_of"] == district_today(district).isoformat()
    assert manifest["rows"]["students"] == Student.objects.filter(district=district).count()
    assert (
        manifest["rows"]["enrollments"]
        == Enrollment.objects.filter(student__district=district).count()
    )
    assert sorted(manifest["school_years"]) == ["2023-2024", "2024-2025"]
    # when the district is exported again after another district's files came in
    other = lake / "events" / "school_year=2024-2025" / "other-district-0.parquet"
    pq.write_table(pq.read_table(lake / "events" / "school_year=2024-2025" / mine), other)
    call_command("export", "parquet", str(lake), "--lake", "--district", NAME, stdout=io.StringIO())
    # then its own files are replaced and the other district's are left as they were
    assert sorted(p.name for p in other.parent.iterdir()) == [mine, "other-district-0.parquet"]
    assert [p.name for p in (lake / "_manifests").iterdir()] == [f"{key}.json"]
    assert not [p for p in lake.rglob("*") if p.name.startswith(".")]


OTHER = replace(PARAMS, students=80, seed=11, name="Metrics Command Other")


@pytest.fixture(scope="module")
def other_district(district, django_db_blocker, tmp_path_factory) -> Iterator[District]:
    """A second generated district, its school years' dates those of the first."""
    directory = tmp_path_factory.mktemp("generated-other")
    with module_district(django_db_blocker, lambda: load_generated(OTHER, directory)) as held:
        yield held


ID_COLUMNS = ("student_id", "school_id", "school_year_id")


@pytest.fixture
def state_lake(district, other_district, tmp_path):
    """Two districts in one lake (keys "a" and "b"), the second's ids rewritten to be the
    first's, as two separate Homeroom databases would number them."""
    lake = tmp_path / "state"
    for name, key in ((NAME, "a"), (OTHER.name, "b")):
        call_command(
            "export", "parquet", str(lake), "--lake", "--district", name,
            "--district-key", key, stdout=io.StringIO(),
        )  # fmt: skip
    files = {key: sorted(lake.rglob(f"{key}-0.parquet")) for key in ("a", "b")}

    def lowest(key: str, column: str) -> int:
        return min(
            min(table.column(column).to_pylist(), default=math.inf)
            for table in (pq.read_table(path) for path in files[key])
            if column in table.column_names
        )

    shift = {column: lowest("b", column) - lowest("a", column) for column in ID_COLUMNS}
    assert all(shift.values())  # one database: no id shared yet
    for path in files["b"]:
        table = pq.read_table(path)
        for column in ID_COLUMNS:
            if column in table.column_names:
                moved = [value - shift[column] for value in table.column(column).to_pylist()]
                index = table.column_names.index(column)
                table = table.set_column(index, column, pa.array(moved, pa.int64()))
        pq.write_table(table, path)
    shared = {
        column: {v for path in files["a"] for v in column_values(path, column)}
        & {v for path in files["b"] for v in column_values(path, column)}
        for column in ID_COLUMNS
    }
    assert all(shared.values())  # now they share ids
    return lake


def column_values(path, column: str) -> list:
    table = pq.read_table(path)
    return table.column(column).to_pylist() if column in table.column_names else []


def own_rows(name: str, key: str, kind: list[str], tmp_path) -> list[dict]:
    """A district's metrics from its own export on DuckDB, its local ids qualified by its
    key as a lake qualifies them."""
    own = tmp_path / f"own-{key}"
    call_command("export", "parquet", str(own), "--district", name, stdout=io.StringIO())
    out, _ = metrics(*kind, "--engine", "duckdb", "--source", str(own), "--format", "json")
    rows = json.loads(out)
    for row in rows:
        for column in ("student_local_id", "school_local_id"):
            if column in row:
                row[column] = f"{key}.{row[column]}"
        if kind[0] == "schools":
            row["group_value"] = f"{key}.{row['group_value']}"
    return rows


def without_ids(rows: list[dict], number: int) -> list[dict]:
    """The rows without the database's ids, once each is checked to be in the district's
    range of the lake's ids (its own, offset by its number times 10**12)."""
    for row in rows:
        for column in ("student_id", "school_id"):
            if column in row:
                assert row.pop(column) // 10**12 == number, row
    return rows


@pytest.mark.parametrize("kind", [list(EDFACTS), ["schools", "--as-of", AS_OF]])
def test_districts_with_the_same_ids_stay_apart_in_one_lake(state_lake, kind, tmp_path):
    # when a state computes the metrics over a lake whose two districts share ids
    out, _ = metrics(*kind, "--engine", "duckdb", "--source", str(state_lake), "--format", "json")
    rows = json.loads(out)
    # then each district's rows are those of its own export, its local ids qualified
    for key, name in (("a", NAME), ("b", OTHER.name)):
        column = "group_value" if kind[0] == "schools" else "student_local_id"
        mine = [row for row in rows if row[column].startswith(f"{key}.")]
        mine = without_ids(mine, 1 if key == "a" else 2)
        expected = without_ids(own_rows(name, key, kind, tmp_path), 0)
        assert mine and sorted(mine, key=json.dumps) == sorted(expected, key=json.dumps)
    assert len(rows) == sum(1 for row in rows if row[column].startswith(("a.", "b.")))


def test_a_lake_that_would_merge_districts_is_refused_in_words(
    district, other_district, state_lake
):
    source = ("--engine", "duckdb", "--source", str(state_lake))
    manifests = state_lake / "_manifests"
    # a district key another district holds is refused, the lake left as it was
    before = {path: path.stat().st_mtime_ns for path in state_lake.rglob("*")}
    with pytest.raises(
        CommandError,
        match=rf"the district key 'a' is held by '{NAME}' .*; give '{OTHER.name}' a key of "
        r"its own \(--district-key\)$",
    ):
        call_command(
            "export", "parquet", str(state_lake), "--lake", "--district", OTHER.name,
            "--district-key", "a", stdout=io.StringIO(),
        )  # fmt: skip
    with pytest.raises(CommandError, match=r"^--district-key names a district's part of a lake"):
        call_command(
            "export", "parquet", str(state_lake), "--district", OTHER.name,
            "--district-key", "c", stdout=io.StringIO(),
        )  # fmt: skip
    with pytest.raises(CommandError, match=r"'a\.b' cannot be a district key"):
        call_command(
            "export", "parquet", str(state_lake), "--lake", "--district", OTHER.name,
            "--district-key", "a.b", stdout=io.StringIO(),
        )  # fmt: skip
    assert {path: path.stat().st_mtime_ns for path in state_lake.rglob("*")} == before
    for change, message in (
        # two parts claiming one key (a manifest copied in under another name)
        (
            lambda: (manifests / "a-copy.json").write_text((manifests / "a.json").read_text()),
            r"^two parts of the lake claim the district key 'a' \(a-copy\.json and a\.json\)",
        ),
        # manifests of two schema versions
        (
            lambda: (manifests / "b.json").write_text(
                json.dumps({**json.loads((manifests / "b.json").read_text()), "schema_version": 3})
            ),
            r"^the lake's manifests disagree on the schema version .*\(.*a\.json: 2, "
            r".*b\.json: 3\)",
        ),
        # a district's files without its manifest
        (
            lambda: (manifests / "b.json").unlink(),
            r"^the lake holds files of 'b' without a manifest",
        ),
    ):
        saved = {path: path.read_bytes() for path in manifests.iterdir()}
        change()
        with pytest.raises(CommandError, match=message):
            metrics(*EDFACTS, *source)
        for path in manifests.iterdir():
            path.unlink()
        for path, content in saved.items():
            path.write_bytes(content)
    # and two districts whose school year has other dates
    manifest = json.loads((manifests / "b.json").read_text())
    manifest["school_years"]["2024-2025"][1] = "2025-06-30"
    (manifests / "b.json").write_text(json.dumps(manifest))
    with pytest.raises(
        CommandError,
        match=r"the lake's districts hold the school year 2024-2025 with different dates \(a: "
        r"2024-08-15 to .*; b: 2024-08-15 to 2025-06-30\)",
    ):
        metrics(*EDFACTS, *source)


# Spark's tests run in the SQLite half (see test_engines.py); they use the session's
# local Spark (conftest.py).
@pytest.mark.one_database
def test_spark_writes_the_dataset_duckdb_writes(spark, facts, duckdb_dataset, tmp_path):
    destination, _ = duckdb_dataset
    # when Spark reads the lake and writes the same table, both given as file:// URLs (as
    # s3a:// or hdfs:// ones are given)
    written = tmp_path / "spark" / "students"
    out, err = metrics(
        *EDFACTS,
        "--engine",
        "spark",
        "--source",
        f"file://{facts}",
        "--output",
        f"file://{written}",
    )
    assert out == ""
    # then its layout and every file's rows are DuckDB's
    assert_same_dataset(written, destination)
    # and writing there again is refused, in words, leaving the dataset as it was
    before = {path: path.stat().st_mtime_ns for path in written.rglob("*")}
    with pytest.raises(CommandError) as raised:
        metrics(
            *EDFACTS,
            "--engine",
            "spark",
            "--source",
            f"file://{facts}",
            "--output",
            f"file://{written}",
        )
    assert str(raised.value) == (
        f"file:{written}: already exists; the metrics are written to a new place (remove it, "
        "or give another --output)"
    )
    assert {path: path.stat().st_mtime_ns for path in written.rglob("*")} == before
    rows = sum(pq.read_metadata(p).num_rows for p in written.rglob("*.parquet"))
    assert re.fullmatch(
        rf"{rows:,} rows written to file://{re.escape(str(written))} as Parquet partitioned by "
        r"school_year, school on spark in \d+\.\d s",
        err.strip().splitlines()[-1],
    )


@pytest.mark.one_database
def test_spark_keeps_a_lakes_districts_apart_and_writes_a_catalog_table(
    spark, state_lake, tmp_path
):
    # given DuckDB's dataset of the two districts' lake (its rows checked against each
    # district's own export above)
    expected = tmp_path / "duckdb"
    metrics(*EDFACTS, "--engine", "duckdb", "--source", str(state_lake), "--output", f"{expected}/")
    # when Spark reads the lake at a URL and writes the table into its session's catalog
    spark.sql("CREATE DATABASE IF NOT EXISTS state")
    spark.sql("DROP TABLE IF EXISTS state.students")
    spark_args = ("--engine", "spark", "--source", f"file://{state_lake}")
    out, err = metrics(*EDFACTS, *spark_args, "--output", "table:state.students")
    # then the table's files, in the catalog's warehouse, are DuckDB's dataset file for file
    warehouse = Path(urllib.parse.urlsplit(spark.conf.get("spark.sql.warehouse.dir")).path)
    assert_same_dataset(warehouse / "state.db" / "students", expected)
    # and the catalog holds it, partitioned as the files are, with every row
    columns = spark.catalog.listColumns("state.students")
    assert [c.name for c in columns if c.isPartition] == ["school_year", "school"]
    rows = sum(pq.read_metadata(p).num_rows for p in expected.rglob("*.parquet"))
    assert spark.table("state.students").count() == rows
    assert out == "" and re.fullmatch(
        rf"{rows:,} rows written to table:state\.students as Parquet partitioned by "
        r"school_year, school on spark in \d+\.\d s",
        err.strip().splitlines()[-1],
    )
    # and the table is not written over; DuckDB and the database engine write no table
    for args, message in (
        (
            spark_args,
            r"^--output table:state\.students: the table already exists in the catalog; the "
            r"metrics are written to a new table \(drop it, or name another\)$",
        ),
        (
            ("--engine", "duckdb", "--source", str(state_lake)),
            r"^--output table:state\.students: a table of Spark's catalog is written by "
            r"--engine spark; the duckdb engine writes a Parquet dataset",
        ),
        (("--district", NAME), r"^--output table:state\.students is a table of Spark's catalog"),
    ):
        with pytest.raises(CommandError, match=message):
            metrics(*EDFACTS, *args, "--output", "table:state.students")
    with pytest.raises(CommandError, match=r"name a table of the catalog as table:<database>"):
        metrics(*EDFACTS, *spark_args, "--output", "table:state.students; DROP")


@pytest.mark.one_database
def test_spark_says_which_parquet_file_it_did_not_find(spark, facts):
    # given facts on "object storage" (a URL Spark reads itself) with one table gone
    (facts / "events.parquet").unlink()
    # when Spark is asked to read them
    with pytest.raises(CommandError) as raised:
        metrics(*EDFACTS, "--engine", "spark", "--source", f"file://{facts}")
    # then the error names the missing path, and how to write it
    message = str(raised.value)
    assert message.startswith("Spark found no Parquet file where the facts should be (")
    assert f"{facts}/events.parquet" in message
    assert message.endswith(
        "check --source, and write the facts there with 'homeroom export parquet DIR'"
    )
    assert "Traceback" not in message


# -- Spark Connect: a server of its own, reached on 127.0.0.1 -----------------------------------


def free_port() -> int:
    """A TCP port nothing listens on at the moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def connect_server(tmp_path) -> Iterator[str]:
    """A Spark Connect server (PySpark's own jar, local mode, one core) in a process of its
    own, listening on 127.0.0.1; its sc:// address."""
    from pyspark.find_spark_home import _find_spark_home

    home, port = _find_spark_home(), free_port()
    log = tmp_path / "connect-server.log"
    command = [
        os.path.join(home, "bin", "spark-submit"),
        *("--class", "org.apache.spark.sql.connect.service.SparkConnectServer"),
        *("--master", "local[1]"),
        *("--conf", "spark.connect.grpc.binding.address=127.0.0.1"),
        *("--conf", f"spark.connect.grpc.binding.port={port}"),
        *("--conf", "spark.ui.enabled=false"),
        *("--conf", "spark.sql.shuffle.partitions=1"),
    ]
    env = {**os.environ, "SPARK_HOME": home, "PYSPARK_PYTHON": sys.executable}
    with log.open("wb") as output:
        server = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(1)
        yield f"sc://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server's own process group
        server.wait(timeout=60)


@pytest.fixture
def own_database(tmp_path) -> dict[str, str]:
    """The environment of a `homeroom` process with a database of its own (migrated, in a
    SQLite file), where it logs its exports: not the tests' database, whose rows other
    tests count."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOMEROOM_", "DATABASE_"))}
    env |= {
        "HOMEROOM_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'own.sqlite3'}",
        "PYTHONWARNINGS": "ignore::FutureWarning",
    }
    migrated = subprocess.run(
        [sys.executable, "-m", "homeroom.cli", "migrate", "--verbosity", "0"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert migrated.returncode == 0, migrated.stderr
    return env


def homeroom(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The installed `homeroom` command run as a user runs it, in a process of its own (a
    Spark Connect client stays one for the rest of its process)."""
    return subprocess.run(
        [sys.executable, "-m", "homeroom.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


@pytest.mark.one_database
def test_spark_connect_writes_the_dataset_duckdb_writes(
    connect_server, facts, duckdb_dataset, own_database, tmp_path
):
    destination, _ = duckdb_dataset
    # when the command reaches Spark through a Spark Connect server
    written = tmp_path / "connect" / "students"
    done = homeroom(
        own_database,
        *("metrics", *EDFACTS, "--engine", "spark", "--spark-remote", connect_server),
        *("--source", str(facts), "--output", f"{written}/"),
    )
    # then it succeeds, asks the server to change nothing it cannot, and says what it wrote
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    # (PySpark's client warns "Failed to set spark.ui.enabled" for a setting of the
    # server's own application)
    lines = done.stderr.strip().splitlines()
    assert "Failed to set" not in done.stderr
    assert not [line for line in lines if "WARN" in line.upper()], done.stderr
    assert re.fullmatch(
        rf"[\d,]+ rows written to {re.escape(str(written))}/ as Parquet partitioned by "
        r"school_year, school on spark in \d+\.\d s",
        lines[-1],
    )
    # and the server wrote DuckDB's dataset, file for file
    assert_same_dataset(written, destination)
    # and the export of student data is in the audit log, with its rows and destination
    rows = sum(pq.read_metadata(p).num_rows for p in written.rglob("*.parquet"))
    database = sqlite3.connect(own_database["DATABASE_URL"].removeprefix("sqlite:///"))
    with closing(database):
        logged = database.execute(
            "SELECT action, subject, count, details FROM core_auditentry"
        ).fetchall()
    assert [(action, subject, count) for action, subject, count, _ in logged] == [
        ("export", "metrics students", rows)
    ]
    assert json.loads(logged[0][3])["output"] == f"{written}/"


@pytest.mark.one_database
def test_an_unreachable_spark_connect_server_is_said_at_once(district, facts):
    # given an address where nothing listens
    port = free_port()
    remote = f"sc://127.0.0.1:{port}"
    # when the command is asked to use it (through SPARK_REMOTE, as a cluster sets it)
    started = time.monotonic()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARK_REMOTE", remote)
        with pytest.raises(CommandError) as raised:
            metrics(*EDFACTS, "--engine", "spark", "--source", str(facts))
    # then it says so within seconds (PySpark's client would retry for many minutes)
    assert time.monotonic() - started < 30
    assert str(raised.value) == (
        f"cannot reach the Spark Connect server at {remote} (Connection refused at "
        f"127.0.0.1:{port}): check the address (--spark-remote or SPARK_REMOTE, "
        "sc://HOST:15002) and that the server is running (sbin/start-connect-server.sh)"
    )


def java_children(pid: int) -> list[int]:
    """The Java processes started by a process (PySpark starts Spark's driver JVM)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:  # "pid (name) state ppid ...", the name in parentheses
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text.rsplit(")", 1)[1]
        if int(fields.split()[1]) == pid and name == "java":
            found.append(int(stat.parent.name))
    return found


@pytest.mark.one_database
def test_a_spark_driver_that_dies_is_said_in_words_with_the_setting_to_change(facts, tmp_path):
    # given the command running on Spark in local mode, in a process of its own
    command = [sys.executable, "-m", "homeroom.cli", "metrics", *EDFACTS, "--engine", "spark"]
    command += ["--source", str(facts), "--output", f"{tmp_path / 'out'}/"]
    running = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        # when its driver JVM is killed once Spark has started (as the kernel's
        # out-of-memory killer ends a JVM that outgrows its machine or container)
        seen = []
        for line in running.stderr:
            seen.append(line)
            if "Setting default log level" in line:
                break
        time.sleep(2)
        [jvm] = java_children(running.pid)
        os.kill(jvm, signal.SIGKILL)
        rest = running.stderr.read()
        running.wait(timeout=120)
    finally:
        if running.poll() is None:
            running.kill()
    # then the command fails with a message saying what happened and what to change,
    # never a bare "Connection refused" or a traceback
    message = [line for line in [*seen, *rest.splitlines()] if line.startswith("CommandError")]
    assert running.returncode == 1
    assert len(message) == 1, "".join(seen) + rest
    assert message[0].startswith(
        "CommandError: Spark's driver (its Java process) stopped while Homeroom waited for it ("
    )
    assert "most often it ran out of memory" in message[0]
    assert "spark.driver.memory" in message[0] and "--output DIR/" in message[0]
    assert "Traceback" not in rest
    assert not (tmp_path / "out").exists()


# Spark's own words for failures that need a cluster (or gigabytes) to happen for real: an
# executor the cluster manager ended, and a JVM out of heap inside a task or the driver.
SPARK_FAILURES = [
    pytest.param(
        "Job aborted due to stage failure: Task 3 in stage 7.0 failed 4 times, most recent "
        "failure: Lost task 3.3 in stage 7.0 (TID 42) (10.0.0.5 executor 3): "
        "ExecutorLostFailure (executor 3 exited caused by one of the running tasks) Reason: "
        "Container killed by YARN for exceeding physical memory limits.",
        "Spark lost an executor (",
        ("spark.executor.memory", "spark.executor.memoryOverhead"),
        id="lost-executor",
    ),
    pytest.param(
        "An error occurred while calling o123.collectToPython.\n"
        ": java.lang.OutOfMemoryError: Java heap space\n\tat java.base/java.util.Arrays",
        "Spark ran out of memory (: java.lang.OutOfMemoryError: Java heap space): ",
        ("spark.driver.memory", "--output DIR/"),
        id="driver-heap",
    ),
]


@pytest.mark.one_database
@pytest.mark.parametrize(("spark_says", "starts", "advice"), SPARK_FAILURES)
def test_spark_failures_name_the_cause_and_the_setting_to_change(spark_says, starts, advice):
    said = spark_failure(RuntimeError(spark_says))
    assert said.startswith(starts)
    assert all(setting in said for setting in advice), said
    assert "\n" not in said
