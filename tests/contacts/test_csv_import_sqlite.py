"""The import's SQLite path (`make run`): the import tests run again on a SQLite database, in a
pytest of their own (tests/sqlite_settings.py, as tests/test_sqlite_paths.py does), where every
chunk is written row by row. Tests marked `postgresql` are left out."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SQLITE_RUN = ["tests/contacts/test_csv_import.py", "tests/contacts/test_csv_import_set_based.py"]


def test_import_tests_pass_on_sqlite(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "TEST_DATABASE_NAME"}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'segflow.sqlite3'}",
        SEGFLOW_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="tests.sqlite_settings",
    )

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not postgresql"]
        + SQLITE_RUN,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )

    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 35, summary
