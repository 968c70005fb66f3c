"""The vocabulary every adapter shares: grade names, yes/no words, the widths records hold,
and the dates any record may carry.

One grade map serves all formats. Each format accepts the names its standard writes (an
Ed-Fi GradeLevelDescriptor, a CEDS grade code in OneRoster, the short words of a CSV
export) and reports any other, as docs/import*.md say; the grade a name means is settled
here once.
"""

import datetime as dt
from collections.abc import Iterable

# A date outside these is a typing slip (0001-01-01, 9999-12-31), in every format alike.
DATES_ACCEPTED = (dt.date(1900, 1, 1), dt.date(2100, 12, 31))
DATES_HINT = "Write dates between 1900 and 2100."


def date_accepted(day: dt.date) -> bool:
    """Whether a record may carry this date (DATES_ACCEPTED)."""
    return DATES_ACCEPTED[0] <= day <= DATES_ACCEPTED[1]


ORDINALS = (
    *("first", "second", "third", "fourth", "fifth", "sixth"),
    *("seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth"),
)
# Every grade name a source writes (lower case): pre-K is -1, K is 0.
GRADES: dict[str, int | None] = {
    **dict.fromkeys(
        (
            "infant/toddler",
            "preschool/prekindergarten",
            "prekindergarten",
            "pre-kindergarten",
            "preschool",
            "early education",
            "pk",
            "prek",
            "pre-k",
            "tk",
        ),
        -1,
    ),
    **dict.fromkeys(("kindergarten", "k", "kg", "kn"), 0),
    **{f"{word} grade": n for n, word in enumerate(ORDINALS, start=1)},
    **{str(n): n for n in range(1, 13)},
    **{f"{n:02d}": n for n in range(1, 13)},
    **{f"grade {n}": n for n in range(1, 13)},
    # Known values that name no grade 1-12: skipped in a school's span, an error for a student.
    **dict.fromkeys(
        ("ungraded", "postsecondary", "adult education", "other", "thirteenth grade"), None
    ),
}


def grades_named(names: Iterable[str]) -> dict[str, int | None]:
    """The grade map for the names a format accepts, keyed as that format spells them."""
    return {name: GRADES[name.lower()] for name in names}


# Ed-Fi GradeLevelDescriptor code values: every name but the SIS short words and CEDS's TK.
EDFI_GRADE_LEVELS = grades_named(n for n in GRADES if n not in {"prek", "pre-k", "kn", "tk"})
# CEDS grade codes (OneRoster `grades`), compared upper case.
CEDS_GRADE_CODES = grades_named(
    ("PK", "TK", "KG", *(f"{n:02d}" for n in range(1, 13)), *(str(n) for n in range(1, 13)))
)
# The words a CSV profile takes for pre-K and K (numbers -1 to 12 are read as numbers).
SIS_GRADE_WORDS = grades_named(("PK", "PREK", "PRE-K", "K", "KG", "KN"))

# Yes and no as sources write them (lower case); a CSV profile also takes a check mark "x".
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})

# The widths of the columns records become: a longer value would fail in the database.
LIMITS = {
    "local_id": 40,
    "state_id": 40,
    "school_year": 20,
    "name": 100,
    "school_name": 200,
    "title": 200,
    "code": 20,
    "period": 20,
    "description": 200,
    "reason": 200,
    "calendar_code": 40,
    "exit_reason": 100,
    "phone": 30,
    "email": 254,
    "address": 200,
    "city": 100,
    "state": 2,
    "postal": 10,
    # Ed-Fi's InterventionIdentificationCode holds 60 characters; a name as a title does.
    "intervention_code": 60,
    "intervention_name": 200,
}
