"""segflow.settings on SQLite (DATABASE_URL=sqlite:///...), for the selected tests that run the
embedded default's code paths for real (tests/test_sqlite_paths.py). Nothing else differs."""

from segflow.settings import *  # noqa: F403

# tests/conftest.py refuses any database but PostgreSQL unless a settings module says this.
TESTS_ON_SQLITE = True
