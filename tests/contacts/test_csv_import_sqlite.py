"""The import's SQLite path (`make run`): the import tests run again on a SQLite database, in a
pytest of their own (tests/sqlite_settings.py, as tests/test_sqlite_paths.py does), where every
chunk is written row by row. Tests marked `postgresql` are left out."""

from tests.sqlite_run import sqlite_pytest_run

SQLITE_RUN = ["tests/contacts/test_csv_import.py", "tests/contacts/test_csv_import_set_based.py"]


def test_import_tests_pass_on_sqlite(tmp_path):
    summary, passed = sqlite_pytest_run(SQLITE_RUN, tmp_path=tmp_path)

    assert passed >= 35, summary
