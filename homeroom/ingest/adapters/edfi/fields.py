"""Typed access to an Ed-Fi item's fields: each value checked, and reported where it is wrong."""

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from homeroom.ingest.adapters.edfi.descriptors import (
    DATE,
    YEAR_SPAN,
    code_value,
    descriptor_key,
    digits,
)
from homeroom.ingest.adapters.edfi.resources import Item, Ref, Value
from homeroom.ingest.adapters.vocabulary import (
    DATES_HINT,
    FALSE_WORDS,
    LIMITS,
    TRUE_WORDS,
    date_accepted,
)
from homeroom.ingest.records import Batch, Where


class ItemFields:
    """Reads an item's fields as text, dates, years, numbers, flags and descriptors.

    A bad value never raises: it is recorded on `batch` with its file, line and element,
    and the accessor answers None (or False where "present but invalid" must be told apart).
    """

    def __init__(self) -> None:
        self.batch = Batch()
        self.ids: dict[str, dict[str, str]] = {}  # element id -> its identity values

    def references_known(self, item: Item) -> bool:
        """Whether every `ref` of an item (and its entries) names an element already read."""
        for found in item.values.values():
            if isinstance(found, Ref) and found.name not in self.ids.get(found.ref, {}):
                return False
        return all(self.references_known(e) for entries in item.lists.values() for e in entries)

    def value(self, item: Item, name: str, *, required: bool = False) -> Value | None:
        """A field's value (references resolved); a missing required field is an error."""
        found = item.values.get(name)
        if isinstance(found, Ref):
            target = self.ids.get(found.ref)
            if target is None or found.name not in target:
                self.batch.error(
                    "unknown_reference",
                    f"{item.element} refers to an element id that no file read defines",
                    found.where,
                    value=found.ref,
                    hint=f"Include the file that holds the element with id {found.ref!r}.",
                )
                return None
            found = Value(target[found.name], found.where)
        if found is None and required:
            column = item.columns.get(name, name)
            self.batch.error(
                "missing_element",
                f"{item.element} without {column}",
                Where(item.where.file, item.where.line, column),
                hint=f"Every {item.element} needs {column}; export it again with that element.",
            )
        return found

    def text(self, item: Item, name: str, *, required: bool = False, limit: str = "") -> str | None:
        """A field's text; None when missing (an error if required) or longer than allowed."""
        found = self.value(item, name, required=required)
        if found is None:
            return None
        if limit and len(found.text) > LIMITS[limit]:
            self.batch.error(
                "too_long",
                f"value longer than the {LIMITS[limit]} characters Homeroom keeps",
                found.where,
                value=found.text[:80],
                hint="Shorten the value in the source system.",
            )
            return None
        return found.text

    def date(self, item: Item, name: str, *, required: bool = False) -> dt.date | bool | None:
        """A field's date; False when present but not a valid date (reported)."""
        found = self.value(item, name, required=required)
        if found is None:
            return None
        match = DATE.match(found.text)
        try:
            day = dt.date(*map(int, match.groups()[:3])) if match else None
        except ValueError:
            day = None
        if day is None or not date_accepted(day):
            self.batch.error(
                "bad_date",
                "not a valid date",
                found.where,
                value=found.text,
                hint=f"Write dates as YYYY-MM-DD, e.g. 2021-08-31. {DATES_HINT}",
            )
            return False
        return day

    def school_year(self, item: Item, name: str, *, required: bool = False) -> str | bool | None:
        """A SchoolYear ("2021-2022", or the API's 2022) as Homeroom's name; False if invalid."""
        found = self.value(item, name, required=required)
        if found is None:
            return None
        text = found.text.strip()
        if len(text) == 4 and (number := digits(text)) is not None:
            return f"{number - 1}-{text}"
        span = YEAR_SPAN.match(text)
        if span and int(span[2]) == int(span[1]) + 1:
            return text
        self.batch.error(
            "bad_school_year",
            "not a school year",
            found.where,
            value=text,
            hint='Write the school year as "2021-2022" (XML) or 2022 (API).',
        )
        return False

    def number(self, item: Item, name: str, low: Decimal, high: Decimal) -> Decimal | bool | None:
        """A decimal field within [low, high]; False when present but invalid (reported)."""
        found = self.value(item, name)
        if found is None:
            return None
        try:
            number = Decimal(found.text.strip())
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or not low <= number <= high:
            self.batch.error(
                "bad_number",
                f"not a number from {low} to {high}",
                found.where,
                value=found.text,
                hint="Fix the value in the source system.",
            )
            return False
        return number

    def flag(self, item: Item, name: str) -> bool | None:
        """A boolean field (true/false/1/0); None when missing or not a boolean (reported)."""
        found = self.value(item, name)
        if found is None:
            return None
        text = found.text.strip().lower()
        if text in TRUE_WORDS or text in FALSE_WORDS:
            return text in TRUE_WORDS
        self.batch.error(
            "bad_boolean",
            "not true or false",
            found.where,
            value=found.text,
            hint="Use true/false.",
        )
        return None

    def descriptor(
        self, item: Item, name: str, table: dict, what: str, *, required: bool = False
    ) -> tuple[object, str] | None:
        """Look a descriptor's CodeValue up in `table`: (meaning, CodeValue), or None (reported)."""
        found = self.value(item, name, required=required)
        if found is None:
            return None
        key = descriptor_key(found.text)
        if key in table:
            return table[key], code_value(found.text)
        known = ", ".join(sorted({code_value(k) for k in table}))
        self.batch.error(
            "unknown_descriptor",
            f"unknown {what} descriptor value",
            found.where,
            value=found.text,
            hint=f"Homeroom maps these {what} values: {known}. Map the local value to one of them.",
        )
        return None

    def items_text(self, items: Iterable[Item], name: str) -> list[Value]:
        """The values of one field over repeated entries."""
        values = (self.value(entry, name) for entry in items)
        return [v for v in values if v is not None]

    def end_before_begin(self, item: Item, name: str, begin: dt.date, end: dt.date) -> None:
        """Report an end date before its begin date."""
        found = self.value(item, name)
        self.batch.error(
            "end_before_begin",
            f"{item.element} ends before it begins",
            found.where if found else item.where,
            value=f"{begin} .. {end}",
            hint="Fix the dates in the source system.",
        )
