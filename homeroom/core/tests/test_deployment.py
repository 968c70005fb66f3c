"""The production configuration docs/deployment.md gives passes `homeroom check --deploy`."""

import os
import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[3] / "docs" / "deployment.md"


def documented_settings() -> dict[str, str]:
    """The environment file docs/deployment.md tells an installer to write."""
    text = DOCS.read_text(encoding="utf-8")
    block = re.search(r"<!-- production-settings:.*?-->\n```ini\n(.*?)```", text, re.S)
    assert block, "docs/deployment.md has its production settings block"
    lines = [line for line in block[1].splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def check_deploy(tmp_path, settings: dict[str, str]) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HOMEROOM_", "DATABASE_", "DJANGO_"))
    }
    env |= settings | {"HOMEROOM_DATA_DIR": str(tmp_path)}  # not the documented /srv path
    return subprocess.run(
        [sys.executable, "-m", "homeroom", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
    )


def test_the_documented_production_settings_pass_check_deploy(tmp_path):
    result = check_deploy(tmp_path, documented_settings())
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_without_https_the_check_names_what_is_missing(tmp_path):
    # given the documented settings but HTTPS
    settings = documented_settings()
    del settings["HOMEROOM_HTTPS"]
    # then the check fails, naming HSTS, the redirect and both cookies
    result = check_deploy(tmp_path, settings)
    assert result.returncode == 1
    for check in ("W004", "W008", "W012", "W016"):
        assert f"security.{check}" in result.stderr
