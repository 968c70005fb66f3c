"""Rule profiles: shipped ones load, conditions keep their side of 10%, a district's own file
inherits what it does not change, and every mistake names the file and the key at fault."""

from fractions import Fraction
from pathlib import Path

import pytest

from homeroom.metrics.rules import (
    Condition,
    RuleProfileError,
    load_rule_profile,
    shipped_profiles,
)

ABSENT_FOR_ANY_REASON = frozenset({"excused", "unexcused", "oss", "partial"})
TENTH = Fraction(1, 10)


def write_profile(tmp_path: Path, name: str, text: str) -> str:
    """A district's own profile file; its path as `load_rule_profile` takes it."""
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


# A whole profile, based on nothing, that the mistakes below change one key of.
COMPLETE = """
name = "district"
minimum_days_enrolled = 10

[absence]
categories = ["excused", "unexcused"]
partial_days = "fraction"

[chronic]
when = "absence_rate >= 0.10"

[[bands]]
name = "chronic"
when = "absence_rate >= 0.10"

[[bands]]
name = "fine"

[[tiers]]
name = "tier2"
when = "absence_rate >= 0.10"

[[tiers]]
name = "tier1"
"""


# -- shipped profiles ------------------------------------------------------------------------


def test_homeroom_ships_five_profiles():
    assert shipped_profiles() == [
        "attendance-works",
        "california",
        "ed-fi-amt",
        "federal-edfacts",
        "nyc",
    ]


@pytest.mark.parametrize(
    (
        "name",
        "minimum_enrolled",
        "minimum_present",
        "counting",
        "categories",
        "partial_days",
        "strict",
    ),
    [
        # Attendance Works: any reason counts (OSS too), 10+ days, absent >= 10%.
        ("attendance-works", 10, 0, "district", ABSENT_FOR_ANY_REASON, "fraction", False),
        # EDFacts: per school, any enrolled day, a half day or more is a day absent.
        ("federal-edfacts", 1, 0, "school", ABSENT_FOR_ANY_REASON, "half_or_more", False),
        # California: more than 30 expected days (31+), full-day absences only.
        ("california", 31, 0, "district", ABSENT_FOR_ANY_REASON, "full_days_only", False),
        # NYC: 10+ days and one day present; attendance <= 90% is absence >= 10%.
        ("nyc", 10, 1, "district", ABSENT_FOR_ANY_REASON, "full_days_only", False),
        # Ed-Fi AMT: excused and unexcused only; attendance < 90% is absence > 10%.
        ("ed-fi-amt", 1, 0, "district", {"excused", "unexcused"}, "full_days_only", True),
    ],
)
def test_each_shipped_profile_loads_with_its_rules(
    name, minimum_enrolled, minimum_present, counting, categories, partial_days, strict
):
    # when the shipped profile is loaded by name
    profile = load_rule_profile(name)
    # then it is named after its file and holds its source's rules
    assert profile.name == name
    assert profile.version >= 1
    assert profile.title and profile.summary and profile.sources
    assert profile.minimum_days_enrolled == minimum_enrolled
    assert profile.minimum_days_present == minimum_present
    assert profile.counting == counting
    assert profile.absent_categories == categories
    assert profile.partial_days == partial_days
    assert profile.chronic.threshold == TENTH
    assert profile.chronic.strict is strict
    # and its last band and tier take everyone else
    assert profile.bands[-1].when is None
    assert profile.tiers[-1].when is None
    assert all(level.when is not None for level in profile.bands[:-1] + profile.tiers[:-1])


def test_the_default_profile_is_attendance_works():
    assert load_rule_profile().name == "attendance-works"


def test_attendance_works_bands_and_tiers_at_their_edges():
    profile = load_rule_profile("attendance-works")
    # satisfactory < 5%, at risk 5% to < 10%, moderate 10% to < 20%, severe 20% or more
    assert profile.level(profile.bands, Fraction(0), 20) == "satisfactory"
    assert profile.level(profile.bands, Fraction(1), 21) == "satisfactory"
    assert profile.level(profile.bands, Fraction(1), 20) == "at_risk"
    assert profile.level(profile.bands, Fraction(2), 20) == "moderate"
    assert profile.level(profile.bands, Fraction(4), 20) == "severe"
    # Tier 2 from 10%, Tier 3 from 20%
    assert profile.level(profile.tiers, Fraction(17), 180) == "tier1"
    assert profile.level(profile.tiers, Fraction(18), 180) == "tier2"
    assert profile.level(profile.tiers, Fraction(36), 180) == "tier3"


