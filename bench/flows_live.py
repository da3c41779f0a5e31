"""End-to-end phase of the flows bench: PostgreSQL, Redis, a real Celery worker (2 processes)
and beat, and an SMTP sink on loopback in a process of its own.

Two active flows send at once: "cart" (event cart.updated -> send the abandoned-cart email)
and "hot lead" (segment lead_score >= 80 entered -> send an email). This process ingests
cart.updated events for new contacts at a steady rate (the ingest service, as the API does)
and, beside them, raises contacts' lead_score over the threshold one by one. Latency runs from
the commit of the event (or of the score change: an on-commit callback registered first) to
the sink accepting the email for that contact (the sink's clock, the same machine's).
"""

import datetime as dt
import random
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.flows_template import HTML, SUBJECT, TEXT, cart_properties
from bench.segments_live import Celery, broker_purge

REPO = Path(__file__).resolve().parent.parent
BATCHES_PER_SECOND = 20
SETTLE_SECONDS = 30.0
AUTOMATION_TASKS = (
    "automation.tasks.run_due_enrollments",
    "automation.tasks.process_flow_events",
    "automation.tasks.consume_segment_transitions",
)


@dataclass
class Latencies:
    sent: int = 0
    millis: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.millis)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    @property
    def p50(self) -> float:
        return statistics.median(self.millis) if self.millis else float("nan")

    @property
    def missing(self) -> int:
        return self.sent - len(self.millis)


@dataclass
class LiveResult:
    rate: float
    seconds: float
    events: Latencies
    segment: Latencies
    load_seconds: float  # how long posting the events took (== seconds when the rate held)


class SinkProcess:
    def __init__(self, log: Path):
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.smtp_sink", "--log", str(log)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline().split()
        if line[:1] != ["port"]:
            self.stop()
            raise RuntimeError("the SMTP sink did not start")
        self.port = int(line[1])

    def received(self) -> dict[str, float]:
        """First arrival time per recipient."""
        from tests.smtp_sink import messages_read

        arrivals: dict[str, float] = {}
        for message in messages_read(self.log):
            for recipient in message.rcpt_tos:
                arrivals.setdefault(recipient, message.received_at)
        return arrivals

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def flows_create(*, now: dt.datetime) -> None:
    """The two flows, active, through the segment and flow services."""
    from automation.flow_services import flow_create
    from automation.models import EmailTemplate
    from segments.evaluation import segment_evaluate
    from segments.services import segment_create

    cart = EmailTemplate.objects.create(name="Bench cart", subject=SUBJECT, html=HTML, text=TEXT)
    hot = EmailTemplate.objects.create(
        name="Bench hot lead",
        subject="A note for {{ contact.first_name | default('you') }}",
        html="<p>Hi {{ contact.first_name | default('there') }}, a person will call you.</p>"
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    )
    segment = segment_create(
        name="Bench hot leads",
        conditions={"type": "field", "field": "lead_score", "op": "gte", "value": 80},
    )
    segment_evaluate(segment=segment, now=now)
    for name, trigger, template in (
        ("Bench cart", {"type": "event", "event": "cart.updated"}, cart),
        ("Bench hot lead", {"type": "segment_entered", "segment": segment.pk}, hot),
    ):
        flow_create(
            name=name,
            definition={
                "trigger": trigger,
                "reentry": "never",
                "steps": [{"id": "email", "type": "send_email", "template": template.pk}],
            },
            status="active",
        )


def leads_create(count: int) -> list[tuple[int, str]]:
    from contacts.models import Contact

    contacts = Contact.objects.bulk_create(
        [Contact(email=f"lead{i}@flowbench.example", first_name="Lin") for i in range(count)]
    )
    return [(contact.pk, contact.email) for contact in contacts]


def live_phase(
    *, env: dict[str, str], var_dir: Path, rate: float, seconds: float, leads: int
) -> LiveResult:
    from django.db import close_old_connections, connection, transaction

    from contacts.ingest import EventInput, events_ingest
    from contacts.models import Contact
    from contacts.services import contact_update
    from segflow.queue import wake_clear

    flows_create(now=dt.datetime.now(dt.UTC))
    lead_contacts = leads_create(leads)
    sink = SinkProcess(var_dir / "sink.jsonl")
    worker_env = {
        **env,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(sink.port),
        "EMAIL_USE_TLS": "false",
    }
    broker_purge()
    for task in AUTOMATION_TASKS:
        wake_clear(task)
    log = var_dir / "celery.log"
    worker = Celery(
        args=["worker", "--concurrency", "2", "--without-gossip", "--without-mingle", "-l", "info"],
        env=worker_env,
        log_path=log,
    )
    beat = Celery(args=["beat", "-l", "info"], env=worker_env, log_path=var_dir / "beat.log")
    events, segment = Latencies(), Latencies()
    load_took: list[float] = []
    committed: dict[str, float] = {}
    lock = threading.Lock()

    def mark(email: str) -> None:
        at = time.time()
        with lock:
            committed[email] = at

    def load() -> None:
        rng = random.Random(5)
        per_second = min(float(BATCHES_PER_SECOND), rate)
        per_batch = max(1, round(rate / per_second))
        start = time.perf_counter()
        try:
            for index in range(int(seconds * per_second)):
                delay = start + index / per_second - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                now = dt.datetime.now(dt.UTC)
                batch = [
                    EventInput(
                        name="cart.updated",
                        occurred_at=now,
                        email=f"cart{index}-{n}@flowbench.example",
                        properties=cart_properties(rng, index * per_batch + n),
                    )
                    for n in range(per_batch)
                ]
                try:
                    with transaction.atomic():
                        for item in batch:
                            transaction.on_commit(lambda email=item.email: mark(email))
                        events_ingest(events=batch, source="flowbench", now=now)
                    events.sent += len(batch)
                except Exception as exc:  # reported; the bench carries on
                    events.errors.append(repr(exc))
            load_took.append(time.perf_counter() - start)
        finally:
            connection.close()

    def raise_scores() -> None:
        interval = seconds / max(1, len(lead_contacts))
        start = time.perf_counter()
        try:
            for index, (contact_id, email) in enumerate(lead_contacts):
                delay = start + (index + 0.5) * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                try:
                    with transaction.atomic():
                        transaction.on_commit(lambda email=email: mark(email))
                        contact = Contact.objects.get(pk=contact_id)
                        contact_update(contact=contact, values={"lead_score": 90})
                    segment.sent += 1
                except Exception as exc:
                    segment.errors.append(repr(exc))
        finally:
            connection.close()

    try:
        worker.wait_for("ready.")
        beat.wait_for("beat: Starting")
        close_old_connections()
        threads = [threading.Thread(target=job, daemon=True) for job in (load, raise_scores)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 60)
        expected = len(committed)
        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline and len(sink.received()) < expected:
            time.sleep(0.5)
        arrivals = sink.received()
    finally:
        beat.stop()
        worker.stop()
        sink.stop()
    for email, at in committed.items():
        if email in arrivals:
            bucket = events if email.startswith("cart") else segment
            bucket.millis.append((arrivals[email] - at) * 1000)
    return LiveResult(
        rate=rate,
        seconds=seconds,
        events=events,
        segment=segment,
        load_seconds=load_took[0] if load_took else float("nan"),
    )
