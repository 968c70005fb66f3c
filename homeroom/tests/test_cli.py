"""`homeroom --help`: Homeroom's commands first, grouped and described; Django's apart."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_homeroom(*args: str) -> subprocess.CompletedProcess:
    """The `homeroom` command as a person runs it, in a process of its own."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "homeroom.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("args", [(), ("help",), ("--help",), ("-h",)])
def test_help_lists_homerooms_commands_first_grouped_and_described(args):
    # when a newcomer asks for help
    result = run_homeroom(*args)
    # then Homeroom's commands come first, under headings, one line each with what it does
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.index("Try Homeroom:") < text.index("Django's commands")
    assert "  demo                 Set up a demo: migrate the database" in text
    assert "  import               Import a district's export" in text
    assert text.index("Import data and run the nightly work:") < text.index("  nightly ")
    assert text.index("Early warning:") < text.index("  risk ")
    # and Django's own commands are under their heading, after Homeroom's
    django_part = text[text.index("Django's commands") :]
    assert "migrate" in django_part and "createsuperuser" in django_part
    assert "  migrate " not in text[: text.index("Django's commands")]


def test_help_for_one_command_is_djangos():
    result = run_homeroom("help", "generate")
    assert result.returncode == 0, result.stderr
    assert "usage: homeroom generate" in result.stdout


def test_dev_demo_help_answers_before_anything_is_installed(tmp_path):
    # given a fresh copy of the dev script, with no virtual environment beside it
    script = tmp_path / "dev"
    script.write_text((ROOT / "dev").read_text(encoding="utf-8"), encoding="utf-8")
    # when a newcomer asks it for the demo's help
    result = subprocess.run(
        ["bash", str(script), "demo", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    # then it answers with the demo's options at once, and installed nothing
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ./dev demo [--students N]")
    assert "--rebuild" in result.stdout
    assert not (tmp_path / ".venv").exists()
