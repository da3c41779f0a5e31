"""`make run`'s stack on the embedded default, for real: Procfile.dev started by honcho with
no DATABASE_URL or CELERY_BROKER_URL, so SQLite (WAL) and kombu's filesystem transport.

A CSV uploaded to the web process is imported by the worker, beat's schedule reaches the
worker, and SIGINT (Ctrl-C) stops all three processes.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from django.conf import settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WAIT = 90.0
CSV = "email,first_name,last_name\nann@example.com,Ann,Lee\nbob@example.com,Bob,Marsh\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(what: str, check, log: Path):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    pytest.fail(f"Gave up waiting for {what}. Processes' output:\n{log.read_text()[-6000:]}")


def _embedded_env(var_dir: Path) -> dict[str, str]:
    """The environment of `make run` on a fresh checkout: no database or broker URL."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "TEST_DATABASE_NAME"}
    }
    env.update(
        SEGFLOW_VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="tests.embedded_settings",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return env


@contextmanager
def _honcho(env: dict[str, str], log: Path):
    """Procfile.dev under honcho, as `make run` starts it; yields (base URL, process)."""
    port = _free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(BIN / "honcho"), "--no-colour", "--procfile", "Procfile.dev", "start"],
            cwd=ROOT,
            env={**env, "PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for("the web process", lambda: _responds(f"{base}/healthz"), log)
        _wait_for("the worker", lambda: "ready." in log.read_text(), log)
        yield base, process
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to honcho, which stops its children (each in its own session): a SIGKILL to
    honcho alone would orphan them."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def running_stack(tmp_path_factory):
    """One stack shared by the tests that only watch it; yields (base URL, log, API key)."""
    tmp = tmp_path_factory.mktemp("embedded")
    env = _embedded_env(tmp / "var")
    created = subprocess.run(
        [sys.executable, "manage.py", "create_api_key", "embedded"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    api_key = created.stdout.strip().splitlines()[-1]
    log = tmp / "honcho.log"
    with _honcho(env, log) as (base, _):
        yield base, log, api_key


def _responds(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def test_a_csv_uploaded_to_the_web_process_is_imported_by_the_worker(running_stack):
    base, log, api_key = running_stack
    headers = {"Authorization": f"Bearer {api_key}"}

    upload = requests.post(
        f"{base}/api/v1/imports",
        headers=headers,
        files={"file": ("people.csv", CSV, "text/csv")},
        timeout=10,
    )

    assert upload.status_code == 202, upload.text
    url = f"{base}/api/v1/imports/{upload.json()['id']}"

    def finished():
        body = requests.get(url, headers=headers, timeout=5).json()
        return body if body["status"] in {"done", "failed"} else None

    result = _wait_for("the import to finish", finished, log)
    assert (result["status"], result["created_count"]) == ("done", 2)
    contacts = requests.get(f"{base}/api/v1/contacts", headers=headers, timeout=5).json()
    assert {c["email"] for c in contacts["results"]} == {"ann@example.com", "bob@example.com"}
    assert re.search(r"worker\.1 .*Task contacts\.tasks\.\w+\[.*\] succeeded", log.read_text())


def _scheduled_runs_after_beat_started_sending(output: str) -> int:
    """Worker successes of scheduled tasks logged after beat's first send. Some scheduled
    tasks are also sent by the web process, so earlier successes prove nothing."""
    tasks = "|".join(re.escape(e["task"]) for e in settings.CELERY_BEAT_SCHEDULE.values())
    first_send = re.search(rf"beat\.1 .*Scheduler: Sending due task \S+ \(({tasks})\)", output)
    if first_send is None:
        return 0
    done = re.compile(rf"worker\.1 .*Task ({tasks})\[[^\]]+\] succeeded")
    return len(done.findall(output, first_send.end()))


def test_beat_schedule_reaches_the_worker(running_stack):
    _, log, _ = running_stack

    # Every entry is due each second here (tests/embedded_settings.py): beat keeps sending.
    runs = _wait_for(
        "beat's tasks to run",
        lambda: (n := _scheduled_runs_after_beat_started_sending(log.read_text())) >= 3 and n,
        log,
    )

    assert runs >= 3


def test_ctrl_c_stops_web_worker_and_beat(tmp_path):
    log = tmp_path / "honcho.log"
    with _honcho(_embedded_env(tmp_path / "var"), log) as (_, process):
        # A terminal's Ctrl-C signals honcho's process group; honcho stops its children.
        os.killpg(process.pid, signal.SIGINT)

        _wait_for("honcho to exit", lambda: process.poll() is not None, log)

    output = log.read_text()
    for name in ("web.1", "worker.1", "beat.1"):
        assert f"{name} stopped" in output
