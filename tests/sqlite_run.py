"""Run test files again in a pytest of their own on a SQLite database (tests/sqlite_settings.py),
as `make run`'s embedded default would; tests marked `postgresql` are left out."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sqlite_pytest_run(paths: list[str], *, tmp_path: Path, timeout: int = 240) -> tuple[str, int]:
    """(the run's summary line, how many passed); fails the calling test if the run failed."""
    env = {key: value for key, value in os.environ.items() if key != "TEST_DATABASE_NAME"}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'segflow.sqlite3'}",
        SEGFLOW_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="tests.sqlite_settings",
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not postgresql"]
        + paths,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    return summary, int(passed.group(1)) if passed else 0
