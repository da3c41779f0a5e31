"""Incremental phase of the segment bench: a real Celery worker (and beat) on Redis, events
arriving at a steady rate, and contacts engineered to cross the segment's threshold.

Latency is measured from the commit of a contact's fifth login (an on-commit callback
registered before any other) to its `entered` row in the transitions outbox becoming visible
(polled every few milliseconds). Every loop is bounded by a count and a deadline; the worker
and beat run in their own process groups and are killed on the way out.
"""

import datetime as dt
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 60.0
POLL_SECONDS = 0.005
SETTLE_SECONDS = 10.0
LOAD_BATCHES_PER_SECOND = 10
LOAD_NAMES = ["page.viewed"] * 45 + ["login"] * 25 + ["email.opened"] * 20 + ["purchase"] * 10


class Celery:
    """`celery -A segflow worker` (or beat) as a subprocess with the bench's environment."""

    def __init__(self, *, args: list[str], env: dict[str, str], log_path: Path):
        self.log_path = log_path
        # Phases append to one log: only what this process writes says it is ready (an
        # earlier phase's "ready." line once let the load start seconds before the worker).
        self.log_start = log_path.stat().st_size if log_path.exists() else 0
        with log_path.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "segflow", *args],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery exited:\n{self.log_path.read_text()[-3000:]}")
            if text in self.log():
                return
            time.sleep(0.2)
        raise RuntimeError(f"celery not ready in {READY_TIMEOUT:.0f} s")

    def log(self) -> str:
        """What this process has written to the log so far."""
        with self.log_path.open("rb") as log:
            log.seek(self.log_start)
            return log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            # The main process only: a warm shutdown lets the pool finish its tasks (a
            # SIGTERM to the whole group killed them mid-task, logged as errors).
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def broker_purge() -> int:
    """Empty the default queue and clear the contact-changes wake-up flag: a flag left set by
    a phase that ran no worker would hold back the next phase's wake-ups (segflow.queue)."""
    from segflow.celery import app
    from segflow.queue import wake_clear
    from segments.scheduler import PROCESS_TASK

    wake_clear(PROCESS_TASK)
    with app.connection_for_write() as conn:
        return conn.default_channel.queue_purge(app.conf.task_default_queue) or 0


def engineered_contacts_create(*, count: int, now: dt.datetime) -> list[tuple[int, str]]:
    """Contacts one login short of the segment: FR or DE, plan pro, four logins in the last
    30 days, no purchase. Written directly, so no change is queued for them."""
    from contacts.models import Contact, Event

    contacts = Contact.objects.bulk_create(
        [
            Contact(
                email=f"crossing-{index}-{int(now.timestamp())}@segbench.example",
                country="FR" if index % 2 else "DE",
                fields={"plan": "pro"},
            )
            for index in range(count)
        ]
    )
    Event.objects.bulk_create(
        [
            Event(
                contact=contact,
                name="login",
                occurred_at=now - dt.timedelta(days=day),
                received_at=now,
                source="segbench",
            )
            for contact in contacts
            for day in (2, 6, 11, 20)
        ]
    )
    return [(contact.pk, contact.email) for contact in contacts]


@dataclass
class LiveResult:
    seconds: float
    loaded_events: int = 0
    load_errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    missing: int = 0
    backlog_after: int = 0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")


def live_measure(
    *,
    segment_id: int,
    crossing: list[tuple[int, str]],
    contact_count: int,
    rate: float,
    seconds: float,
) -> LiveResult:
    """Load at `rate` events/s for `seconds` while the crossing contacts get their fifth
    login one by one, evenly spread; wait up to SETTLE_SECONDS for the last transitions."""
    from django.db import close_old_connections, connection, transaction

    from contacts.ingest import EventInput, events_ingest

    stop = threading.Event()
    result = LiveResult(seconds=seconds)
    committed: dict[int, float] = {}
    seen: dict[int, float] = {}
    lock = threading.Lock()
    start = time.perf_counter() + 0.5
    batch_size = max(1, round(rate / LOAD_BATCHES_PER_SECOND))
    batches = int(seconds * LOAD_BATCHES_PER_SECOND)

    def load() -> None:
        rng = random.Random(3)
        try:
            for index in range(batches):
                if stop.is_set():
                    return
                delay = start + index / LOAD_BATCHES_PER_SECOND - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                now = dt.datetime.now(dt.UTC)
                events = [
                    EventInput(
                        name=rng.choice(LOAD_NAMES),
                        occurred_at=now,
                        email=f"person{rng.randrange(1, contact_count + 1)}@segbench.example",
                    )
                    for _ in range(batch_size)
                ]
                try:
                    events_ingest(events=events, source="segbench-load", now=now)
                    result.loaded_events += len(events)
                except Exception as exc:  # reported, the bench carries on
                    result.load_errors.append(repr(exc))
        finally:
            connection.close()

    def cross() -> None:
        interval = seconds / max(1, len(crossing))
        try:
            for index, (contact_id, email) in enumerate(crossing):
                if stop.is_set():
                    return
                delay = start + (index + 0.5) * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                now = dt.datetime.now(dt.UTC)

                def mark(contact_id=contact_id) -> None:
                    with lock:
                        committed[contact_id] = time.perf_counter()

                with transaction.atomic():
                    transaction.on_commit(mark)  # first callback: the commit itself
                    events_ingest(
                        events=[EventInput(name="login", occurred_at=now, email=email)],
                        source="segbench-probe",
                        now=now,
                    )
        finally:
            connection.close()

    def watch() -> None:
        wanted = {contact_id for contact_id, _ in crossing}
        last_id = 0
        deadline = start + seconds + SETTLE_SECONDS
        try:
            while time.perf_counter() < deadline and len(seen) < len(wanted):
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT id, contact_id FROM segments_segmenttransition "
                        "WHERE segment_id = %s AND kind = 'entered' AND id > %s ORDER BY id",
                        [segment_id, last_id],
                    )
                    rows = cursor.fetchall()
                at = time.perf_counter()
                for row_id, contact_id in rows:
                    last_id = row_id
                    if contact_id in wanted and contact_id not in seen:
                        seen[contact_id] = at
                time.sleep(POLL_SECONDS)
        finally:
            connection.close()

    close_old_connections()
    threads = [threading.Thread(target=job, daemon=True) for job in (load, cross, watch)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join(timeout=seconds + SETTLE_SECONDS + 30)
    finally:
        stop.set()
    with lock:
        for contact_id, at in committed.items():
            if contact_id in seen:
                result.latencies_ms.append((seen[contact_id] - at) * 1000)
    result.missing = len(crossing) - len(result.latencies_ms)
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(contact_count), 0) FROM segments_pendingcontactchange")
        result.backlog_after = cursor.fetchone()[0]
    return result