def test_ed_fi_amt_bands_are_below_88_and_80_percent_attendance():
    profile = load_rule_profile("ed-fi-amt")
    # early warning below 88% attendance (absence > 12%), at risk below 80% (absence > 20%)
    assert profile.level(profile.bands, Fraction(12), 100) == "on_track"
    assert profile.level(profile.bands, Fraction(13), 100) == "early_warning"
    assert profile.level(profile.bands, Fraction(20), 100) == "early_warning"
    assert profile.level(profile.bands, Fraction(21), 100) == "at_risk"


def test_nyc_counts_only_students_present_at_least_one_day():
    profile = load_rule_profile("nyc")
    assert not profile.is_counted(Fraction(9), 9)  # under 10 days
    assert not profile.is_counted(Fraction(12), 12)  # never present
    assert profile.is_counted(Fraction(11), 12)
    assert load_rule_profile("attendance-works").is_counted(Fraction(12), 12)


# -- conditions --------------------------------------------------------------------------------


def test_attendance_at_or_below_90_percent_is_absence_of_a_tenth_or_more():
    condition = Condition.parse("attendance_rate <= 0.90", "here")
    assert condition.threshold == TENTH
    assert condition.strict is False
    # 2/20 is exactly 90% attendance: it holds
    assert condition.holds(Fraction(2), 20)
    assert condition.holds(Fraction(18), 180)
    assert not condition.holds(Fraction(17), 180)


def test_attendance_below_90_percent_is_absence_above_a_tenth():
    condition = Condition.parse("attendance_rate < 0.90", "here")
    assert condition.threshold == TENTH
    assert condition.strict is True
    # 2/20 and 18/180 are exactly 90% attendance: not below it
    assert not condition.holds(Fraction(2), 20)
    assert not condition.holds(Fraction(18), 180)
    assert condition.holds(Fraction(19), 180)


@pytest.mark.parametrize(
    ("text", "threshold", "strict"),
    [
        ("absence_rate >= 0.10", TENTH, False),
        ("absence_rate > 0.10", TENTH, True),
        ("  absence_rate>=0.1  ", TENTH, False),
        ("attendance_rate <= 0.9", TENTH, False),
        ("attendance_rate < 0.80", Fraction(1, 5), True),
        ("absence_rate >= 0.05", Fraction(1, 20), False),
        ("absence_rate >= 1", Fraction(1), False),
        ("attendance_rate <= 1.0", Fraction(0), False),
    ],
)
def test_conditions_are_kept_as_exact_absence_fractions(text, threshold, strict):
    condition = Condition.parse(text, "here")
    assert (condition.threshold, condition.strict) == (threshold, strict)
    assert condition.text == text.strip()


def test_a_condition_never_holds_without_days_enrolled():
    assert not Condition.parse("absence_rate >= 0", "here").holds(Fraction(0), 0)


@pytest.mark.parametrize(
    "text",
    [
        "absence_rate <= 0.10",
        "absence_rate < 0.10",
        "attendance_rate >= 0.90",
        "attendance_rate > 0.9",
    ],
)
def test_a_condition_naming_the_better_side_is_refused(text):
    with pytest.raises(RuleProfileError) as refused:
        Condition.parse(text, "district.toml: chronic.when")
    message = str(refused.value)
    assert message.startswith("district.toml: chronic.when: ")
    assert text in message
    assert "picks the better side" in message
    assert "absence_rate >= or >, attendance_rate <= or <" in message


@pytest.mark.parametrize(
    "text",
    ["absence_rate >= 10%", "absence >= 0.10", "absence_rate = 0.10", "absence_rate >= -0.1", ""],
)
def test_what_is_not_a_condition_is_refused_with_an_example(text):
    with pytest.raises(RuleProfileError, match=r"^here: .* is not a condition; write e\.g\. "):
        Condition.parse(text, "here")


def test_a_rate_above_one_is_refused():
    with pytest.raises(RuleProfileError, match=r"^here: 1\.5 is not a rate between 0 and 1$"):
        Condition.parse("absence_rate >= 1.5", "here")


# -- a district's own profile ------------------------------------------------------------------


def test_a_district_profile_changes_only_what_it_names(tmp_path):
    # given a district file based on Attendance Works that changes two rules
    path = write_profile(
        tmp_path,
        "riverside",
        """
        based_on = "attendance-works"
        minimum_days_enrolled = 20

        [chronic]
        when = "absence_rate >= 0.15"
        """,
    )
    base = load_rule_profile("attendance-works")
    # when it is loaded
    profile = load_rule_profile(path)
    # then those two rules are its own
    assert profile.minimum_days_enrolled == 20
    assert profile.chronic.threshold == Fraction(15, 100)
    assert profile.chronic.strict is False
    # and everything else is Attendance Works'
    assert profile.absent_categories == base.absent_categories
    assert profile.partial_days == base.partial_days == "fraction"
    assert profile.minimum_days_present == base.minimum_days_present
    assert profile.counting == base.counting
    assert profile.bands == base.bands
    assert profile.tiers == base.tiers
    assert profile.sources == base.sources


