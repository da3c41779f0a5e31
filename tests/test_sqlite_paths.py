"""The embedded default (`make run` on SQLite) runs its own code paths for real: the compiler,
event ingestion and the membership diff tests run again on a SQLite database, in a pytest of
their own (tests/sqlite_settings.py), rather than on PostgreSQL with a faked vendor.

Tests marked `postgresql` check PostgreSQL itself (its SQL text, plans, locks, query counts)
and are left out of that run.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQLITE_RUN = [
    "tests/segments/test_compiler.py",
    "tests/contacts/test_ingest.py",
    "tests/segments/test_evaluation.py",
    "tests/segments/test_sqlite_drain.py",
    "tests/segments/test_feed.py",
    "tests/segments/test_contact_deletion.py",
    "tests/automation/test_enrollment.py",
    "tests/automation/test_triggers.py",
    "tests/automation/test_segment_triggers.py",
    "tests/automation/test_sending.py",  # messages_prepare's insert-then-render path
    "tests/scoring/test_event_rules.py",
]


def test_compiler_ingest_and_diff_tests_pass_on_sqlite(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "TEST_DATABASE_NAME"}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'segflow.sqlite3'}",
        SEGFLOW_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="tests.sqlite_settings",
    )

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "not postgresql"] + SQLITE_RUN,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )

    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 100, summary
    assert "skipped" not in summary, summary
