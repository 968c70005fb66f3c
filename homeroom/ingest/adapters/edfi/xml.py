"""Ed-Fi interchange XML (Data Standard 3 to 5): streamed element by element into the mapping.

Each top-level element of an interchange becomes an `Item` by the XML paths of `RESOURCES`;
an element with an `id` is remembered so others can refer to it by `ref`. A file that is not
well-formed (truncated, damaged) contributes nothing but its error.
"""

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from homeroom.ingest.adapters.edfi.facts import Facts
from homeroom.ingest.adapters.edfi.reader import Reader, file_name, read_file
from homeroom.ingest.adapters.edfi.resources import RESOURCES, Field, Item, Ref, Value
from homeroom.ingest.limits import over_rows, refuse_file
from homeroom.ingest.progress import ReadProgress
from homeroom.ingest.records import Where

INTERCHANGES = {
    "InterchangeEducationOrganization",
    "InterchangeEducationOrgCalendar",
    "InterchangeDescriptors",
    "InterchangeStudent",
    "InterchangeStudentEnrollment",
    "InterchangeStudentAttendance",
    "InterchangeStudentProgram",
    "InterchangeContact",
    "InterchangeParent",
    "InterchangeStudentParent",
    "InterchangeStudentIntervention",
    "InterchangeMasterSchedule",
    "InterchangeStaffAssociation",
    "InterchangeStudentCohort",
    "InterchangeStudentGrade",
    "InterchangeStudentTranscript",
    "InterchangeAssessmentMetadata",
    "InterchangeStudentAssessment",
    "InterchangeStudentGradebook",
    "InterchangeStudentDiscipline",
    "InterchangeFinance",
    "InterchangeSurvey",
    "InterchangeStandards",
    "InterchangePostSecondaryEvent",
}
NAMESPACE = re.compile(r"^http://ed-fi\.org/(0[3-5]\d\d|[3-5](\.\d+){0,2})$")
IDENTITY = {
    "StudentUniqueId",
    "ContactUniqueId",
    "ParentUniqueId",
    "SchoolId",
    "CalendarCode",
    "SchoolYear",
    "SessionName",
    "SectionIdentifier",
    "InterventionIdentificationCode",
}


