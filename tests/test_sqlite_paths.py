"""The embedded default (`make run` on SQLite) runs its own code paths for real: the compiler,
event ingestion and the membership diff tests run again on a SQLite database, in a pytest of
their own (tests/sqlite_settings.py), rather than on PostgreSQL with a faked vendor.

Tests marked `postgresql` check PostgreSQL itself (its SQL text, plans, locks, query counts)
and are left out of that run.
"""

from tests.sqlite_run import sqlite_pytest_run

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
    summary, passed = sqlite_pytest_run(SQLITE_RUN, tmp_path=tmp_path)

    assert passed >= 100, summary
    assert "skipped" not in summary, summary