def test_a_district_profile_merges_tables_key_by_key(tmp_path):
    # given a district file that changes only how partial days count
    path = write_profile(
        tmp_path,
        "halfdays",
        """
        based_on = "attendance-works"
        name = "halfdays"

        [absence]
        partial_days = "half_or_more"
        """,
    )
    profile = load_rule_profile(path)
    # then the absent categories of its base stay
    assert profile.partial_days == "half_or_more"
    assert profile.absent_categories == ABSENT_FOR_ANY_REASON
    assert profile.name == "halfdays"


def test_a_district_profile_can_build_on_a_profile_that_builds_on_another(tmp_path):
    # given a district file based on NYC, itself based on Attendance Works
    path = write_profile(
        tmp_path, "ours", 'based_on = "nyc"\nname = "ours"\nminimum_days_enrolled = 15\n'
    )
    profile = load_rule_profile(path)
    # then NYC's rules and Attendance Works' bands are kept
    assert profile.minimum_days_enrolled == 15
    assert profile.minimum_days_present == 1
    assert profile.partial_days == "full_days_only"
    assert profile.chronic.text == "attendance_rate <= 0.90"
    assert profile.bands == load_rule_profile("attendance-works").bands


def test_a_district_profile_without_a_name_is_not_taken_for_its_base(tmp_path):
    # given a district file that changes the threshold but gives no name
    path = write_profile(
        tmp_path,
        "riverside",
        'based_on = "attendance-works"\n[chronic]\nwhen = "absence_rate >= 0.15"\n',
    )
    # when it is loaded
    profile = load_rule_profile(path)
    # then it is named after its own file (as a profile without based_on is), not after
    # Attendance Works: every number is stamped "name@version", and a 15% rule must not
    # show as "attendance-works@1"
    assert profile.name == "riverside"


# -- mistakes name the file and the key --------------------------------------------------------


def refused(tmp_path: Path, text: str, name: str = "district") -> str:
    """The message loading this district file is refused with."""
    path = write_profile(tmp_path, name, text)
    with pytest.raises(RuleProfileError) as error:
        load_rule_profile(path)
    return str(error.value)


def test_the_complete_example_loads(tmp_path):
    profile = load_rule_profile(write_profile(tmp_path, "district", COMPLETE))
    assert profile.name == "district"
    assert profile.absent_categories == {"excused", "unexcused"}


def test_an_unknown_top_level_key_is_refused(tmp_path):
    # (top-level keys come before the first table)
    message = refused(tmp_path, "minimum_days = 5\nthreshold = 0.1\n" + COMPLETE)
    assert message == "district.toml: unknown key(s) minimum_days, threshold"


def test_an_unknown_key_in_a_based_on_file_is_refused(tmp_path):
    message = refused(tmp_path, 'based_on = "attendance-works"\nminimum_day_enrolled = 20\n')
    assert message == "district.toml: unknown key(s) minimum_day_enrolled"


@pytest.mark.parametrize(
    ("table", "typo"),
    [
        # a misspelt partial_days would silently count partial days by "fraction"
        ("absence", 'partial_day = "full_days_only"'),
        # a misspelt when would silently keep the base's threshold
        ("chronic", 'threshold = "absence_rate >= 0.15"'),
    ],
)
def test_an_unknown_key_inside_a_table_is_refused(tmp_path, table, typo):
    # given a district file whose [absence] or [chronic] table holds a misspelt key
    text = f'based_on = "attendance-works"\n[{table}]\n{typo}\n'
    # then loading it is refused, naming the file and the key (not ignored)
    message = refused(tmp_path, text)
    assert message.startswith("district.toml: ")
    assert typo.split(" ")[0] in message


def test_unknown_absence_categories_are_refused(tmp_path):
    text = COMPLETE.replace('["excused", "unexcused"]', '["excused", "truant", "sick"]')
    message = refused(tmp_path, text)
    assert message.startswith("district.toml: absence.categories: unknown sick, truant; known: ")
    assert "oss" in message


def test_empty_absence_categories_are_refused(tmp_path):
    message = refused(tmp_path, COMPLETE.replace('["excused", "unexcused"]', "[]"))
    assert message == "district.toml: absence.categories must list the absent categories"


def test_an_unknown_partial_days_rule_is_refused(tmp_path):
    message = refused(tmp_path, COMPLETE.replace('"fraction"', '"by_minutes"'))
    assert message == (
        "district.toml: absence.partial_days 'by_minutes': use one of "
        "fraction, full_days_only, half_or_more"
    )


def test_an_unknown_counting_is_refused(tmp_path):
    message = refused(tmp_path, 'counting = "state"\n' + COMPLETE)
    assert message == "district.toml: counting 'state': use district or school"


