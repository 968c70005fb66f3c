"""Fuzzing every import format: corrupted files never raise and never commit part of a run.

Each format starts from a valid small input built here: a generated district (60 students)
for the homeroom-generator profile, an exceptions-only absence file for it, 300 rows of the
OEA Contoso export (oea-contoso), a slice of the Ed-Fi Grand Bend sample as XML and as
ODS/API JSON, and a tiny OneRoster export (files, or a zip laid out in odd ways). Seeded,
deterministic corruptions follow: truncation, byte flips, lines deleted, duplicated or
swapped, header columns dropped or renamed, garbage and NUL bytes, invalid UTF-8, other
encodings, empty and wrong files, workbooks, entity bombs, huge values, and dates, ids and
codes changed to bad or unknown ones. The first cases of each format put one tricky value
(`SWEEP`) in every field the reader reads, so no rare field escapes.

- Reading never raises, hides no reader crash in a problem, and every record it yields fits
  the database (widths, ranges, order, no NUL): the sync engine writes records unchecked.
- Importing (over an earlier export of the same district, so a run has rows to write)
  either succeeds or raises `ImportRejected`; a rejected run leaves every table an import
  touches exactly as it was and adds only its own run row. Database cases mostly poison a
  reference (an unknown student, school, year or code) that only the engine can refuse,
  after it has written the rest; every fourth runs with on_error="skip".
- Every error has a message, and the file and line it is about.

A failure names each case as `build_case(key, number[, for_database=True])`, which rebuilds
the same files: the case's random stream is seeded with its key and number alone.
"""

import contextlib
import copy
import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import random
import re
import shutil
import traceback
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path, PurePosixPath

import pytest
from django.conf import settings
from django.db import transaction
from lxml import etree

from homeroom.attendance.models import AttendanceCode, AttendanceEvent
from homeroom.core.models import Calendar, CalendarDate, District, School, SchoolYear
from homeroom.demo.district import DistrictParameters, generate_district
from homeroom.demo.export import write_district_csv
from homeroom.ingest import records
from homeroom.ingest.adapters.edfi import RESOURCES
from homeroom.ingest.formats import FORMATS, ReadOptions, files_read, source_file
from homeroom.ingest.models import ImportRun
from homeroom.ingest.records import Batch, Problem, Severity
from homeroom.ingest.sync import ImportRejected
from homeroom.ingest.sync import do_import as import_batch
from homeroom.ingest.tests.adapters.test_edfi import write_api_json
from homeroom.roster import models as roster

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
GRAND_BEND = DATA / "edfi-grandbend"
CONTOSO = DATA / "oea-contoso" / "ssds" / "test_data" / "batch1" / "studentattendance.csv"
TODAY = dt.date(2025, 3, 2)

# Corrupted inputs per valid input: read only (in blocks of 25), and imported (every fourth
# with on_error="skip"). The three CSV inputs share one reader, so the last two get fewer.
READ_CASES = {
    "csv-generator": 100,
    "csv-exceptions": 75,
    "csv-contoso": 50,
    "edfi-xml": 100,
    "edfi-json": 100,
    "oneroster": 100,
}
DB_CASES = {
    "csv-generator": 16,
    "csv-exceptions": 16,
    "csv-contoso": 12,
    "edfi-xml": 20,
    "edfi-json": 20,
    "oneroster": 20,
}
BLOCK = 25

TOUCHED = (
    AttendanceEvent,
    roster.Enrollment,
    roster.Student,
    roster.StudentCharacteristic,
    roster.Guardian,
    roster.StudentGuardian,
    roster.ContactPreference,
    School,
    SchoolYear,
    Calendar,
    CalendarDate,
    AttendanceCode,
    roster.Section,
    roster.Section.teachers.through,
    roster.SectionEnrollment,
)

# Formats whose engine can refuse what the reader accepted (unknown ids, codes, years).
ENGINE_REFUSES = {"csv-generator", "csv-exceptions", "edfi-xml", "edfi-json"}
ON_POSTGRESQL = "postgresql" in settings.DATABASES["default"]["ENGINE"]

# Errors about a whole file or run rather than a row: these may lack a line (or a file).
FILE_LEVEL = {
    "no_files",
    "duplicate_file",
    "no_such_file",
    "unreadable_file",
    "unknown_school",  # a school of the attendance scope, which no row holds
    "bad_xml",  # at line 0 when the file holds no element at all
    "reader_failure",  # reported as a crash anyway
}


# ---------------------------------------------------------------------------------------
# Valid inputs


@dataclass(frozen=True)
class Valid:
    """A valid input of one format: its files by name, and how to read and import it."""

    key: str
    format: str
    files: dict[str, bytes]
    options: ReadOptions = field(default_factory=ReadOptions)
    targets: tuple[str, ...] = ()  # the files corruptions hit (all when empty)
    base: tuple[str, ...] = ()  # keys of inputs imported first, as the district's baseline


def do_import(batch, **options) -> ImportRun:
    """The import as these tests run it: an export here replaces part of what the generated
    district holds, so large deletions are expected rather than refused."""
    return import_batch(batch, allow_large_deletes=True, **options)


def generator_files() -> dict[str, bytes]:
    """A generated district of 60 students written by `homeroom generate`."""
    import tempfile

    district = generate_district(DistrictParameters(students=60, years=1, seed=7, today=TODAY))
    with tempfile.TemporaryDirectory() as folder:
        paths = write_district_csv(district, Path(folder))
        return {p.name: p.read_bytes() for p in paths}


def absences_file(generated: dict[str, bytes]) -> bytes:
    """An exceptions-only absence file for the generated district (codes the profile maps)."""
    categories = {
        row["code"]: row["category"]
        for row in csv.DictReader(io.StringIO(generated["attendance_codes.csv"].decode()))
    }
    to_profile = {
        "unexcused": "A",
        "excused": "E",
        "oss": "S",
        "iss": "I",
        "tardy": "T",
        "partial": "H",
        "early_departure": "D",
    }
    rows = [["student_id", "school_id", "date", "code", "minutes"]]
    events = csv.DictReader(io.StringIO(generated["attendance_events.csv"].decode()))
    for n, event in enumerate(events):
        if not "2024-10-01" <= event["date"] <= "2024-11-30":
            continue
        code = to_profile.get(categories.get(event["code"], ""))
        if code is None:
            continue
        student = ("00" if n % 7 == 0 else "") + event["student_id"]  # strip_leading_zeros
        rows.append(
            [
                student,
                event["school_id"],
                event["date"],
                code.lower() if n % 5 == 0 else code,
                event["minutes_missed"],
            ]
        )
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode()


def contoso_file() -> bytes:
    """The first 300 rows of the OEA Contoso positive-attendance export."""
    with CONTOSO.open("rb") as handle:
        return b"".join(handle.readline() for _ in range(301))


