"""How attendance figures are written for people: one home for pages, the CLI and reasons.

- Day counts: whole numbers when every count shown together is whole; one decimal for
  all of them when any holds a partial day, and the page (or table) says so once
  (`PARTIAL_DAYS_NOTE`), so a column never mixes "12" with "3.25".
- Rates and shares: percentages with one decimal, e.g. 0.9712 -> "97.1%".
- Changes of a rate: percentage points with a sign and one decimal, e.g. 0.0525 ->
  "+5.3 pts" (a change that rounds to nothing is "0.0 pts", unsigned).
- Counts of students, rows and the like: whole numbers with thousands separators.
- Dates: "Dec 7, 2026", as the pages' templates write them (`date:"DATE_FORMAT"`); in words
  to families, each language's own long form (`family_date`: "7 de diciembre de 2026").

Each follows the language the page is shown in (docs/languages.md): in Spanish "97,1 %",
"12 345", "7 dic 2026". The separators and date formats are the language's format module
(homeroom/core/formats); the words ("pts") its translations.

Rounding is half up, as people round by hand (2.25 -> "2.3"), not the binary float's
half-to-even. Machine-readable outputs (CSV, JSON, Parquet) are never rounded here.
"""

import datetime as dt
import functools
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import formats
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

MISSING = "—"
PARTIAL_DAYS_NOTE = _("Days include partial days (e.g. half days), to one decimal.")

# The engine sums absences in thousandths of a day: anything finer is float noise.
WHOLE_TOLERANCE = 0.0005


@functools.cache
def _language_words(language: str | None) -> tuple[dict[int, str] | None, str, str]:
    """A language's separators (as a `str.translate` table, None for Python's own) and its
    patterns for a percentage and for points.

    Looked up once per language: a night writes hundreds of thousands of figures into
    reasons and factors, and Django's lookups of the active language and its formats
    took a third of the forecast's explanations at 50,000 students (docs/benchmarks.md,
    "Early warning")."""
    thousands = formats.get_format("THOUSAND_SEPARATOR", language)
    decimal = formats.get_format("DECIMAL_SEPARATOR", language)
    table = None if (thousands, decimal) == (",", ".") else {ord(","): thousands, ord("."): decimal}
    return table, gettext("{number}%"), gettext("{number} pts")


@receiver(setting_changed)
def _forget_language_words(**kwargs) -> None:
    """Settings changed (tests do): the formats may have too."""
    _language_words.cache_clear()


def _localized(number: str) -> str:
    """A number written with Python's separators ("12,345.6") in the page's language's."""
    table = _language_words(get_language())[0]
    return number if table is None else number.translate(table)


def _rounded(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def _decimal(value: float | int) -> Decimal:
    # repr is the shortest text that reads back as the float, so 2.25 stays 2.25 (not
    # 2.2499999999999998...) and half up rounds it up.
    return Decimal(repr(float(value)))


def is_whole(value: float | int) -> bool:
    """Whether a day count holds no partial day."""
    return abs(value - round(value)) < WHOLE_TOLERANCE


def day_places(values: Iterable[float | int | None]) -> int:
    """Decimals for day counts shown together: 0 if all are whole, else 1."""
    return 0 if all(is_whole(v) for v in values if v is not None) else 1


def days(value: float | int | None, places: int | None = None) -> str:
    """A number of days, e.g. 19817.95 -> "19,818.0" beside partial days, "3" among whole.

    Without `places`, the value alone decides (a sentence naming one count).
    """
    if value is None:
        return MISSING
    if places is None:
        places = day_places([value])
    return _localized(f"{_rounded(_decimal(value), places):,.{places}f}")


def percent(share: float | None) -> str:
    """A share (0 to 1) as a percentage with one decimal, e.g. 0.13846 -> "13.8%"."""
    if share is None:
        return MISSING
    table, pattern, _points = _language_words(get_language())
    number = f"{_rounded(_decimal(share) * 100, 1):.1f}"
    return pattern.format(number=number if table is None else number.translate(table))


def points(change: float | None) -> str:
    """A change of a share as signed percentage points, e.g. 0.0525 -> "+5.3 pts"; a fall
    takes a minus sign (U+2212), as typeset text does, not a hyphen."""
    if change is None:
        return MISSING
    pattern = _language_words(get_language())[2]
    value = _rounded(_decimal(change) * 100, 1)
    if value == 0:
        return pattern.format(number=_localized("0.0"))
    sign = "+" if value > 0 else "\u2212"  # a minus sign, not a hyphen
    return pattern.format(number=f"{sign}{_localized(f'{abs(value):.1f}')}")


def count(value: int | None) -> str:
    """A whole count with thousands separators, e.g. 12345 -> "12,345"."""
    if value is None:
        return MISSING
    return _localized(f"{value:,}")


def date(value: dt.date | None) -> str:
    """A date as pages write it, e.g. 2026-12-07 -> "Dec 7, 2026" ("7 dic 2026" in Spanish)."""
    if value is None:
        return MISSING
    return formats.date_format(value, "DATE_FORMAT")


# Homeroom's language codes (roster.Language) as CLDR locales, where they differ.
CLDR_LOCALES = {"zh": "zh_Hans", "tl": "fil"}
# CLDR has no month names of its own for Haitian Creole (it would print French ones).
HAITIAN_MONTHS = [
    "janvye",
    "fevriye",
    "mas",
    "avril",
    "me",
    "jen",
    "jiyè",
    "out",
    "septanm",
    "oktòb",
    "novanm",
    "desanm",
]


def family_date(value: dt.date, language: str) -> str:
    """A date as a letter or message to a family writes it, in the family's language
    (CLDR's long form through Babel): "December 7, 2026", "7 de diciembre de 2026",
    "2026年12月7日", "7 ديسمبر 2026". An unknown language gets the English form."""
    from babel.core import UnknownLocaleError
    from babel.dates import format_date

    if language == "ht":
        return f"{value.day} {HAITIAN_MONTHS[value.month - 1]} {value.year}"
    try:
        return format_date(value, "long", locale=CLDR_LOCALES.get(language, language))
    except (UnknownLocaleError, ValueError):
        return format_date(value, "long", locale="en")
