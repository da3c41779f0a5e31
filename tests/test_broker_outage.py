"""With the broker down, writes keep answering: the work is durable in PostgreSQL, a failed
wake-up publish is logged and skipped, and the sweep catches up once the broker is back."""

import socket
import subprocess
import time
import uuid

import kombu.pools
import pytest

from contacts.models import Event
from segflow.celery import app
from segflow.queue import task_publish
from segments import tasks
from segments.evaluation import segment_evaluate
from segments.models import PendingContactChange, Segment
from segments.services import segment_create

STARTUP_TIMEOUT = 10.0


class RedisServer:
    """A redis-server of the test's own on a free port, killed as an outage would."""

    def __init__(self, directory):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def queued(self, queue: str) -> int:
        import redis

        return redis.Redis(port=self.port).llen(queue)


def _drop_broker_connections() -> None:
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    # kombu keeps its pools by broker URL: forget the closed ones, or later publishes of
    # this process would acquire from them ("Acquire on closed pool").
    kombu.pools.reset()


@pytest.fixture
def own_broker(tmp_path, transactional_db):
    """Publishes of this process go to a Redis of the test's own, on a queue of its own
    (after real commits: hence transactional_db)."""
    server = RedisServer(tmp_path)
    server.start()
    queue = f"test-outage-{uuid.uuid4().hex[:8]}"
    previous_queue = app.conf.task_default_queue
    _drop_broker_connections()
    app.conf.broker_write_url, app.conf.task_default_queue = server.url, queue
    try:
        yield server, queue
    finally:
        server.kill()
        _drop_broker_connections()
        app.conf.broker_write_url, app.conf.task_default_queue = None, previous_queue


@pytest.mark.integration
def test_a_broker_outage_answers_every_write_and_segments_converge(api, own_broker):
    server, queue = own_broker
    buyers = segment_create(
        name="Buyers", conditions={"type": "event", "event": "purchase", "op": "performed"}
    )
    segment_evaluate(segment=buyers, now=buyers.created_at)
    statuses, acknowledged = [], 0

    def post(round_number: int) -> None:
        nonlocal acknowledged
        single = api.post(
            "/api/v1/events",
            {"email": f"c{round_number % 7}@example.com", "name": "purchase"},
            format="json",
        )
        statuses.append(single.status_code)
        acknowledged += single.status_code == 202
        batch = [
            {"email": f"b{round_number}-{i}@example.com", "name": "purchase"} for i in range(5)
        ]
        response = api.post("/api/v1/events/batch", {"events": batch}, format="json")
        statuses.append(response.status_code)
        if response.status_code == 202:
            assert response.json() == {"accepted": 5, "duplicates": 0, "rejected": []}
            acknowledged += 5

    # given a steady load, with the broker up
    for round_number in range(5):
        post(round_number)
    assert server.queued(queue) >= 1  # wake-ups reached the broker
    # when the broker dies under that load
    server.kill()
    started = time.monotonic()
    for round_number in range(5, 25):
        post(round_number)
    outage_writes = time.monotonic() - started

    # then every write was answered and every acknowledged event is stored, once
    assert set(statuses) == {202}
    assert Event.objects.count() == acknowledged == 25 * 6
    assert outage_writes < 20  # no write waited long on the dead broker
    assert PendingContactChange.objects.exists()  # the work is waiting, durably

    # and once the broker is back, the sweep (beat's) brings the segment up to date
    server.start()
    assert task_publish("segments.tasks.sweep_contact_changes")
    tasks.sweep_contact_changes()
    assert not PendingContactChange.objects.exists()
    buyers = Segment.objects.get(pk=buyers.pk)
    assert buyers.size == 7 + 25 * 5