def edfi_slice() -> dict[str, bytes]:
    """Grand Bend cut down to a few students (16): their records, events, programs, contacts."""

    def parse(name: str) -> etree._Element:
        path = GRAND_BEND / name
        assert path.is_file(), f"the Ed-Fi Grand Bend sample is missing: {path}"
        return etree.parse(str(path), etree.XMLParser(remove_blank_text=False)).getroot()

    def local(element) -> str:
        return etree.QName(element).localname if isinstance(element.tag, str) else ""

    def student_of(element) -> str | None:
        found = element.find(".//{*}StudentUniqueId")
        return found.text.strip() if found is not None and found.text else None

    def keep(root, wanted: Callable[[etree._Element], bool]) -> etree._Element:
        for child in list(root):
            if not wanted(child):
                root.remove(child)
        return root

    daily = parse("StudentSchoolAttendance.xml")
    sections = parse("StudentSectionAttendance-Tardy.xml")
    chosen = {student_of(e) for e in list(daily)[:60]} | {
        student_of(e) for e in list(sections)[:12]
    }
    chosen.discard(None)
    kept = [0]

    def first_events(element) -> bool:
        kept[0] += student_of(element) in chosen
        return student_of(element) in chosen and kept[0] <= 150

    contacts = parse("Contact.xml")
    links = [
        e for e in contacts if local(e) == "StudentContactAssociation" and student_of(e) in chosen
    ]
    refs = {ref.get("ref") for link in links for ref in link.iter() if ref.get("ref")}
    roots = {
        "AttendanceEventCategoryDescriptor.xml": parse("AttendanceEventCategoryDescriptor.xml"),
        "EducationOrganization.xml": keep(
            parse("EducationOrganization.xml"), lambda e: local(e) == "School"
        ),
        "EducationOrgCalendar.xml": parse("EducationOrgCalendar.xml"),
        "Student.xml": keep(
            parse("Student.xml"), lambda e: local(e) == "Student" and student_of(e) in chosen
        ),
        "StudentProgram.xml": keep(parse("StudentProgram.xml"), lambda e: student_of(e) in chosen),
        "Contact.xml": keep(
            contacts,
            lambda e: (
                (local(e) == "Contact" and e.get("id") in refs)
                or (local(e) == "StudentContactAssociation" and student_of(e) in chosen)
            ),
        ),
        "StudentSchoolAttendance.xml": keep(daily, first_events),
        "StudentSectionAttendance-Tardy.xml": keep(sections, lambda e: student_of(e) in chosen),
    }
    return {
        name: etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        for name, root in roots.items()
    }


def edfi_json(xml: dict[str, bytes]) -> dict[str, bytes]:
    """The Ed-Fi slice as ODS/API response files (one per resource)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        sources = []
        for name, data in xml.items():
            (Path(folder) / name).write_bytes(data)
            sources.append(Path(folder) / name)
        out = Path(folder) / "json"
        out.mkdir()
        return {p.name: p.read_bytes() for p in write_api_json(sources, out)}


ONEROSTER = {
    "manifest.csv": """\
propertyName,value
manifest.version,1.0
oneroster.version,1.2
file.academicSessions,bulk
file.classes,bulk
file.demographics,bulk
file.enrollments,bulk
file.orgs,bulk
file.roles,bulk
file.users,bulk
file.courses,absent
""",
    "orgs.csv": """\
sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId
org-d,,,Riverside Unified,district,RUSD,
org-l,,,Lincoln Elementary,school,101,org-d
org-c,,,Central High,school,301,org-d
""",
    "academicSessions.csv": """\
sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear
as-y,,,2025-2026,schoolYear,2025-08-11,2026-06-12,,2026
as-f,,,Fall 2025,term,2025-08-11,2025-12-19,as-y,2026
as-s,,,Spring 2026,term,2026-01-05,2026-06-12,as-y,2026
""",
    "users.csv": """\
sourcedId,status,dateLastModified,enabledUser,username,givenName,familyName,middleName,\
identifier,email,sms,phone,agentSourcedIds,grades
u-t1,,,true,mrivera,Maria,Rivera,,T100,m.rivera@example.org,,,,
u-t2,,,true,jokafor,James,Okafor,,T200,j.okafor@example.org,,,,
u-a,,,true,ana,Ana María,Álvarez,,1001,,,,u-g1,KG
u-b,,,true,ben,Ben,Álvarez,Luis,1002,,,,u-g1,03
u-c,,,true,carla,Carla,Chen,,1003,,,,,03
u-d,,,true,dev,Dev,Patel,,3001,,,,,09
u-e,,,true,eli,Eli,Okoro,,,,,,"u-g2",10
u-g1,,,true,,Rosa,Álvarez,,G1,rosa@example.org,,555-0101,"u-a,u-b",
u-g2,,,true,,Sam,Okoro,,G2,,555-0199,,u-e,
""",
    "roles.csv": """\
sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId
r1,,,u-t1,primary,teacher,,,org-l
r2,,,u-t2,primary,teacher,,,org-c
r3,,,u-a,primary,student,,,org-l
r4,,,u-b,primary,student,,,org-l
r5,,,u-c,primary,student,,,org-l
r6,,,u-d,primary,student,,,org-c
r7,,,u-e,primary,student,,,org-c
r8,,,u-g1,primary,parent,,,org-l
r9,,,u-g2,primary,guardian,,,org-c
""",
    "demographics.csv": """\
sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,\
blackOrAfricanAmerican,nativeHawaiianOrOtherPacificIslander,white,\
demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity
u-a,,,2020-03-14,female,false,false,false,false,true,false,true
u-b,,,2017-06-02,male,false,true,false,false,true,false,false
u-d,,,2010-11-30,male,false,false,true,false,false,false,false
u-e,,,2009-01-15,other,false,false,false,false,false,false,false
""",
    "classes.csv": """\
sourcedId,status,dateLastModified,title,classCode,classType,schoolSourcedId,termSourcedIds,periods
c-hr,,,Room 12 Homeroom,HR12,homeroom,org-l,"as-f,as-s",HR
c-alg,,,Algebra I,MA101,scheduled,org-c,as-f,2
c-bio,,,Biology,SC201,scheduled,org-c,as-s,"3,4"
""",
    "enrollments.csv": """\
sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,\
beginDate,endDate
e1,,,c-hr,org-l,u-t1,teacher,true,,
e2,,,c-hr,org-l,u-a,student,false,,
e3,,,c-hr,org-l,u-b,student,false,,
e4,,,c-hr,org-l,u-c,student,false,2025-09-15,
e5,,,c-alg,org-c,u-t2,teacher,true,,
e6,,,c-alg,org-c,u-d,student,false,,
e7,,,c-alg,org-c,u-e,student,false,,
e8,tobedeleted,,c-alg,org-c,u-d,student,false,,
e9,,,c-bio,org-c,u-e,student,false,2026-01-05,2026-03-31
""",
}


@cache
def valid_inputs() -> dict[str, Valid]:
    """Every format's valid input, built once."""
    generated = generator_files()
    xml = edfi_slice()
    inputs = [
        Valid(
            "csv-generator",
            "csv",
            generated,
            ReadOptions(profile="homeroom-generator"),
            targets=tuple(sorted(set(generated) - {"district.csv", "staff.csv"})),  # ignored
        ),
        Valid(
            "csv-exceptions",
            "csv",
            {"absences.csv": absences_file(generated)},
            ReadOptions(profile="exceptions-only"),
            base=("csv-generator",),
        ),
        Valid(
            "csv-contoso",
            "csv",
            {"studentattendance.csv": contoso_file()},
            ReadOptions(profile="oea-contoso"),
        ),
        Valid("edfi-xml", "edfi-xml", xml),
        Valid("edfi-json", "edfi-json", edfi_json(xml)),
        Valid("oneroster", "oneroster", {k: v.encode() for k, v in ONEROSTER.items()}),
    ]
    return {v.key: v for v in inputs}


# ---------------------------------------------------------------------------------------
# Corruptions: each takes the random stream and the data, returns the damaged data and
# what it did (enough to see the case without rebuilding it).