def _local(tag: object) -> str:
    """An element's local name (no namespace); '' for comments and processing instructions."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _children(element: etree._Element, name: str) -> Iterable[etree._Element]:
    """The child elements with a local name."""
    return (child for child in element if _local(child.tag) == name)


def _xml_find(element: etree._Element, path: str) -> tuple[etree._Element | None, etree._Element]:
    """The element at `path` (or None) and the deepest element reached on the way."""
    head, _, deep = path.partition("//")
    current = element
    for name in head.split("/") if head else []:
        if name == ".":
            continue
        child = next(_children(current, name), None)
        if child is None:
            return None, current
        current = child
    if deep:
        found = next((e for e in current.iter() if _local(e.tag) == deep), None)
        return found, current
    return current, current


def _xml_item(element: etree._Element, name: str, fields: tuple[Field, ...], file: str) -> Item:
    """An Item from an XML element, by the XML paths of `fields`."""
    item = Item(name, Where(file, element.sourceline or 0, name))
    for spec in fields:
        item.columns[spec.name] = spec.xml[0].rpartition("/")[2].replace(".", name)
        if spec.many:
            head, _, last = spec.xml[0].rpartition("/")
            parent = _xml_find(element, head)[0] if head else element
            entries = list(_children(parent, last)) if parent is not None else []
            item.lists[spec.name] = [_xml_item(e, last, spec.many, file) for e in entries]
            continue
        for path in spec.xml:
            found, reached = _xml_find(element, path)
            column = path.rpartition("/")[2] if path != "." else name
            if found is not None:
                text = (found.text or "").strip()
                if text:
                    where = Where(file, found.sourceline or item.where.line, column)
                    item.values[spec.name] = Value(text, where)
                    break
            elif reached is not element and reached.get("ref"):
                where = Where(file, reached.sourceline or item.where.line, _local(reached.tag))
                item.values[spec.name] = Ref(reached.get("ref"), column, where)
                break
    return item


def _identity(element: etree._Element) -> dict[str, str]:
    """The identity values of an element others may refer to by its id."""
    found: dict[str, str] = {}
    for e in element.iter():
        name = _local(e.tag)
        if name in IDENTITY and name not in found and e.text and e.text.strip():
            found[name] = e.text.strip()
    return found


class _Unnamed:
    """A binary stream without a `name`: lxml encodes a file's name as the document's base
    URL, and raises on a name that is not UTF-8."""

    def __init__(self, handle: BinaryIO):
        self.read = handle.read


def read_xml(reader: Reader, path: Path, progress: ReadProgress) -> None:
    """Read one interchange file into the reader; a damaged file contributes only its error."""
    name = file_name(path)

    def parse(facts: Facts) -> bool:
        try:
            with progress.open_counted(path) as handle:
                return _parse_xml(reader, _Unnamed(handle), name, facts)
        except etree.XMLSyntaxError as exc:
            line, column = exc.position if exc.position else (exc.lineno or 0, 0)
            reader.batch.error(
                "bad_xml",
                f"not well-formed XML at line {line}, column {column}: {exc.msg}",
                Where(name, line or 0),
                hint="The file is damaged or truncated; export it again. Nothing of it was read.",
            )
            return False

    read_file(reader, path, parse)


def _parse_xml(reader: Reader, handle: BinaryIO, file: str, facts: Facts) -> bool:
    """Stream an interchange, mapping each top-level element; False if the root is wrong."""
    events = etree.iterparse(
        handle,
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    depth, root, skipped, records = 0, None, Counter(), 0
    for event, element in events:
        if event == "start":
            depth += 1
            if depth == 1:
                root = element
                if not _root_ok(reader, element, file):
                    return False
            continue
        depth -= 1
        if depth != 1:
            continue
        records += 1
        if over_rows(records):
            refuse_file(reader.batch, file, f"has more than {records - 1:,} records")
            return False
        name = _local(element.tag)
        if element.get("id"):
            reader.ids[element.get("id")] = _identity(element)
        if name in RESOURCES:
            reader.map_item(_xml_item(element, name, RESOURCES[name], file), facts)
        elif name:
            skipped[name] += 1
        element.clear()
        while element.getprevious() is not None:
            del root[0]
    _report_skipped(reader, file, skipped)
    return True


def _root_ok(reader: Reader, root: etree._Element, file: str) -> bool:
    """Whether the root is an Ed-Fi interchange of a known Data Standard (reported if not)."""
    name = _local(root.tag)
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    where = Where(file, root.sourceline or 1, name)
    if name not in INTERCHANGES:
        reader.batch.error(
            "unknown_interchange",
            "the root element is not an Ed-Fi interchange Homeroom knows",
            where,
            value=name,
            hint="Give Ed-Fi interchange files (InterchangeStudentAttendance, ...) to this format.",
        )
        return False
    if not NAMESPACE.match(namespace):
        reader.batch.error(
            "unknown_namespace",
            "the interchange is not in an Ed-Fi Data Standard 3, 4 or 5 namespace",
            where,
            value=namespace,
            hint='Export with xmlns="http://ed-fi.org/5.2.0" (or the 3.x/4.x namespace).',
        )
        return False
    return True


def _report_skipped(reader: Reader, file: str, skipped: Counter) -> None:
    """One finding per file for the elements Homeroom does not read."""
    if skipped:
        reader.batch.finding(
            "elements_not_read",
            "elements Homeroom does not use were skipped",
            Where(file, 0),
            value=", ".join(f"{name} x{count}" for name, count in sorted(skipped.items())),
        )
