"""Test harness: the suite runs on PostgreSQL and Redis, never on substitutes.

If either is unreachable the run stops at once with how to start it (exit code 3), so CI can
never pass by skipping.
"""

import os
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from contacts.api_keys import api_key_create
from tests.celery_worker import celery_worker_process  # noqa: F401 (fixture for all tests)

START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def pytest_configure(config):
    database = settings.DATABASES["default"]
    on_sqlite = getattr(settings, "TESTS_ON_SQLITE", False)  # tests/test_sqlite_paths.py
    if on_sqlite:
        assert database["ENGINE"] == "django.db.backends.sqlite3", "DATABASE_URL=sqlite:///..."
    elif database["ENGINE"] != "django.db.backends.postgresql":
        pytest.exit(
            "The test suite runs on PostgreSQL: run it with `make test`, or set DATABASE_URL "
            "to postgres://postgres@127.0.0.1:5432/segflow.",
            returncode=3,
        )
    host, port = database.get("HOST") or "127.0.0.1", int(database.get("PORT") or 5432)
    if not on_sqlite and not _reachable(host, port):
        pytest.exit(
            f"PostgreSQL is not reachable at {host}:{port}. Start it: {START_POSTGRES}",
            returncode=3,
        )
    broker = urlparse(settings.CELERY_BROKER_URL)
    if broker.scheme != "redis":
        pytest.exit(
            "The test suite needs Redis as the Celery broker: run `make test`, or set "
            "CELERY_BROKER_URL=redis://127.0.0.1:6379/9.",
            returncode=3,
        )
    if not _reachable(broker.hostname or "127.0.0.1", broker.port or 6379):
        pytest.exit(
            f"Redis is not reachable at {broker.hostname}:{broker.port}. Start it: {START_REDIS}",
            returncode=3,
        )
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _celery_eager_unless_integration(request):
    """Unit tests run tasks inline; tests marked `integration` use a real worker process."""
    from segflow.celery import app

    eager = request.node.get_closest_marker("integration") is None
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _no_flow_watches_an_event_yet():
    """Every test starts on a database without flows: tell the flows' per-process cache of
    watched event names so (automation.trigger_watch; saving a flow resets it), so pinned
    query counts on the ingest path never depend on when an earlier test last read it."""
    import time

    from automation import trigger_watch

    trigger_watch._cache = (time.monotonic() + 3600, frozenset())
    yield
    trigger_watch.watched_reset()


@pytest.fixture(autouse=True)
def _no_scoring_rule_watches_yet():
    """The same for scoring's cache (scoring.rule_watch): tests start as if no rule were
    active, whatever the shipped default rules; saving a rule, or tests/scoring, resets it."""
    import time

    from scoring import rule_watch

    rule_watch._cache = (time.monotonic() + 3600, rule_watch.Watched())
    yield
    rule_watch.watched_reset()


@pytest.fixture
def api_key(db):
    _, raw_key = api_key_create(name="tests")
    return raw_key


@pytest.fixture
def api(api_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client