BAD_DATES = [
    "2025-02-30",
    "2025-13-01",
    "2024-00-10",
    "02/03/2025",
    "3/2/25",
    "2025-3-2",
    "20250302",
    "2025-03-02T25:61:00",
    "2025-03-02T00:00:00Z",
    "0000-00-00",
    "0001-01-01",
    "9999-12-31",
    "1899-12-31",
    "2101-01-01",
    "yesterday",
    "\uff12\uff10\uff12\uff15-\uff10\uff13-\uff10\uff12",  # fullwidth digits
    "\u0662\u0660\u0662\u0665-\u0660\u0663-\u0660\u0662",  # Arabic-Indic digits
    "2025\u201003\u201002",  # Unicode hyphens
    "-2025-03-02",
    "31.12.2024",
    "2025-W10-1",
    "NaN",
    " ",
    "",
]
BAD_IDS = [
    "UNKNOWN-1",
    "999999999",
    "0",
    "",
    " ",
    "-1",
    "NULL",
    "1.04E+05",
    "١٠٤٠٠٠",
    "x" * 41,
    "104000;104001",
    "../../etc/passwd",
    "' OR 1=1 --",
    "ﬁ",
]
BAD_CODES = ["ZZ", "zz", "", "A B", "?", "unknown", "0", "X" * 25, "—", "Ä", "A\t", "a,b"]
BAD_NUMBERS = [
    "-1",
    "99999",
    "1e6",
    "1E+999999",
    "NaN",
    "inf",
    "-inf",
    "1.5",
    "0.0001",
    "²",
    "①",
    "²²²²",
    "\uff11\uff12",  # fullwidth 12
    "1,5",
    "1" + "0" * 400,
    "0x10",
    "1_000",
    "",
    "true",
]
WEIRD_TEXT = [
    "\u202eevil",
    "😀" * 50,
    "e\u0301" * 60,
    "=cmd|' /C calc'!A0",
    "line\nbreak",
    "cr\rinside",
    "tab\tinside",
    '"quoted"',
    "\ufeffbom",
    "\ufffd",
    "back\\slash",
    "<b>&amp;</b>",
]
# Values that look like numbers or years to one test and not to the next.
TRICKY = [
    "²",
    "²²²²",
    "①",
    "٣",
    "\uff11\uff12",  # fullwidth 12
    "2021-2022",
    "2022-2021",
    "2022",
    "-0",
    "\u00a0",
    "0" * 41,
    "1e3",
    "null",
    "9" * 30,
    "1.0",
]
# Swept through every field (column, element, key) a reader reads, one value at a time.
SWEEP = [
    *TRICKY,
    "",
    " ",
    "x" * 300,
    "2025-02-30",
    "ZZ",
    "UNKNOWN-1",
    "-1",
    "99999",
    "1E+999999",
    "NaN",
    "true",
    "\u202e",
]
HUGE = (41, 101, 201, 255, 1000, 70_000, 140_000)  # the last passes csv's field size limit


def huge_value(rng: random.Random) -> str:
    return rng.choice("xé€😀") * rng.choice(HUGE)


def bad_value(rng: random.Random, kind: str, current: str) -> tuple[str, str]:
    """A replacement for a value of `kind` (date, id, code, number or text), and its name."""
    roll = rng.random()
    if roll < 0.08:
        return huge_value(rng), "huge value"
    if roll < 0.16:
        return rng.choice(WEIRD_TEXT), "odd text"
    if roll < 0.3:
        return rng.choice(TRICKY), "tricky value"
    if kind == "date":
        if roll < 0.5 and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", current):
            shift = dt.timedelta(days=rng.choice([-400, -3, 1, 5, 365]))
            with contextlib.suppress(ValueError, OverflowError):
                return (dt.date.fromisoformat(current) + shift).isoformat(), "date shifted"
        return rng.choice(BAD_DATES), "bad date"
    if kind == "id":
        return rng.choice([*BAD_IDS, current + "9", current.lower(), "0" + current]), "unknown id"
    if kind == "code":
        return rng.choice([*BAD_CODES, current.lower(), current.upper() + "X"]), "unknown code"
    if kind == "number":
        return rng.choice(BAD_NUMBERS), "bad number"
    return rng.choice(BAD_IDS + BAD_CODES + BAD_NUMBERS + BAD_DATES), "bad text"


def kind_of(name: str) -> str:
    """What a column, element or key holds, by its name."""
    low = name.lower()
    if low in ("school_year", "schoolyear", "sessionname", "calendarcode"):
        return "id"
    if "date" in low:
        return "date"
    if low.endswith(("_id", "id", "ids", "uniqueid", "identifier")) or "sourcedid" in low:
        return "id"
    if low.endswith(("descriptor", "category", "event", "relation")) or low in {
        "code",
        "kind",
        "characteristic",
        "relationship",
        "channel",
        "consent",
        "role",
        "type",
        "classtype",
        "gender",
        "sex",
        "level",
        "race_ethnicity",
        "home_language",
        "preferred_language",
        "status",
        "grades",
        "attendancecode",
        "presenceflag",
        "all_day",
        "is_homeroom",
        "lives_with",
        "preferred",
        "primary",
        "gradelevel",
        "entrygradelevel",
    }:
        return "code"
    if any(
        word in low
        for word in ("minutes", "fraction", "priority", "grade", "duration", "year", "school_year")
    ):
        return "number"
    return "text"


def as_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def as_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


# -- any file ---------------------------------------------------------------------------


def truncate(rng, data):
    at = rng.randrange(len(data) + 1)
    return data[:at], f"truncated at byte {at} of {len(data)}"


def flip_bytes(rng, data):
    damaged, places = bytearray(data), []
    for _ in range(rng.randint(1, 8)):
        if damaged:
            at = rng.randrange(len(damaged))
            damaged[at] = rng.randrange(256)
            places.append(f"{at}={damaged[at]:#04x}")
    return bytes(damaged), "bytes set " + ", ".join(places)


def insert_bytes(rng, data):
    at = rng.randrange(len(data) + 1)
    chunk = rng.choice(
        [
            b"\x00",
            b"\x00" * rng.randint(2, 50),
            bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))),
            b"\xff\xfe",
            b"\xc3(",
            b"\xed\xa0\x80",
            b"\xe2\x82",
            b"\xf4\x90\x80\x80",
            b"\r",
            b'"',
            b"\x1a",
        ]
    )
    return data[:at] + chunk + data[at:], f"inserted {chunk[:16]!r}... ({len(chunk)} bytes) at {at}"


def reencode(rng, data):
    text = data.decode("utf-8", "replace")
    if rng.random() < 0.5 and text:  # a character cp1252 and UTF-8 write differently
        at = rng.randrange(len(text))
        text = text[:at] + "é€" + text[at:]
    encoding = rng.choice(
        ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252", "latin-1", "utf-8-sig", "cp500"]
    )
    return text.encode(encoding, "replace"), f"re-encoded as {encoding}"


def empty(rng, data):
    chosen = rng.choice([b"", b"\n", b"  \r\n\r\n", b"\xef\xbb\xbf", b"\x00" * 16])
    return chosen, f"replaced by {chosen!r}"


WRONG = {
    "xml": b'<?xml version="1.0"?>\n<InterchangeStudent xmlns="http://ed-fi.org/5.2.0"/>\n',
    "json": b'[{"studentUniqueId": "5", "firstName": "A"}]',
    "csv": b"student_id,school_id,date,code\n104000,101,2024-10-01,A\n",
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(64)),
    "xlsx": b"PK\x03\x04" + b"\x00" * 60,
    "xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 60,
    "html": b"<!DOCTYPE html><html><body>Session expired</body></html>",
}


def wrong_file(rng, data):
    kind = rng.choice(sorted(WRONG))
    return WRONG[kind], f"replaced by a {kind} file"


def lines_op(rng, data):
    lines = data.splitlines(keepends=True)
    if len(lines) < 2:
        return data + data, "doubled"
    op = rng.choice(
        ["delete", "duplicate", "swap", "shuffle", "reverse", "cr-only", "header-twice"]
    )
    a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
    if op == "delete":
        count = rng.choice([1, 1, 2, 10])
        del lines[a : a + count]
        detail = f"deleted lines {a + 1}..{a + count}"
    elif op == "duplicate":
        lines.insert(b, lines[a])
        detail = f"line {a + 1} copied before line {b + 1}"
    elif op == "swap":
        lines[a], lines[b] = lines[b], lines[a]
        detail = f"lines {a + 1} and {b + 1} swapped"
    elif op == "shuffle":
        rng.shuffle(lines)
        detail = "lines shuffled"
    elif op == "reverse":
        lines.reverse()
        detail = "lines reversed"
    elif op == "cr-only":
        return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r"), "line ends made CR only"
    else:
        lines.insert(b, lines[0])
        detail = f"first line repeated before line {b + 1}"
    return b"".join(lines), detail


