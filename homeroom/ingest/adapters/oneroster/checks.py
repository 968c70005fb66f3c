"""Values read from OneRoster rows with their checks, shared by every entity's reader.

A value that is missing, too long, not a date or flag, or names an unknown (or deleted)
object is recorded on the batch with its file, line and column, and `Skip` ends the row:
it yields no record. Rows marked tobedeleted, with a bad status or a repeated sourcedId
are passed over by `live`, and what they name is remembered so references to them are
explained rather than reported as unknown.
"""

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterator
from typing import NoReturn

from homeroom.ingest.adapters.oneroster.files import Row, Table, shown
from homeroom.ingest.adapters.vocabulary import DATES_HINT, date_accepted
from homeroom.ingest.records import Batch, Where

DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DATE_HINT = f"OneRoster dates are written YYYY-MM-DD. {DATES_HINT}"
# Where each kind of object `ref` looks up is defined, for the hint when one is unknown.
FILE_OF = {
    "org": "orgs.csv",
    "session": "academicSessions.csv",
    "user": "users.csv",
    "class": "classes.csv",
}


class Skip(Exception):
    """The row in hand has a problem (already recorded) and yields no record."""


def listed(value: str) -> list[str]:
    """A OneRoster list field ("a,b,c") as its non-empty items."""
    return [item.strip() for item in value.split(",") if item.strip()]


class RowChecks:
    """Reads checked values from rows into one batch; remembers rows skipped, by kind."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.deleted: dict[str, set[str]] = defaultdict(set)
        self.bad: dict[str, set[str]] = defaultdict(set)

    def fail(
        self, code: str, message: str, where: Where, value: str = "", hint: str = ""
    ) -> NoReturn:
        """Record an error about the row in hand and skip the row."""
        self.batch.error(code, message, where, value=shown(value), hint=hint)
        raise Skip

    def text(self, row: Row, column: str, length: int, *, required: bool = False) -> str:
        """A column's value, no longer than `length` (and not empty, if required)."""
        value = row[column]
        if required and not value:
            self.fail("missing_value", f"{column} is empty", row.where(column))
        if len(value) > length:
            self.fail(
                "too_long",
                f"{column} is longer than {length} characters",
                row.where(column),
                value,
                "Shorten the value in the source system.",
            )
        return value

    def date(self, row: Row, column: str, *, required: bool = False) -> dt.date | None:
        """A column's YYYY-MM-DD date; None when empty (unless required)."""
        value = row[column]
        if not value:
            if required:
                self.fail("missing_value", f"{column} is empty", row.where(column), hint=DATE_HINT)
            return None
        try:
            if not DATE.fullmatch(value):
                raise ValueError(value)
            day = dt.date.fromisoformat(value)
            if not date_accepted(day):
                raise ValueError(value)
            return day
        except ValueError:
            self.fail("bad_date", f"{column} is not a date", row.where(column), value, DATE_HINT)

    def flag(self, row: Row, column: str) -> bool:
        """A column's true or false (empty is false)."""
        value = row[column].lower()
        if value not in ("true", "false", ""):
            self.fail(
                "bad_value",
                f"{column} is not true or false",
                row.where(column),
                row[column],
                "OneRoster flags are written true or false.",
            )
        return value == "true"

    def ref[T](self, kind: str, known: dict[str, T], row: Row, column: str, value: str) -> T:
        """The object `value` names, or skip the row saying why it cannot be found."""
        if value in known:
            return known[value]
        if not value:
            self.fail("missing_value", f"{column} is empty", row.where(column))
        if value in self.deleted[kind]:
            self.batch.finding(
                "refers_to_deleted",
                f"refers to a {kind} marked tobedeleted, so the row is skipped",
                row.where(column),
                value=shown(value),
            )
            raise Skip
        if value in self.bad[kind]:
            raise Skip  # the row it names has an error of its own, already listed
        self.fail(
            f"unknown_{kind}",
            f"unknown {kind}",
            row.where(column),
            value,
            f"Add the {kind} to {FILE_OF[kind]} or fix the id.",
        )

    def live(self, table: Table, kind: str, key: str = "sourcedId") -> Iterator[tuple[str, Row]]:
        """Rows to read: tobedeleted rows skipped with a finding, ids present and unique."""
        self.bad[kind] |= table.damaged
        seen: set[str] = set()
        for row in table.rows:
            status, sid = row["status"].lower(), row[key]
            if status == "tobedeleted":
                self.batch.finding(
                    "deleted_row",
                    "the row is marked tobedeleted, so it is skipped",
                    row.where("status"),
                    value=shown(sid),
                )
                self.deleted[kind].add(sid)
                continue
            if status not in ("", "active"):
                self.batch.error(
                    "bad_value",
                    "status is neither active nor tobedeleted",
                    row.where("status"),
                    value=shown(row["status"]),
                )
                self.bad[kind].add(sid)
                continue
            if not sid:
                self.batch.error("missing_value", f"{key} is empty", row.where(key))
                continue
            if key == "sourcedId":
                if sid in seen:
                    self.batch.error(
                        "duplicate_id",
                        "another row of the file has this sourcedId",
                        row.where(key),
                        value=shown(sid),
                        hint="Each sourcedId may appear once per file.",
                    )
                    continue
                seen.add(sid)
            yield sid, row
