"""The installed command explains configuration mistakes instead of printing a traceback."""

import os
import subprocess
import sys


def test_unsupported_database_url_is_explained(tmp_path):
    env = os.environ | {
        "DATABASE_URL": "mysql://root@localhost/x",
        "HOMEROOM_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "homeroom", "check"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "DATABASE_URL 'mysql' is not supported" in result.stderr
    assert "Traceback" not in result.stderr