BYTE_LEVEL = [truncate, flip_bytes, insert_bytes, reencode, empty, wrong_file, lines_op]


# -- delimited text ---------------------------------------------------------------------


def parse_csv(data: bytes) -> list[list[str]] | None:
    try:
        return list(csv.reader(io.StringIO(as_text(data), newline="")))
    except csv.Error:
        return None


def write_csv(rows: list[list[str]], rng: random.Random) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator=rng.choice(["\n", "\r\n"])).writerows(rows)
    return as_bytes(out.getvalue())


def csv_cell(rng, data):
    rows = parse_csv(data)
    if not rows or len(rows) < 2 or not rows[0]:
        return insert_bytes(rng, data)
    header = rows[0]
    r, c = rng.randrange(1, len(rows)), rng.randrange(len(header))
    if c >= len(rows[r]):
        return insert_bytes(rng, data)
    value, what = bad_value(rng, kind_of(header[c]), rows[r][c])
    rows[r][c] = value
    return write_csv(rows, rng), f"{what}: line {r + 1} column {header[c]!r} = {value[:40]!r}"


def csv_column(rng, data):
    rows = parse_csv(data)
    if not rows or not rows[0]:
        return truncate(rng, data)
    header = rows[0]
    c = rng.randrange(len(header))
    op = rng.choice(
        [
            "drop header cell",
            "drop column",
            "rename",
            "duplicate name",
            "add column",
            "blank name",
            "case",
        ]
    )
    name = header[c]
    if op == "drop header cell":
        del header[c]
    elif op == "drop column":
        for row in rows:
            if c < len(row):
                del row[c]
    elif op == "rename":
        header[c] = rng.choice(
            [name + "_x", name.replace("_", " "), " " + name + " ", "", "Ünknown"]
        )
    elif op == "duplicate name":
        header[rng.randrange(len(header))] = name
    elif op == "add column":
        for row in rows:
            row.insert(c, "extra")
    elif op == "blank name":
        header[c] = ""
    else:
        header[c] = name.upper()
    return write_csv(rows, rng), f"header: {op} {name!r}"


def csv_row(rng, data):
    rows = parse_csv(data)
    if not rows or len(rows) < 2:
        return lines_op(rng, data)
    r = rng.randrange(1, len(rows))
    op = rng.choice(["drop cell", "add cell", "empty row", "unbalanced quote", "delimiter"])
    if op == "drop cell" and rows[r]:
        rows[r].pop(rng.randrange(len(rows[r])))
    elif op == "add cell":
        rows[r].append(rng.choice(["", "x", "1"]))
    elif op == "empty row":
        rows[r] = [""] * len(rows[r])
    elif op == "unbalanced quote":
        text = as_text(write_csv(rows, rng))
        lines = text.splitlines(keepends=True)
        line = lines[r] if r < len(lines) else lines[-1]
        at = rng.randrange(len(line) + 1)
        lines[min(r, len(lines) - 1)] = line[:at] + '"' + line[at:]
        return as_bytes("".join(lines)), f"quote inserted in line {r + 1} at {at}"
    else:
        delimiter = rng.choice([";", "\t", "|"])
        out = io.StringIO()
        csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
        return as_bytes(out.getvalue()), f"delimiter made {delimiter!r}"
    return write_csv(rows, rng), f"row {r + 1}: {op}"