@pytest.mark.parametrize("value", ['"10"', "-1", "9.5", "true"])
def test_minimum_days_must_be_a_whole_number(tmp_path, value):
    text = COMPLETE.replace("minimum_days_enrolled = 10", f"minimum_days_enrolled = {value}")
    message = refused(tmp_path, text)
    assert message.startswith("district.toml: minimum_days_enrolled must be a whole number")


def test_a_chronic_rule_that_is_not_a_condition_is_refused(tmp_path):
    text = COMPLETE.replace(
        'when = "absence_rate >= 0.10"\n\n[[bands]]', 'when = "10%"\n\n[[bands]]', 1
    )
    message = refused(tmp_path, text)
    assert message.startswith("district.toml: chronic.when: '10%' is not a condition")


def test_a_chronic_rule_on_the_better_side_is_refused(tmp_path):
    text = 'based_on = "attendance-works"\n[chronic]\nwhen = "attendance_rate > 0.90"\n'
    message = refused(tmp_path, text)
    assert message.startswith("district.toml: chronic.when: 'attendance_rate > 0.90' picks")


def test_a_profile_without_a_chronic_rule_is_refused(tmp_path):
    text = COMPLETE.replace('[chronic]\nwhen = "absence_rate >= 0.10"\n', "")
    message = refused(tmp_path, text)
    assert message.startswith("district.toml: chronic.when: None is not a condition")


def test_a_chronic_rule_written_without_its_table_is_refused(tmp_path):
    # given the plausible slip `chronic = "..."` instead of a [chronic] table with `when`
    text = 'based_on = "attendance-works"\nchronic = "absence_rate >= 0.15"\n'
    # then it is refused as a rule profile mistake naming the file and chronic (not a crash)
    message = refused(tmp_path, text)
    assert message.startswith("district.toml: ")
    assert "chronic" in message


def test_a_last_band_with_a_condition_is_refused(tmp_path):
    # given bands where the last one has a condition: some students would fall in none
    text = COMPLETE.replace('name = "fine"', 'name = "fine"\nwhen = "absence_rate >= 0"')
    message = refused(tmp_path, text)
    assert message == "district.toml: bands #2: the last band takes everyone else: no 'when'"


def test_a_tier_other_than_the_last_without_a_condition_is_refused(tmp_path):
    text = COMPLETE.replace('name = "tier2"\nwhen = "absence_rate >= 0.10"', 'name = "tier2"')
    message = refused(tmp_path, text)
    assert message == "district.toml: tiers #1: needs 'when' (only the last one has none)"


def test_missing_tiers_are_refused(tmp_path):
    text = COMPLETE.split("[[tiers]]")[0]
    message = refused(tmp_path, text)
    assert message == "district.toml: [[tiers]] must list at least one tier"


def test_a_band_without_a_name_is_refused(tmp_path):
    text = COMPLETE.replace('name = "chronic"\n', "")
    message = refused(tmp_path, text)
    assert message == "district.toml: bands #1: needs a name"


def test_a_band_condition_that_is_not_one_is_refused(tmp_path):
    text = COMPLETE.replace(
        'name = "chronic"\nwhen = "absence_rate >= 0.10"', 'name = "chronic"\nwhen = "often"'
    )
    message = refused(tmp_path, text)
    assert message.startswith("district.toml: bands #1.when: 'often' is not a condition")


def test_a_profile_based_on_itself_is_refused(tmp_path):
    path = tmp_path / "loop.toml"
    message = refused(tmp_path, f'based_on = "{path}"\n', name="loop")
    assert message == f"loop.toml: based_on {str(path)!r} forms a loop"


def test_profiles_based_on_each_other_are_refused(tmp_path):
    # given a.toml based on b.toml and b.toml based on a.toml
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    write_profile(tmp_path, "b", f'based_on = "{first}"\n')
    message = refused(tmp_path, f'based_on = "{second}"\n', name="a")
    # then the file closing the loop is named, with its based_on
    assert message == f"b.toml: based_on {str(first)!r} forms a loop"


def test_an_unknown_profile_name_is_refused_with_the_shipped_ones():
    with pytest.raises(RuleProfileError) as error:
        load_rule_profile("attendance-work")
    message = str(error.value)
    assert message.startswith("no rule profile 'attendance-work': give a shipped name (")
    assert "attendance-works, california, ed-fi-amt, federal-edfacts, nyc" in message


def test_a_based_on_naming_no_profile_names_the_file_that_says_so(tmp_path):
    # given a district file whose based_on is misspelt
    message = refused(tmp_path, 'based_on = "attendance-work"\n')
    # then the message says which file's based_on is at fault
    assert "'attendance-work': no such profile" in message
    assert message.startswith("district.toml: based_on")


def test_a_file_that_is_not_toml_is_refused(tmp_path):
    message = refused(tmp_path, "name = \n")
    assert message.startswith("district.toml: not valid TOML: ")
