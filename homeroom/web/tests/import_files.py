"""Files to import in the web's import tests: small exceptions-only CSVs for the cast."""

import datetime as dt

from django.core.files.uploadedfile import SimpleUploadedFile

from homeroom.conftest import school_days as cast_school_days
from homeroom.pipeline.uploads import Upload, UploadOptions, receive_upload

PROFILE = "exceptions-only"
HEADER = "student_id,school_id,date,code,minutes"


def school_days(cast, count: int) -> list[dt.date]:
    """The first `count` school days of the cast's year."""
    return cast_school_days(cast.this_year)[:count]


def attendance_csv(rows: list[tuple[str, str, dt.date, str, str]]) -> bytes:
    """An exceptions-only attendance file: student, school, date, code, minutes per row."""
    lines = [
        HEADER,
        *(f"{s},{school},{day.isoformat()},{code},{m}" for s, school, day, code, m in rows),
    ]
    return ("\n".join(lines) + "\n").encode()


def two_absences(cast) -> bytes:
    """Ana absent on the first school day, Ben tardy 12 minutes on the second."""
    first, second = school_days(cast, 2)
    return attendance_csv([("S1", "101", first, "A", ""), ("S2", "101", second, "T", "12")])


def absence_and_unknown_code(cast) -> bytes:
    """Ana absent on the first school day, Ben on the second with a code the profile lacks (Z)."""
    first, second = school_days(cast, 2)
    return attendance_csv([("S1", "101", first, "A", ""), ("S2", "101", second, "Z", "")])


def csv_file(content: bytes, name: str = "absences.csv") -> SimpleUploadedFile:
    """An uploaded file as the form receives it."""
    return SimpleUploadedFile(name, content, content_type="text/csv")


def validated_upload(user, content: bytes) -> Upload:
    """An upload by `user` of one attendance file, with its validation report made."""
    options = UploadOptions(source_format="csv", profile=PROFILE)
    return receive_upload(user=user, options=options, files=[csv_file(content)])