def csv_workbook(rng, data):
    """The rows as an XLSX workbook (under the same name), possibly damaged."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    rows = parse_csv(data) or [["x"]]
    book = Workbook()
    for row in rows[:200]:
        cells = [as_bytes(c).decode("utf-8", "replace")[:1000] for c in row]
        book.active.append([ILLEGAL_CHARACTERS_RE.sub("", c) for c in cells])
    out = io.BytesIO()
    book.save(out)
    workbook = out.getvalue()
    if rng.random() < 0.5:
        damaged, detail = rng.choice([truncate, flip_bytes])(rng, workbook)
        return damaged, f"as an XLSX workbook, then {detail}"
    return workbook, "as an XLSX workbook"


def csv_fill(rng, data, pick):
    """A value from `pick(kind, current)` in every column, each in a random row."""
    rows = parse_csv(data)
    if not rows or len(rows) < 2 or not rows[0]:
        return data, "nothing to fill"
    header, done = rows[0], []
    for c, name in enumerate(header):
        row = rows[rng.randrange(1, len(rows))]
        if c < len(row):
            row[c] = pick(kind_of(name), row[c])
            done.append(f"{name}={row[c][:12]!r}")
    return write_csv(rows, rng), ", ".join(done)


def csv_shotgun(rng, data):
    data, done = csv_fill(rng, data, lambda kind, current: bad_value(rng, kind, current)[0])
    return data, "a bad value in every column: " + done


CSV_LEVEL = [csv_cell, csv_cell, csv_cell, csv_column, csv_row, csv_shotgun]


# -- XML --------------------------------------------------------------------------------


def element_names(specs) -> set[str]:
    """The XML element names the Ed-Fi mapping reads."""
    names = set()
    for spec in specs:
        names |= {n for path in spec.xml for n in re.split(r"/+", path) if n != "."}
        names |= element_names(spec.many)
    return names


READ_ELEMENTS = element_names(s for fields in RESOURCES.values() for s in fields)
LEAF = re.compile(rb"<((?:\w+:)?(\w+))(\s[^<>]*)?>([^<]*)</\1>")
ENTITY_BOMB = (
    b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaaaaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY x SYSTEM "file:///etc/passwd">]>'
)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_leaf(rng, data):
    leaves = list(LEAF.finditer(data))
    if not leaves:
        return insert_bytes(rng, data)
    names = sorted({leaf[2].decode() for leaf in leaves})
    read = [name for name in names if name in READ_ELEMENTS]
    chosen = rng.choice(read if read and rng.random() < 0.9 else names)  # rare ones too
    leaf = rng.choice([leaf for leaf in leaves if leaf[2].decode() == chosen])
    name = leaf[2].decode()
    current = leaf[4].decode("utf-8", "replace").strip()
    kind = "code" if current.startswith("uri://") else kind_of(name)
    line = data[: leaf.start()].count(b"\n") + 1
    op = rng.random()
    if op < 0.1:
        return data[: leaf.start()] + data[leaf.end() :], f"<{name}> on line {line} removed"
    if op < 0.15:
        value, what = "<![CDATA[" + current + "]]>", "CDATA"
        text = as_bytes(value)
    else:
        value, what = bad_value(rng, kind, current)
        if kind == "code" and current.startswith("uri://") and rng.random() < 0.6:
            value = current.rpartition("#")[0] + "#" + value
        raw = rng.random() < 0.1
        text = as_bytes(value if raw else escape(value))
        what += " (unescaped)" if raw else ""
    damaged = data[: leaf.start(4)] + text + data[leaf.end(4) :]
    return damaged, f"{what}: <{name}> on line {line} = {value[:40]!r}"


def xml_structure(rng, data):
    op = rng.choice(
        ["duplicate element", "drop element", "root", "namespace", "entities", "ref", "deep"]
    )
    if op in ("duplicate element", "drop element"):
        try:
            root = etree.fromstring(data)
        except etree.XMLSyntaxError:
            return truncate(rng, data)
        children = [c for c in root if isinstance(c.tag, str)]
        if not children:
            return data, "no element to change"
        child = rng.choice(children)
        if op == "duplicate element":
            root.insert(rng.randrange(len(root) + 1), copy.deepcopy(child))
        else:
            root.remove(child)
        detail = f"{op} {etree.QName(child).localname} (line {child.sourceline})"
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8"), detail
    if op == "root":
        return re.sub(rb"<(/?)Interchange(\w+)", rb"<\1Exchange\2", data), "root element renamed"
    if op == "namespace":
        ns = rng.choice(
            [b"http://ed-fi.org/2.0", b"", b"http://example.org/x", b"http://ed-fi.org/9"]
        )
        return data.replace(b"http://ed-fi.org/5.2.0", ns), f"namespace made {ns!r}"
    if op == "entities":
        text = data.replace(b"?>", b"?>" + ENTITY_BOMB, 1)
        leaves = list(LEAF.finditer(text))
        if leaves:
            leaf = rng.choice(leaves)
            text = (
                text[: leaf.start(4)]
                + rng.choice([b"&c;", b"&x;", b"&nope;"])
                + text[leaf.end(4) :]
            )
        return text, "DOCTYPE with entities (expansion, external file, undefined) used in a value"
    if op == "ref":
        refs = list(re.finditer(rb'ref="([^"]*)"', data))
        if not refs:
            return xml_leaf(rng, data)
        found = rng.choice(refs)
        return data[: found.start(1)] + b"NOPE" + data[found.end(1) :], "a ref= names no element"
    depth = rng.choice([300, 5000])
    at = data.rfind(b"</")
    nested = b"<a>" * depth + b"</a>" * depth
    return data[:at] + nested + data[at:], f"{depth} nested elements before the root's end"


def xml_fill(rng, data, pick):
    """A value from `pick(kind, current)` in one element of each name the mapping reads."""
    by_name: dict[str, list] = {}
    for leaf in LEAF.finditer(data):
        if leaf[2].decode() in READ_ELEMENTS:
            by_name.setdefault(leaf[2].decode(), []).append(leaf)
    chosen = sorted((rng.choice(leaves) for leaves in by_name.values()), key=lambda m: -m.start())
    done = []
    for leaf in chosen:
        current = leaf[4].decode("utf-8", "replace").strip()
        kind = "code" if current.startswith("uri://") else kind_of(leaf[2].decode())
        value = pick(kind, current)
        data = data[: leaf.start(4)] + as_bytes(escape(value)) + data[leaf.end(4) :]
        done.append(f"{leaf[2].decode()}={value[:12]!r}")
    return data, ", ".join(reversed(done))


def xml_shotgun(rng, data):
    data, done = xml_fill(rng, data, lambda kind, current: bad_value(rng, kind, current)[0])
    return data, "a bad value in each element read: " + done


XML_LEVEL = [xml_leaf, xml_leaf, xml_leaf, xml_structure, xml_shotgun]


# -- JSON -------------------------------------------------------------------------------


def json_leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from json_leaves(item, (*path, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from json_leaves(item, (*path, n))
    else:
        yield path, value


def json_dump(value, rng) -> bytes:
    ascii_only = rng.random() < 0.5
    return json.dumps(value, indent=2, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def json_value(rng, data):
    try:
        value = json.loads(data)
    except ValueError:
        return truncate(rng, data)
    leaves = list(json_leaves(value))
    if not leaves:
        return truncate(rng, data)
    keys = sorted({".".join(str(p) for p in path if isinstance(p, str)) for path, _ in leaves})
    chosen = rng.choice(keys)  # each kind of key as likely as the next, rare ones too
    path, current = rng.choice(
        [
            (path, v)
            for path, v in leaves
            if ".".join(str(p) for p in path if isinstance(p, str)) == chosen
        ]
    )
    key = next((p for p in reversed(path) if isinstance(p, str)), "")
    current_text = str(current)
    kind = "code" if current_text.startswith("uri://") else kind_of(key)
    roll = rng.random()
    if roll < 0.35:
        new = rng.choice(
            [
                None,
                0,
                -1,
                1.5,
                10**30,
                True,
                False,
                [],
                {},
                {"x": 1},
                [1, 2],
                "\x00",
                "\ud800",
                float("nan"),
                float("inf"),
                "a\x00b",
            ]
        )
        what = "wrong type or odd value"
    else:
        new, what = bad_value(rng, kind, current_text)
        if kind == "code" and current_text.startswith("uri://") and rng.random() < 0.6:
            new = current_text.rpartition("#")[0] + "#" + new
        if isinstance(current, int | float) and rng.random() < 0.5:
            new = rng.choice([-5, 0, 99999, 10**20, 0.001])
    target = value
    for step in path[:-1]:
        target = target[step]
    if rng.random() < 0.1 and isinstance(target, dict):
        del target[path[-1]]
        return json_dump(value, rng), f"key {'.'.join(map(str, path))} removed"
    target[path[-1]] = new
    return json_dump(value, rng), f"{what}: {'.'.join(map(str, path))} = {str(new)[:40]!r}"


def json_structure(rng, data):
    try:
        value = json.loads(data)
    except ValueError:
        return truncate(rng, data)
    op = rng.choice(["duplicate item", "drop item", "object", "nested", "item not object", "after"])
    if op == "duplicate item" and isinstance(value, list) and value:
        value.insert(rng.randrange(len(value) + 1), copy.deepcopy(rng.choice(value)))
    elif op == "drop item" and isinstance(value, list) and value:
        value.pop(rng.randrange(len(value)))
    elif op == "object":
        value = {"value": value}
    elif op == "nested":
        return b"[" * 50_000 + data, "50,000 [ before the array"
    elif op == "item not object" and isinstance(value, list) and value:
        value[rng.randrange(len(value))] = rng.choice(["x", 1, None, [], [{}]])
    elif op == "after":
        return data + b'\n[{"x": 1}]', "text after the array"
    return json_dump(value, rng), op


def json_fill(rng, data, pick):
    """A value from `pick(kind, current)` at one place of each key."""
    try:
        value = json.loads(data)
    except ValueError:
        return data, "not JSON"
    by_key: dict[str, list] = {}
    for path, current in json_leaves(value):
        by_key.setdefault(".".join(str(p) for p in path if isinstance(p, str)), []).append(
            (path, current)
        )
    done = []
    for key, places in by_key.items():
        path, current = rng.choice(places)
        target = value
        for step in path[:-1]:
            target = target[step]
        kind = "code" if str(current).startswith("uri://") else kind_of(key.rpartition(".")[2])
        target[path[-1]] = pick(kind, str(current))
        done.append(f"{key}={str(target[path[-1]])[:12]!r}")
    return json_dump(value, rng), ", ".join(done)


def json_shotgun(rng, data):
    data, done = json_fill(rng, data, lambda kind, current: bad_value(rng, kind, current)[0])
    return data, "a bad value at each key: " + done


JSON_LEVEL = [json_value, json_value, json_value, json_structure, json_shotgun]


# -- for the database: references the reader accepts and the engine must refuse -------

REFERENCES = {"StudentUniqueId", "SchoolId", "ContactUniqueId", "SchoolYear"}
JSON_REFERENCES = {"studentUniqueId", "schoolId", "contactUniqueId", "schoolYear"}


def unknown(current: str) -> str:
    """A well-formed id, year or code that no file defines."""
    if re.fullmatch(r"[0-9]{4}-[0-9]{4}", current):
        return "2099-2100"
    if re.fullmatch(r"[0-9]{4}", current):
        return "2099"
    if len(current) <= 3 and current.isalpha():
        return "ZZ"
    return (current or "X")[:38] + "99"


def poison(rng, data, name):
    """One to three references (ids, years, codes) changed to well-formed unknown ones."""
    kind = kind_of_file(name)
    count = rng.randint(1, 3)
    if kind == "csv":
        rows = parse_csv(data)
        if not rows or len(rows) < 2:
            return data, "nothing to poison"
        header = rows[0]
        columns = [
            c
            for c, column in enumerate(header)
            if kind_of(column) == "id" or column.lower() in ("code", "attendancecode")
        ]
        if not columns:
            return data, "nothing to poison"
        c, done = rng.choice(columns), []
        for _ in range(count):
            r = rng.randrange(1, len(rows))
            if c < len(rows[r]):
                rows[r][c] = unknown(rows[r][c])
                done.append(f"line {r + 1}")
        return write_csv(rows, rng), f"{header[c]} made unknown on {', '.join(done)}"
    if kind == "xml":
        leaves = [leaf for leaf in LEAF.finditer(data) if leaf[2].decode() in REFERENCES]
        if not leaves:
            return data, "nothing to poison"
        chosen = sorted(rng.sample(leaves, min(count, len(leaves))), key=lambda m: -m.start())
        done = []
        for leaf in chosen:
            new = unknown(leaf[4].decode().strip())
            data = data[: leaf.start(4)] + new.encode() + data[leaf.end(4) :]
            done.append(f"<{leaf[2].decode()}> on line {data[: leaf.start()].count(b'\n') + 1}")
        return data, "made unknown: " + ", ".join(done)
    value = json.loads(data)
    places = [(p, v) for p, v in json_leaves(value) if p and p[-1] in JSON_REFERENCES]
    if not places:
        return data, "nothing to poison"
    done = []
    for path, current in rng.sample(places, min(count, len(places))):
        target = value
        for step in path[:-1]:
            target = target[step]
        new = unknown(str(current))
        target[path[-1]] = int(new) if isinstance(current, int) and new.isdigit() else new
        done.append(".".join(map(str, path)))
    return json_dump(value, rng), "made unknown: " + ", ".join(done)


RENAMED = {"FirstName", "LastSurname", "NameOfInstitution", "Description", "City"}
JSON_RENAMED = {"firstName", "lastSurname", "nameOfInstitution", "description", "city"}
NAMED_COLUMNS = ("name", "title", "description")
ATTENDANCE_FILES = {"attendance_events.csv", "absences.csv", "studentattendance.csv"}


def earlier(files: dict[str, bytes]) -> dict[str, bytes]:
    """An earlier export of the same district: other names, and a third of the attendance
    missing, so that importing the valid input over it has rows to insert and update."""
    out = {}
    for name, data in files.items():
        kind = kind_of_file(name)
        if kind == "csv":
            rows = parse_csv(data)
            header = [h.lower() for h in rows[0]]
            named = [c for c, col in enumerate(header) if col.endswith(NAMED_COLUMNS)]
            for row in rows[1::7]:  # a few updates (each costs the engine time), not all
                for c in named:
                    if c < len(row) and row[c]:
                        row[c] = "Old " + row[c][:40]
            if name in ATTENDANCE_FILES:
                rows = rows[:1] + [row for n, row in enumerate(rows[1:]) if n % 3]
            out[name] = write_csv(rows, random.Random(0))
        elif kind == "xml":
            root = etree.fromstring(data)
            renamed = [e for e in root.iter(etree.Element) if etree.QName(e).localname in RENAMED]
            for element in renamed[::7]:
                element.text = "Old " + (element.text or "")[:40]
            if name.startswith("StudentSchoolAttendance"):
                for n, child in enumerate(list(root)):
                    if n % 3 == 0:
                        root.remove(child)
            out[name] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        else:
            value = json.loads(data)
            renamed = [
                (path, current)
                for path, current in json_leaves(value)
                if path and path[-1] in JSON_RENAMED and isinstance(current, str)
            ]
            for path, current in renamed[::7]:
                target = value
                for step in path[:-1]:
                    target = target[step]
                target[path[-1]] = "Old " + current[:40]
            if name.startswith("studentSchoolAttendanceEvents"):
                value = [item for n, item in enumerate(value) if n % 3]
            out[name] = json.dumps(value, indent=2).encode()
    return out


# -- a whole input ------------------------------------------------------------------------


@dataclass
class Case:
    """A corrupted input: its files, whether to give them as a zip, and what was done."""

    key: str
    number: int
    files: dict[str, bytes]
    steps: list[str] = field(default_factory=list)
    members: set[str] = field(default_factory=set)  # of a zip, as problems name them
    for_database: bool = False

    def __str__(self) -> str:
        database = ", for_database=True" if self.for_database else ""
        again = f"build_case({self.key!r}, {self.number}{database})"
        return f"{again}: " + "; ".join(self.steps)


def kind_of_file(name: str) -> str:
    return {".xml": "xml", ".json": "json"}.get(Path(name).suffix.lower(), "csv")


def build_case(key: str, number: int, *, for_database: bool = False) -> Case:
    """The corrupted input `key:number`, the same every time (its random stream is seeded
    with the key and number). The first cases read put one `SWEEP` value in every field;
    database cases mostly poison a reference first."""
    valid = valid_inputs()[key]
    rng = random.Random(f"{key}:{number}{':db' if for_database else ''}")
    case = Case(key, number, dict(valid.files), for_database=for_database)
    if number < len(SWEEP) and not for_database:  # the first cases: one value everywhere
        fill = {"csv": csv_fill, "xml": xml_fill, "json": json_fill}
        for name in sorted(valid.targets or valid.files):
            kind = kind_of_file(name)
            case.files[name], _ = fill[kind](rng, case.files[name], lambda *_: SWEEP[number])
        case.steps.append(f"every field read once set to {SWEEP[number][:20]!r}")
        return case
    steps = rng.choice([1, 1, 1, 2, 3])
    if for_database and number % 4 != 2:  # a reference the engine must find unknown
        name = rng.choice(sorted(valid.targets or valid.files))
        case.files[name], detail = poison(rng, case.files[name], name)
        case.steps.append(f"{name}: poison: {detail}")
        steps = rng.choice([0, 0, 1])
    for _ in range(steps):
        names = sorted(n for n in case.files if n in valid.targets or not valid.targets)
        if not names:
            break
        name = rng.choice(names)
        roll = rng.random()
        if roll < 0.05 and len(names) > 1:
            del case.files[name]
            case.steps.append(f"{name}: left out")
            continue
        if roll < 0.09:
            new = rng.choice(
                [
                    name.upper(),
                    "copy of " + name,
                    name + ".bak",
                    "x" + name,
                    Path(name).stem + ".txt",
                ]
            )
            case.files[new] = case.files.pop(name)
            case.steps.append(f"{name}: renamed {new}")
            continue
        kind = kind_of_file(name)
        specific = {"csv": CSV_LEVEL, "xml": XML_LEVEL, "json": JSON_LEVEL}[kind]
        # For the database mostly values the reader may accept and the engine must judge.
        choices = specific * (3 if for_database else 2) + BYTE_LEVEL
        if kind == "csv" and valid.format == "csv" and rng.random() < 0.05:
            choices = [csv_workbook]
        corrupt = rng.choice(choices)
        case.files[name], detail = corrupt(rng, case.files[name])
        case.steps.append(f"{name}: {corrupt.__name__}: {detail}")
    if valid.format == "oneroster" and rng.random() < 0.2:
        zipped(rng, case)
    return case


def write_case(case: Case, folder: Path) -> list[Path]:
    """Write the case's files in `folder`; the paths to read."""
    folder.mkdir(parents=True)
    paths = []
    for name, data in sorted(case.files.items()):
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths


