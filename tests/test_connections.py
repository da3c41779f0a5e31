"""Each kind of process keeps the connections its policy says (segflow.settings).

The dev server (`make run`'s web process) on PostgreSQL cannot exhaust the server's
connections: it starts a thread per request, and each borrows from a bounded pool. Before the
pool, each request thread kept a persistent connection: 52 to 89 of PostgreSQL's 100 under
load, then HTML 500 "too many clients already".

A Celery worker keeps its connection from task to task (segflow.celery); Celery's Django
fixup used to close it around every task, so each task paid a new PostgreSQL backend.
"""

import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from django.db import connection

from contacts.api_keys import api_key_create
from contacts.models import Contact
from segments.models import SegmentMembership
from tests.celery_worker import app_subprocess_environment
from tests.segments.test_worker_integration import BUYERS, segment_evaluated_by, wait_for

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = 200
POOL_MAX_SIZE = 4  # segflow.settings' default for the dev server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _dev_server(log: Path):
    """`manage.py runserver --noreload` as Procfile.dev starts it, on the test database."""
    port = _free_port()
    env = app_subprocess_environment(var_dir=log.parent / "var")
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _responds(f"{base}/healthz"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"The dev server did not start:\n{log.read_text()[-4000:]}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _responds(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def _send(method: str, url: str, **kwargs) -> requests.Response:
    """One request, retried when the connection is refused or reset: the dev server listens
    with a backlog of 10 (Django's WSGIServer), so the kernel turns some of 200 simultaneous
    connects away before Django sees them, as a browser would retry."""
    for _ in range(20):
        try:
            return requests.request(method, url, timeout=120, **kwargs)
        except requests.ConnectionError:
            time.sleep(0.05)
    return requests.request(method, url, timeout=120, **kwargs)


def _dev_server_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'segflow-devserver'"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_dev_server_holds_a_bounded_pool_under_200_concurrent_requests(tmp_path):
    _, raw_key = api_key_create(name="load")
    headers = {"Authorization": f"Bearer {raw_key}"}
    start = threading.Barrier(REQUESTS)

    def one_request(base: str, n: int) -> tuple[int, str, str]:
        start.wait()
        if n % 2:
            response = _send("GET", f"{base}/api/v1/contacts", headers=headers)
        else:
            response = _send(
                "POST",
                f"{base}/api/v1/contacts",
                json={"email": f"load{n}@example.com"},
                headers=headers,
            )
        return response.status_code, response.headers.get("Content-Type", ""), response.text

    samples = []
    with _dev_server(tmp_path / "runserver.log") as base:
        with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
            futures = [pool.submit(one_request, base, n) for n in range(REQUESTS)]
            while not all(future.done() for future in futures):
                samples.append(_dev_server_connections())
                time.sleep(0.01)
            wait(futures)
        results = [future.result() for future in futures]

    unexpected = [
        (status, text[:200])
        for status, content_type, text in results
        if not (200 <= status < 300 or (400 <= status < 500 and "json" in content_type))
    ]
    assert unexpected == []
    assert Contact.objects.filter(email__startswith="load").count() == REQUESTS // 2
    assert 0 < max(samples) <= POOL_MAX_SIZE, samples


def _worker_backends() -> set[tuple[int, object]]:
    """(pid, backend_start) of the worker's PostgreSQL backends, once all are idle between
    tasks; empty when it holds none."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start, state FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'segflow-worker'"
        )
        rows = cursor.fetchall()
    return {(pid, started) for pid, started, state in rows if state == "idle"}


@pytest.mark.integration
def test_a_worker_keeps_its_database_connection_from_task_to_task(api, celery_worker_process):
    # given a segment the worker evaluated, and the connection it did that with
    segment_id = segment_evaluated_by(celery_worker_process, api, "Buyers", BUYERS)
    wait_for(_worker_backends, "the worker's connection, idle", celery_worker_process)
    first = _worker_backends()

    # when an event gives it more tasks (the incremental batch, scoring, the feed)
    response = api.post(
        "/api/v1/events", {"email": "jane@example.com", "name": "purchase"}, format="json"
    )
    assert response.status_code == 202, response.content
    wait_for(
        lambda: SegmentMembership.objects.filter(segment_id=segment_id).exists(),
        "the buyer to enter",
        celery_worker_process,
    )

    # then the same backend served them and is still there, idle between tasks
    wait_for(_worker_backends, "the worker's connection, idle", celery_worker_process)
    assert len(first) == 1
    assert _worker_backends() == first
