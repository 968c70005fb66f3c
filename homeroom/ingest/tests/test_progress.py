"""Progress of `homeroom import`: bytes read per reader, stages of the sync, the bars on stderr."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from openpyxl import Workbook
from tqdm import tqdm

from homeroom.core.models import District
from homeroom.ingest.formats import FORMATS, ReadOptions, files_read
from homeroom.ingest.progress import CountingReader, ReadProgress
from homeroom.ingest.records import Batch, StudentRecord, Where
from homeroom.ingest.sync import IMPORT_STAGES, do_import
from homeroom.ingest.tests.adapters.test_edfi import grand_bend, write_api_json
from homeroom.ingest.tests.adapters.test_oneroster import write_export
from homeroom.ingest.tests.adapters.test_tabular import (
    BATCH1,
    SMALL_PROFILE,
    SMALL_ROWS,
)

OEA_BATCH2 = BATCH1.parent / "batch2"
SMALL_FILES = [BATCH1 / "studentdemographics.csv", OEA_BATCH2 / "studentattendance.csv"]


def total_size(paths: list[Path]) -> int:
    """The bytes of the files the paths stand for, as the command's bar counts them."""
    return sum(f.stat().st_size for f in files_read(paths))


def counted(read_format: str, paths: list[Path], **options) -> tuple[Batch, list[int]]:
    """Read the paths in a format, keeping each count progress was given."""
    steps: list[int] = []
    batch = FORMATS[read_format].read(
        paths, ReadOptions(progress=ReadProgress(steps.append), **options)
    )
    return batch, steps


