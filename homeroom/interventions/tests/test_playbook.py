"""The playbook file: the default reads, writing reads back, mistakes name line and field."""

import pytest

from homeroom.interventions.playbook import (
    PlaybookError,
    default_playbook,
    read_playbook,
    write_playbook,
)


def test_the_default_playbook_covers_the_domains_barriers_and_tiers():
    playbook = default_playbook()
    assert {b.key for b in playbook.barriers} >= {
        "transportation",
        "health",
        "housing",
        "caring-for-siblings",
        "work",
        "bullying-safety",
        "disengagement",
        "family-crisis",
        "misconceptions",
    }
    assert {t for i in playbook.interventions for t in i.tiers} == {1, 2, 3}


def test_a_written_playbook_reads_back_the_same():
    playbook = default_playbook()
    assert read_playbook(write_playbook(playbook)) == playbook


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version = \nname = 1", "not valid TOML: Invalid value (at line 1, column 11)"),
        ("colour = 1", "playbook: unknown field(s) colour"),
        ('[[barriers]]\nkey = "a b"\nname = "A"', "line 1: barriers[1].key: 'a b' must be"),
        ('[[barriers]]\nkey = "a"\nname = ""', "line 1: barriers[1].name: is required"),
        (
            '[[barriers]]\nkey = "a"\nname = "A"\n\n[[barriers]]\nkey = "a"\nname = "B"',
            "line 5: barriers[2].key: 'a' is listed twice",
        ),
        (
            '[[interventions]]\nkey = "x"\nname = "X"\ntiers = [2]\nbarriers = ["nope"]',
            "line 1: interventions[1].barriers: unknown barrier(s) nope",
        ),
        (
            '[[interventions]]\nkey = "x"\nname = "X"\ntiers = [2]\ntypical_weeks = 60',
            "line 1: interventions[1].typical_weeks: must be from 1 to 52 weeks",
        ),
        (
            '[[interventions]]\nkey = "x"\nname = "X"\ntiers = [2]\ntypical_weeks = "six"',
            "line 1: interventions[1].typical_weeks: must be a whole number",
        ),
        (
            '[[interventions]]\nkey = "x"\nname = 3\ntiers = [2]',
            "line 1: interventions[1].name: must be text",
        ),
        (
            '[[interventions]]\nkey = "x"\nname = "X"\ntiers = [2]\nbarriers = "a"',
            "line 1: interventions[1].barriers: must list barrier keys",
        ),
        (
            '[[interventions]]\nkey = "x"\nname = "X"\ntiers = [2]\n[[interventions]]\n'
            'key = "x"\nname = "Y"\ntiers = [3]',
            "line 5: interventions[2].key: 'x' is listed twice",
        ),
        ("barriers = 3", "barriers: write each entry as [[barriers]]"),
        (
            '[[barriers]]\nkey = "a"\nname = "A"\nrank = 1',
            "line 1: barriers[1]: unknown field(s) rank",
        ),
    ],
)
def test_a_mistake_is_reported_with_its_line_and_field(text, message):
    with pytest.raises(PlaybookError) as error:
        read_playbook(text)
    assert str(error.value).startswith(message)
