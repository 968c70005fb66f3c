"""Every import problem's code has words for the pages."""

import re
from pathlib import Path

from homeroom.ingest.problems import PROBLEM_LABELS, problem_label

INGEST = Path(__file__).resolve().parents[1]
RECORDED = re.compile(r"\.(?:error|finding)\(\s*\"([a-z_]+)\"")


def test_every_code_an_import_records_has_words():
    # given every code the importers and adapters record (read from their source)
    codes = {
        code
        for path in INGEST.rglob("*.py")
        if "tests" not in path.parts
        for code in RECORDED.findall(path.read_text(encoding="utf-8"))
    }
    # then each has its words (a new code must be given some)
    assert "teacher_without_account" in codes, "the pattern finds the importers' codes"
    assert codes - set(PROBLEM_LABELS) == set()


def test_a_code_reads_as_words():
    assert problem_label("teacher_without_account") == "Teacher without a Homeroom account"
    assert problem_label("some_new_code") == "Some new code"
