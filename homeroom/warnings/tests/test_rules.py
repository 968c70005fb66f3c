"""Warning rules files: the shipped default loads; every mistake names the file and key."""

import pytest

from homeroom.warnings.rules import WarningRulesError, load_warning_rules


def test_default_rules_raise_every_flag_with_their_documented_numbers():
    rules = load_warning_rules()
    assert rules.rules["early_absences"] == {"absences": 2, "school_days": 30}
    assert rules.rules["recent_absences"] == {"absences": 3, "calendar_days": 30}
    assert rules.on("band") and rules.on("chronic_last_year") and rules.on("long_absence")


def test_a_district_file_changes_numbers_and_turns_rules_off(tmp_path):
    path = tmp_path / "ours.toml"
    path.write_text(
        'name = "ours"\ncategories = ["unexcused"]\n'
        "[recent_absences]\nabsences = 4\ncalendar_days = 45\n[band]\nenabled = false\n"
    )
    rules = load_warning_rules(str(path))
    assert rules.categories == {"unexcused"}
    assert rules.on("recent_absences") and not rules.on("band")
    assert not rules.on("early_absences")  # left out of the file: off


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[recent_absences]\nabsences = 3\n", r"ours.toml: \[recent_absences\] needs "),
        ("[recent_absences]\nabsences = 0\ncalendar_days = 30\n", r"absences must be a whole"),
        ("[weekday_pattern]\nminimum_absences = 4\nshare = 60\n", r"share must be above 0"),
        ("[worsening]\nrecent_days = 30\nratio = 0.5\nminimum_absences = 2\n", r"ratio must"),
        ("[band]\nenabled = 1\n", r"band.enabled must be true or false"),
        ("[bands]\n", r"unknown key\(s\) bands"),
        ("[band]\ncolour = 1\n", r"unknown key\(s\) band.colour"),
        ('categories = ["absent"]\n', r"unknown: absent"),
        ("version = 'one'\n", r"version must be a whole number"),
        ("[band\n", r"not valid TOML"),
    ],
)
def test_mistakes_are_reported_with_file_and_key(tmp_path, text, message):
    path = tmp_path / "ours.toml"
    path.write_text(text)
    with pytest.raises(WarningRulesError, match=message):
        load_warning_rules(str(path))


def test_an_unknown_name_lists_the_shipped_rules():
    with pytest.raises(WarningRulesError, match=r"no warning rules 'strict'.*\(default\)"):
        load_warning_rules("strict")