ZIP_LAYOUTS = ("flat", "folder", "duplicate", "macosx", "backslash", "traversal", "nested")


def zipped(rng: random.Random, case: Case) -> None:
    """Give the case's files as one zip, laid out in some odd way, perhaps damaged."""
    layout = rng.choice(ZIP_LAYOUTS)
    members = []
    for name in sorted(case.files):
        members.append(
            {
                "folder": f"export/2025/{name}",
                "backslash": f"export\\{name}",
                "traversal": f"../../{name}",
            }.get(layout, name)
        )
        if layout == "macosx":
            members.append(f"__MACOSX/._{name}")
        if layout == "duplicate" and rng.random() < 0.3:
            members.append(name)
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of duplicate names: that is the point
        method = rng.choice([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
        with zipfile.ZipFile(out, "w", method) as archive:
            for member in members:
                name = PurePosixPath(member.replace("\\", "/")).name.removeprefix("._")
                archive.writestr(member, case.files.get(name, b"\x00\x01junk"))
            if layout == "nested":
                archive.writestr("inner.zip", out.getvalue()[:100])
    data = out.getvalue()
    case.members = {PurePosixPath(m.replace("\\", "/")).name for m in members}
    case.steps.append(f"given as export.zip ({layout})")
    if rng.random() < 0.3:
        data, detail = rng.choice([truncate, flip_bytes])(rng, data)
        case.steps.append(f"export.zip: {detail}")
    case.files = {"export.zip": data}


# ---------------------------------------------------------------------------------------
# Checks


def read(valid: Valid, paths: list[Path]) -> Batch:
    return FORMATS[valid.format].read(paths, valid.options)


def problems_wrong(problems: list[Problem], case: "Case") -> list[str]:
    """What is wrong with a batch's problems: no message, no place, a reader crash."""
    wrong, names = [], names_given(case)
    for p in problems:
        if not (isinstance(p.message, str) and p.message.strip() and p.code):
            wrong.append(f"a problem without message or code: {p!r}")
        workbook = p.where and case.files.get(p.where.file, b"").startswith(b"PK\x03\x04")
        if p.code == "reader_failure" or (
            p.code == "unreadable_file" and "cannot be read:" in p.message and not workbook
        ):
            wrong.append(f"a reader crash hidden as a problem: {p}")
        texts = [p.message, p.value, p.hint, p.where.file if p.where else ""]
        if any(not storable(t.replace("\x00", "")) for t in texts):
            wrong.append(f"a problem no database can store (lone surrogate): {p!r}")
        if p.severity != Severity.ERROR:
            continue
        if p.where is None:
            if p.code not in FILE_LEVEL:
                wrong.append(f"an error without file and line: {p}")
            continue
        if p.where.file not in names:
            wrong.append(f"an error naming a file not given: {p}")
        if not isinstance(p.where.line, int) or (p.where.line < 1 and p.code not in FILE_LEVEL):
            wrong.append(f"an error without a line: {p}")
    return wrong


def storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def same_names(record_type: type, model: type) -> dict[str, object]:
    """The model's fields that a record's fields of the same name are written to."""
    held = {field.name for field in model._meta.concrete_fields}
    return {name: getattr(model, name) for name in record_type.__slots__ if name in held}


# What each record's fields become, for the widths and ranges the database holds.
COLUMNS: dict[type, dict[str, object]] = {
    records.SchoolRecord: same_names(records.SchoolRecord, School),
    records.SchoolYearRecord: {"name": SchoolYear.name},
    records.CalendarDateRecord: {"kind": CalendarDate.kind, "calendar_code": Calendar.code},
    records.StudentRecord: same_names(records.StudentRecord, roster.Student),
    records.CharacteristicRecord: {"kind": roster.StudentCharacteristic.kind},
    records.GuardianRecord: same_names(records.GuardianRecord, roster.Guardian),
    records.StudentGuardianRecord: {
        "relationship": roster.StudentGuardian.relationship,
        "contact_priority": roster.StudentGuardian.contact_priority,
    },
    records.ContactPreferenceRecord: {
        "channel": roster.ContactPreference.channel,
        "consent": roster.ContactPreference.consent,
    },
    records.EnrollmentRecord: {
        "grade": roster.Enrollment.grade,
        "exit_reason": roster.Enrollment.exit_reason,
    },
    records.SectionRecord: {
        "local_id": roster.Section.local_id,
        "name": roster.Section.name,
        "period": roster.Section.period,
    },
    records.AttendanceCodeRecord: {
        "code": AttendanceCode.code,
        "description": AttendanceCode.description,
        "category": AttendanceCode.category,
        "day_fraction": AttendanceCode.day_fraction,
    },
    records.AttendanceRecord: {
        "period": AttendanceEvent.period,
        "reason": AttendanceEvent.reason,
        "day_fraction": AttendanceEvent.day_fraction,
        "minutes_missed": AttendanceEvent.minutes_missed,
    },
}
RANGES = {"SmallIntegerField": (-32768, 32767), "PositiveSmallIntegerField": (0, 32767)}
# Check constraints: (earlier field, later field) that the database keeps in order.
ORDERED = {
    records.SchoolRecord: ("lowest_grade", "highest_grade"),
    records.SchoolYearRecord: ("start_date", "end_date"),
    records.CharacteristicRecord: ("start_date", "end_date"),
    records.EnrollmentRecord: ("entry_date", "exit_date"),
    records.SectionEnrollmentRecord: ("start_date", "end_date"),
}


@cache
def limits(record_type: type) -> list[tuple[str, int | None, tuple[int, int]]]:
    """(field, width of its column or None, integer range) for each field of a record type."""
    columns = COLUMNS.get(record_type, {})
    out = []
    for name in record_type.__slots__:
        column = columns[name].field if name in columns else None
        internal = column.get_internal_type() if column else ""
        width = getattr(column, "max_length", None)
        out.append((name, width, RANGES.get(internal, RANGES["SmallIntegerField"])))
    return out


def records_wrong(batch: Batch) -> list[str]:
    """Values of records the database would refuse (the engine writes them unchecked)."""
    wrong = []
    for spec in dataclasses.fields(Batch):
        rows = getattr(batch, spec.name)  # a list, or the attendance's compact sequence
        if spec.name == "problems" or not isinstance(rows, Sequence):
            continue
        for record in rows:
            for name, width, (low, high) in limits(type(record)):
                value = getattr(record, name)
                kind = type(value)
                if kind is str:
                    if (width and len(value) > width) or "\x00" in value or not storable(value):
                        shown = f"{value[:60]!r} ({len(value)} characters, the column {width})"
                    else:
                        continue
                elif kind is int:
                    if low <= value <= high:
                        continue
                    shown = f"{value} (out of range)"
                elif kind is Decimal:
                    if value.is_finite() and abs(value) < 10:
                        continue
                    shown = f"{value} (out of range)"
                elif name.endswith("date") and value is not None and kind is not dt.date:
                    shown = f"{value!r} (not a date)"
                else:
                    continue
                wrong.append(f"{type(record).__name__}.{name} = {shown} at {record.where}")
            if ordered := ORDERED.get(type(record)):
                first, later = (getattr(record, name) for name in ordered)
                if first is not None and later is not None and later < first:
                    wrong.append(f"{ordered[1]} before {ordered[0]}: {record}")
            if len(record.where.file) > 200 or not storable(record.where.file):
                wrong.append(f"a file name no column holds: {record.where.file!r}")
    return wrong


def names_given(case: Case) -> set[str]:
    return set(case.files) | case.members


def read_checked(
    valid: Valid, case: Case, folder: Path, *, changed_only: bool = False
) -> tuple[Batch | None, list[Path], list[str]]:
    """Read a case; the batch (None if reading raised), the paths and what went wrong.

    With `changed_only`, only the damaged files are read (a CSV profile reads each file on
    its own, so the others add nothing but time).
    """
    paths = write_case(case, folder)
    if changed_only and valid.format == "csv":
        damaged = [p for p in paths if valid.files.get(p.name) != case.files[p.name]]
        paths = damaged or paths
    try:
        batch = read(valid, paths)
    except Exception:
        return None, paths, [f"reading raised:\n{traceback.format_exc()}"]
    if not isinstance(batch, Batch):
        return None, paths, [f"reading returned {type(batch).__name__}, not a Batch"]
    wrong = problems_wrong(batch.problems, case) + records_wrong(batch)
    if any("root:x:0:0" in str(getattr(r, "reason", "")) for r in batch.attendance):
        wrong.append("an external entity was resolved")
    return batch, paths, wrong


def report(failures: list[str]) -> str:
    shown = "\n\n".join(failures[:15])
    more = f"\n\n... and {len(failures) - 15} more" if len(failures) > 15 else ""
    return f"{len(failures)} corrupted input(s) went wrong:\n\n{shown}{more}"


# ---------------------------------------------------------------------------------------
# Reading: never raises, problems placed, records that fit the database


@pytest.mark.parametrize(
    ("key", "block"), [(k, b) for k, n in READ_CASES.items() for b in range(0, n, BLOCK)]
)
def test_reading_corrupted_files_never_raises(key, block, tmp_path):
    valid = valid_inputs()[key]
    failures = []
    for number in range(block, block + BLOCK):
        case = build_case(key, number)
        _, _, wrong = read_checked(valid, case, tmp_path / str(number), changed_only=True)
        shutil.rmtree(tmp_path / str(number))
        if wrong:
            failures.append(f"{case}\n  " + "\n  ".join(wrong))
    assert not failures, report(failures)


def test_the_valid_inputs_read_without_errors(tmp_path):
    for key, valid in valid_inputs().items():
        case = Case(key, -1, dict(valid.files))
        batch, _, wrong = read_checked(valid, case, tmp_path / key)
        assert batch is not None and not wrong, (key, wrong)
        assert batch.errors == [], (key, batch.errors[:5])


# ---------------------------------------------------------------------------------------
# Importing: success or ImportRejected, and a rejected run changes nothing but its run row


def fingerprint() -> dict[str, tuple[int, str]]:
    """Per table an import touches: its row count and a hash of its rows in key order."""
    prints = {}
    for model in TOUCHED:
        names = [f.attname for f in model._meta.concrete_fields]
        digest, count = hashlib.sha256(), 0
        for row in model.objects.order_by("pk").values_list(*names).iterator(chunk_size=5000):
            digest.update(repr(row).encode())
            count += 1
        prints[model._meta.label] = (count, digest.hexdigest())
    return prints


def runs() -> dict[int, str]:
    return {
        pk: repr(row)
        for pk, *row in ImportRun.objects.values_list(
            "pk", "status", "counts", "problems", "finished_at"
        )
    }


def stored_problems_wrong(run: ImportRun) -> list[str]:
    """What is wrong with the problems recorded on a run (as stored)."""
    wrong = []
    stored = ImportRun.objects.get(pk=run.pk)
    for p in stored.problems:
        if not p.get("message") or not p.get("text"):
            wrong.append(f"a stored problem without message: {p}")
        if (
            p["severity"] == "error"
            and p["code"] not in FILE_LEVEL
            and not (p["file"] and p["line"] is not None)
        ):
            wrong.append(f"a stored error without file and line: {p}")
    return wrong


class _Undo(Exception):
    """Roll a case back so the next starts from the same baseline."""


def import_case(
    valid: Valid, case: Case, folder: Path, district: District, on_error: str
) -> tuple[str, list[str]]:
    """Import a corrupted case and check it: (what happened, what went wrong)."""
    outcome, wrong = "raised", []
    try:
        with transaction.atomic():
            batch, paths, wrong = read_checked(valid, case, folder)
            if batch is None:
                raise _Undo
            before, held_runs, read_errors = fingerprint(), runs(), len(batch.errors)
            files = [source_file(p) for p in paths]
            try:
                run = do_import(
                    batch,
                    district=district,
                    source_format=valid.format,
                    files=files,
                    on_error=on_error,
                )
            except ImportRejected as rejected:
                run, status = rejected.run, ImportRun.Status.REJECTED
                outcome = "rejected by the engine" if not read_errors else "rejected on reading"
                if fingerprint() != before:
                    changed = [k for k, v in fingerprint().items() if v != before[k]]
                    wrong.append(f"a rejected run changed {', '.join(changed)}")
                if not batch.errors:
                    wrong.append("rejected without an error on the batch")
            except Exception:
                wrong.append(f"do_import raised:\n{traceback.format_exc()}")
                raise _Undo from None
            else:
                status = ImportRun.Status.SUCCEEDED
                outcome = "succeeded" + (" leaving rows out" if batch.errors else "")
                if on_error == "reject" and batch.errors:
                    wrong.append(f"succeeded with errors: {batch.errors[:3]}")
            after = runs()
            added = set(after) - set(held_runs)
            if added != {run.pk} or any(after[pk] != text for pk, text in held_runs.items()):
                wrong.append(f"runs added {sorted(added)}, expected only run {run.pk}")
            if ImportRun.objects.get(pk=run.pk).status != status:
                wrong.append(f"run {run.pk} is {run.status}, expected {status}")
            wrong += problems_wrong(batch.problems, case) + stored_problems_wrong(run)
            raise _Undo
    except _Undo:
        pass
    return outcome, wrong


def baseline(district: District, valid: Valid, folder: Path) -> None:
    """The district's held data: the inputs the format needs, then an earlier export."""
    for key in (*valid.base, valid.key):
        files = dict(valid_inputs()[key].files)
        held = earlier(files) if key == valid.key else files
        paths = write_case(Case(key, -1, held), folder / key)
        batch = read(valid_inputs()[key], paths)
        run = do_import(
            batch,
            district=district,
            source_format=valid.format,
            files=[source_file(p) for p in paths],
        )
        assert run.status == ImportRun.Status.SUCCEEDED, key


@pytest.mark.django_db
@pytest.mark.parametrize("key", DB_CASES)
def test_importing_corrupted_files_commits_all_or_nothing(key, tmp_path):
    valid = valid_inputs()[key]
    district = District.objects.create(name="Fuzzed", timezone="America/New_York")
    baseline(district, valid, tmp_path / "baseline")
    assert sum(n for n, _ in fingerprint().values()) > 0
    failures, outcomes = [], Counter()
    for number in range(DB_CASES[key]):
        case = build_case(key, number, for_database=True)
        on_error = "skip" if number % 4 == 3 else "reject"
        outcome, wrong = import_case(valid, case, tmp_path / str(number), district, on_error)
        shutil.rmtree(tmp_path / str(number))
        outcomes[outcome] += 1
        if wrong:
            failures.append(f"{case} (database, on_error={on_error})\n  " + "\n  ".join(wrong))
    assert not failures, report(failures)
    # The cases that matter most: the engine wrote rows, then found an error and rolled back.
    if key in ENGINE_REFUSES:
        assert outcomes["rejected by the engine"] >= 1, dict(outcomes)


# ---------------------------------------------------------------------------------------
# Found by fuzzing: directed cases


@pytest.mark.django_db
def test_a_grade_span_half_given_is_checked_against_the_held_half(tmp_path):
    district = District.objects.create(name="Fuzzed")
    header = "school_id,state_id,name,level,lowest_grade,highest_grade\n"

    def run(row: str) -> ImportRun:
        path = tmp_path / "schools.csv"
        path.write_text(header + row)
        batch = read(valid_inputs()["csv-generator"], [path])
        assert batch.errors == []
        return do_import(batch, district=district, source_format="csv", files=[])

    run("301,,Central High,high,9,12\n")
    before = fingerprint()
    with pytest.raises(ImportRejected):
        run("301,,Central High,high,,5\n")  # grades 9 (held) to 5
    assert fingerprint() == before


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["csv-exceptions", "edfi-xml", "edfi-json", "oneroster"])
def test_a_file_name_that_is_not_utf8_is_read_and_imported(key, tmp_path):
    valid = valid_inputs()[key]
    district = District.objects.create(name="Fuzzed")
    baseline(district, valid, tmp_path / "baseline")
    folder = tmp_path / "given"
    folder.mkdir()
    for name, data in valid.files.items():  # "café-" in Latin-1, as an old zip tool writes it
        odd = name if key == "oneroster" else os.fsdecode(b"caf\xe9-" + os.fsencode(name))
        (folder / odd).write_bytes(data)
    (folder / os.fsdecode(b"caf\xe9.txt")).write_bytes(b"not an export file")
    paths = [folder] if key == "oneroster" else sorted(folder.glob("caf*-*"))
    batch = read(valid, paths)
    assert batch.errors == []
    assert records_wrong(batch) == []
    run = do_import(
        batch,
        district=district,
        source_format=valid.format,
        files=[source_file(p) for p in files_read(paths)],
    )
    assert run.status == ImportRun.Status.SUCCEEDED
