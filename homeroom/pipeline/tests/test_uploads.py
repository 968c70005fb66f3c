"""Uploads from the web: names made safe, lapsed uploads removed (the pages: web/tests)."""

import os
import time

import pytest

from homeroom.pipeline.uploads import UPLOAD_LIFETIME, prune_uploads, safe_file_name, uploads_root


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("absences.csv", "absences.csv"),
        ("Student Attendance (Sept).csv", "Student Attendance (Sept).csv"),
        ("../../etc/passwd", "passwd"),
        ("C:\\exports\\week 1.csv", "week 1.csv"),
        ("a;b*c?.csv", "a_b_c_.csv"),
        ("..", "upload"),
        (".hidden.csv", "hidden.csv"),
        ("élèves.csv", "élèves.csv"),
        ("x" * 300 + ".csv", "x" * 146 + ".csv"),
    ],
)
def test_uploaded_names_keep_only_safe_characters(given, kept):
    assert safe_file_name(given) == kept


def test_uploads_older_than_a_day_are_removed(settings, tmp_path):
    # given an upload of two days ago and one of an hour ago
    settings.DATA_DIR = tmp_path
    old, recent = uploads_root() / "old", uploads_root() / "recent"
    for directory, age in ((old, 2 * UPLOAD_LIFETIME.total_seconds()), (recent, 3600)):
        (directory / "files").mkdir(parents=True)
        os.utime(directory, (time.time() - age, time.time() - age))
    # when uploads are pruned
    prune_uploads()
    # then only the recent one is left
    assert sorted(p.name for p in uploads_root().iterdir()) == ["recent"]
