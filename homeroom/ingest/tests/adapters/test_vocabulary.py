"""The shared vocabulary: one grade map, and the names each format accepts from it."""

from homeroom.ingest.adapters.vocabulary import (
    CEDS_GRADE_CODES,
    EDFI_GRADE_LEVELS,
    GRADES,
    SIS_GRADE_WORDS,
)


def test_each_format_reads_its_own_grade_names_with_the_grades_of_the_one_map():
    # given the grade names each standard writes
    formats = (EDFI_GRADE_LEVELS, CEDS_GRADE_CODES, SIS_GRADE_WORDS)

    # then every name means the grade the one map gives it
    for names in formats:
        assert all(grade == GRADES[name.lower()] for name, grade in names.items())
    # and a name stays with the standard that writes it, as the import docs say
    assert CEDS_GRADE_CODES["TK"] == -1 and "tk" not in EDFI_GRADE_LEVELS
    assert "TK" not in SIS_GRADE_WORDS and SIS_GRADE_WORDS["KN"] == 0
    assert EDFI_GRADE_LEVELS["tenth grade"] == 10 and EDFI_GRADE_LEVELS["ungraded"] is None
    assert "K" not in CEDS_GRADE_CODES
