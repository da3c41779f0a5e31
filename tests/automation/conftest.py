"""Fixtures of the flow tests: a real SMTP sink on loopback, Django's SMTP backend on it, and
a real Celery worker (not started: the test starts, kills and restarts it) sending to it."""

import tempfile
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.celery_worker import CeleryWorkerProcess, _purge
from tests.smtp_sink import SmtpSink

RUN_DUE_TASK = "automation.tasks.run_due_enrollments"
FLOW_EVENTS_TASK = "automation.tasks.process_flow_events"
TRANSITIONS_TASK = "automation.tasks.consume_segment_transitions"
WAKE_TASKS = (
    RUN_DUE_TASK,
    FLOW_EVENTS_TASK,
    TRANSITIONS_TASK,
    "segments.tasks.process_contact_changes",
)
# Leases of a killed worker's sends run out this fast in the worker tests.
WORKER_LEASE_SECONDS = 2


@pytest.fixture
def smtp_sink(tmp_path):
    """An aiosmtpd server on 127.0.0.1 (a free port) keeping every message it accepts, also
    appended to `smtp_sink.log_path` as JSON lines."""
    sink = SmtpSink(log_path=tmp_path / "smtp-sink.jsonl").start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def smtp_settings(settings, smtp_sink):
    """This process sends email through Django's SMTP backend to the sink."""
    for name, value in smtp_sink.django_settings().items():
        setattr(settings, name, value)
    return smtp_sink


@pytest.fixture
def flow_worker(transactional_db, smtp_sink):
    """A Celery worker process (not started) on a queue of the test's own, sending through
    the sink, with short step leases. Publishes of this process go to its queue."""
    from segflow.celery import app
    from segflow.queue import wake_clear

    queue = f"test-{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory(prefix="flow-worker-") as log_dir:
        worker = CeleryWorkerProcess(queue=queue, log_path=Path(log_dir) / "worker.log")
        worker.env.update(smtp_sink.environment())
        worker.env["FLOW_STEP_LEASE_SECONDS"] = str(WORKER_LEASE_SECONDS)
        previous_queue = app.conf.task_default_queue
        app.conf.task_default_queue = queue
        for task in WAKE_TASKS:  # a flag left by an earlier test would swallow a wake-up
            wake_clear(task)
        try:
            yield worker
        finally:
            worker.stop()
            app.conf.task_default_queue = previous_queue
            _purge(queue)
            for task in WAKE_TASKS:
                wake_clear(task)


@contextmanager
def beat_ticks(*, every: float = 0.5):
    """Beat's part, played by the test: publish the scheduler's tick every `every` seconds
    (beat itself ticks every 5 s; its queue is not the test's)."""
    from segflow.queue import task_publish

    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(every):
            task_publish(RUN_DUE_TASK)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def flow_activated(*, name: str, definition: dict):
    """An active flow made through the flow services, as the API makes one."""
    from automation.flow_services import flow_create

    return flow_create(name=name, definition=definition, status="active")
