"""A real Celery worker process for integration tests (`@pytest.mark.integration`).

The worker runs `celery -A segflow worker` on the test's Redis broker and its own queue, with
DATABASE_URL pointing at the test database; tasks sent by the test go to that queue. Tests
that use it need committed data, hence transactional_db.
"""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def database_url_for_tests() -> str:
    database = connection.settings_dict
    user = quote(database.get("USER") or "")
    password = quote(database.get("PASSWORD") or "")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = database.get("HOST") or "127.0.0.1"
    port = database.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{quote(database['NAME'])}"


def app_subprocess_environment(*, var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of an app subprocess (a server, a child process of a test) on the test
    database, whose Celery wake-ups go to a filesystem broker of its own under `var_dir`: no
    worker reads them, and the suite's Redis stays out of it."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DATABASE_")
        and key not in {"DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL", "REDIS_URL"}
    }
    env.update(
        DATABASE_URL=database_url_for_tests(),
        SEGFLOW_VAR_DIR=str(var_dir),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


class CeleryWorkerProcess:
    """One worker subprocess (in its own process group, so a kill takes its pool too)."""

    def __init__(self, *, queue: str, log_path: Path):
        self.queue = queue
        self.log_path = log_path
        self.nodename = f"{queue}@localhost"
        self.process: subprocess.Popen | None = None
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url_for_tests(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "DJANGO_SETTINGS_MODULE": "segflow.settings",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            # What the worker publishes itself (wake-ups, follow-up tasks) stays on its queue.
            "CELERY_TASK_DEFAULT_QUEUE": queue,
        }

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log_path.open("a") as log:
            log.write(f"--- starting worker {self.nodename}\n")
            log.flush()
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "segflow",
                    "worker",
                    "--pool",
                    "prefork",
                    "--concurrency",
                    "1",
                    "-Q",
                    self.queue,
                    "-n",
                    self.nodename,
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-l",
                    "info",
                ],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        from segflow.celery import app

        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"The Celery worker exited at start-up:\n{self.log()}")
            if f"{self.nodename} ready." in self.log().rpartition("--- starting worker")[2]:
                return
            if app.control.ping(destination=[self.nodename], timeout=0.5):
                return
        self.kill()
        pytest.fail(f"The Celery worker did not answer within {READY_TIMEOUT:.0f} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the worker and its pool process, as a crash or an OOM kill would."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        """Warm shutdown (the running task finishes), then SIGKILL whatever lingers."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_TIMEOUT)
        self.kill()


def _purge(queue: str) -> None:
    from segflow.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)


@pytest.fixture
def celery_worker_process(transactional_db):
    from segflow.celery import app
    from segflow.queue import wake_clear
    from segments.scheduler import PROCESS_TASK

    queue = f"test-{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory(prefix="celery-worker-") as log_dir:
        worker = CeleryWorkerProcess(queue=queue, log_path=Path(log_dir) / "worker.log")
        previous_queue = app.conf.task_default_queue
        app.conf.task_default_queue = queue
        # A wake-up flag left by an earlier test would swallow this test's first wake-up.
        wake_clear(PROCESS_TASK)
        try:
            worker.start()
            yield worker
        finally:
            worker.stop()
            app.conf.task_default_queue = previous_queue
            _purge(queue)
            wake_clear(PROCESS_TASK)