def import_command(*args: str, **options) -> tuple[str, str]:
    """Run `homeroom import` with stdout and stderr captured: (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command("import", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def district(db) -> District:
    return District.objects.create(name="Contoso", timezone="America/Los_Angeles")


# -- counting bytes --------------------------------------------------------------------------


def test_the_counting_reader_counts_every_byte_read(tmp_path):
    # given a file of 9,000 bytes in lines
    path = tmp_path / "lines.txt"
    path.write_bytes(b"".join(b"%04d 678\n" % n for n in range(1000)))
    steps: list[int] = []
    # when it is read in pieces, by lines, and through a text layer
    with io.BufferedReader(CountingReader(io.FileIO(path), steps.append), 4096) as handle:
        head = handle.read(100)
        lines = list(handle)
    with io.TextIOWrapper(io.BufferedReader(CountingReader(io.FileIO(path), steps.append))) as text:
        text.read()
    # then every byte counts once per read, as it came, and the data is unchanged
    assert head + b"".join(lines) == path.read_bytes()
    assert sum(steps) == 2 * 9000
    assert len(steps) > 2 and 0 not in steps


def test_a_file_counts_its_size_whether_read_partly_twice_or_not_at_all(tmp_path):
    # given a file of 1 MB and progress counting into lists
    size = 1 << 20
    path = tmp_path / "data.bin"
    path.write_bytes(b"x" * size)
    steps: list[int] = []
    progress = ReadProgress(steps.append)
    # when one reading stops early
    with progress.file(path), progress.open_counted(path) as handle:
        handle.read(1000)
    # then what was read counts as it came (a buffer's worth), the rest when the file ends
    assert len(steps) == 2 and steps[0] < size and sum(steps) == size
    # when a second reading reads the file twice
    steps.clear()
    with progress.file(path):
        for _ in range(2):
            with progress.open_counted(path) as handle:
                handle.read()
    # then it counts the file's size, never more
    assert sum(steps) == size
    # when a third reads nothing of it
    steps.clear()
    with progress.file(path):
        pass
    # then the file counts whole when it ends
    assert steps == [size]
    # and bytes read outside a file count nothing
    with progress.open_counted(path) as handle:
        handle.read()
    assert steps == [size]


def test_without_a_watcher_files_open_plainly(tmp_path):
    # given progress nobody watches
    path = tmp_path / "data.bin"
    path.write_bytes(b"abc")
    progress = ReadProgress()
    # when a file is opened and read through it
    with progress.file(path), progress.open_counted(path) as handle:
        data = handle.read()
    # then it is an ordinary file, and nothing breaks
    assert data == b"abc"
    assert isinstance(handle, io.BufferedReader) and not isinstance(handle.raw, CountingReader)


# -- every reader counts its files -----------------------------------------------------------


def test_csv_is_counted_as_it_is_read():
    # given the OEA export's attendance file, 1.5 MB
    path = BATCH1 / "studentattendance.csv"
    # when it is read with progress
    batch, steps = counted("csv", [path], profile="oea-contoso")
    # then the count reaches its size in steps, the first long before the end
    assert sum(steps) == path.stat().st_size
    assert len(steps) > 1 and steps[0] < path.stat().st_size
    assert batch == FORMATS["csv"].read([path], ReadOptions(profile="oea-contoso"))


def test_edfi_xml_is_counted_as_it_is_read():
    # given the Grand Bend students interchange (280 KB) and a small descriptor file
    paths = grand_bend("Student.xml", "AttendanceEventCategoryDescriptor.xml")
    # when they are read with progress
    batch, steps = counted("edfi-xml", paths)
    # then the count reaches their size, the first file in many steps as the parser reads
    assert sum(steps) == total_size(paths)
    assert len(steps) > 2
    assert batch == FORMATS["edfi-xml"].read(paths, ReadOptions())


def test_edfi_json_xlsx_and_oneroster_count_each_file_once_read(tmp_path):
    # given Ed-Fi API files, a workbook and a OneRoster export with a file it does not read
    json_files = write_api_json(grand_bend("EducationOrganization.xml"), tmp_path)
    workbook = Workbook()
    for row in SMALL_ROWS:
        workbook.active.append(row)
    workbook.save(tmp_path / "roster.xlsx")
    folder = write_export(tmp_path / "export")
    (folder / "notes.txt").write_text("not part of the export")
    profile = tmp_path / "district.toml"
    profile.write_text(SMALL_PROFILE, encoding="utf-8")
    # when each is read with progress
    cases = [
        ("edfi-json", json_files, {}),
        ("xlsx", [tmp_path / "roster.xlsx"], {"profile": str(profile)}),
        ("oneroster", [folder], {}),
    ]
    for read_format, paths, options in cases:
        _batch, steps = counted(read_format, paths, **options)
        # then the count is the files' total, a directory's files included
        assert sum(steps) == total_size(paths), read_format


# -- the sync engine's stages ----------------------------------------------------------------


def test_the_sync_engine_tells_each_stage_as_it_begins(district):
    # given a batch of two students, and nothing for the other stages
    def two_students() -> Batch:
        return Batch(
            students=[
                StudentRecord("S1", "Ana", "Alvarez", 3, Where("students.csv", 2)),
                StudentRecord("S2", "Ben", "Brooks", 4, Where("students.csv", 3)),
            ]
        )

    stages: list[str] = []
    without = do_import(
        two_students(), district=district, source_format="test", files=[], dry_run=True
    )
    # when it is imported with on_stage
    run = do_import(
        two_students(), district=district, source_format="test", files=[], on_stage=stages.append
    )
    # then every stage was told, in order, even those with nothing to do
    assert stages == list(IMPORT_STAGES)
    # and the import is what it is without on_stage
    assert run.status == without.status == "succeeded"
    assert run.counts == without.counts
    assert run.counts["students"]["inserted"] == 2


# -- the command's bars ----------------------------------------------------------------------


def test_the_command_shows_bytes_read_and_stages_on_stderr(district):
    # given two files of the OEA export, 5.2 KB together
    size = tqdm.format_sizeof(total_size(SMALL_FILES), divisor=1024)
    # when they are imported with the default verbosity
    out, err = import_command(
        "csv", *map(str, SMALL_FILES), "--profile", "oea-contoso", "--district", "Contoso"
    )
    # then stderr shows the reading bar reaching both files' size, and every stage
    assert "reading: 100%" in err
    assert f"{size}/{size}" in err
    for stage in IMPORT_STAGES:
        assert f"importing {stage}:" in err
    assert "imported: 100%" in err
    assert "7/7" in err
    # and stdout holds the report alone
    assert out.startswith("Import run ")
    assert "%|" not in out and "\r" not in out


def test_json_output_is_valid_and_has_no_bar(district):
    # when the files are imported with --json
    out, err = import_command(
        "csv", *map(str, SMALL_FILES), "--profile", "oea-contoso", "--district", "Contoso", "--json"
    )
    # then stdout is the run as JSON and nothing else, and no bar is shown
    assert json.loads(out)["status"] == "succeeded"
    assert "%|" not in out
    assert err == ""


def test_verbosity_zero_shows_no_bar(district):
    # when the files are imported with -v 0
    out, err = import_command(
        "csv",
        *map(str, SMALL_FILES),
        "--profile",
        "oea-contoso",
        "--district",
        "Contoso",
        verbosity=0,
    )
    # then the report is printed and nothing of a bar
    assert out.startswith("Import run ")
    assert err == ""
