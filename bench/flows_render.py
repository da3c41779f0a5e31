"""Send-pipeline phase of the flows bench, in this one process (a worker process's share).

Three rates over the same abandoned-cart template and the same carts:
* raw: Jinja2 alone (a SandboxedEnvironment, templates compiled once), subject + HTML + text;
* floor: raw render plus building Django's EmailMultiAlternatives and handing batches of 100
  to the backend (what any sender must do at least);
* pipeline: Segflow's own path, automation.sending's messages_prepare (a batch's Message rows, their
  rendering, in the engine's kind of transaction) then messages_deliver (the backend, the
  sent record and the email.sent event), one batch of 100 at a time, against the locmem
  backend and against an SMTP sink on loopback.

The SMTP sink runs in a process of its own (a worker does not host its mail server), and the
floor is measured against it too: raw render + EmailMultiAlternatives + Django's SMTP backend
over one connection, the least any sender through that server pays.
"""

import datetime as dt
import random
import time
from dataclasses import dataclass

from bench.flows_template import FIRST_NAMES, HTML, SUBJECT, TEXT, cart_properties

BATCH = 100


@dataclass
class RenderResult:
    raw_per_second: float
    floor_per_second: float
    html_bytes: int
    pipeline_locmem: float | None = None
    floor_smtp: float | None = None
    pipeline_smtp: float | None = None


WARM_UP = 200


def contexts(count: int) -> list[dict]:
    rng = random.Random(8)
    return [
        {
            "contact": {"first_name": rng.choice(FIRST_NAMES), "email": f"c{i}@bench.example"},
            "event": {
                "name": "cart.updated",
                "properties": cart_properties(rng, i),
                "occurred_at": dt.datetime(2026, 11, 29, 3, 0, tzinfo=dt.UTC),
            },
            "flow": {"id": 1, "name": "Abandoned cart"},
            "unsubscribe_url": f"https://segflow.example/u/{i:08d}.Zm9vYmFyYmF6cXV4",
            "preferences_url": f"https://segflow.example/p/{i:08d}.Zm9vYmFyYmF6cXV4",
        }
        for i in range(count)
    ]


def _compiled():
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
    return env.from_string(SUBJECT), env.from_string(HTML), env.from_string(TEXT)


def raw_render(count: int) -> tuple[float, int]:
    """Emails per second rendered by Jinja2 alone, and the size of one HTML body."""
    subject, html, text = _compiled()
    items = contexts(count)
    started = time.perf_counter()
    for context in items:
        subject.render(context), html.render(context), text.render(context)
    elapsed = time.perf_counter() - started
    return count / elapsed, len(html.render(items[0]).encode())


def backend_floor(
    count: int,
    *,
    backend: str = "django.core.mail.backends.locmem.EmailBackend",
    host: str = "",
    port: int = 0,
) -> float:
    """Emails per second: raw render + EmailMultiAlternatives + `backend` (one connection)."""
    from django.core import mail

    subject, html, text = _compiled()
    items = contexts(count)
    options = {"host": host, "port": port, "use_tls": False} if host else {}
    connection = mail.get_connection(backend, **options)
    started = time.perf_counter()
    for offset in range(0, count, BATCH):
        messages = []
        for context in items[offset : offset + BATCH]:
            message = mail.EmailMultiAlternatives(
                subject=subject.render(context),
                body=text.render(context),
                from_email="Shop <shop@bench.example>",
                to=[context["contact"]["email"]],
                headers={"List-Unsubscribe": f"<{context['unsubscribe_url']}>"},
            )
            message.attach_alternative(html.render(context), "text/html")
            message.message()  # serialised, as a real backend does
            messages.append(message)
        connection.send_messages(messages)
    elapsed = time.perf_counter() - started
    mail.outbox = []
    return count / elapsed


def _enrollments(count: int, tag: str) -> tuple[list, dict]:
    """`count` enrollments of an active cart flow on its send step, each with its cart event."""
    from automation.flow_services import flow_create
    from automation.models import EmailTemplate, Enrollment
    from contacts.models import Contact, Event

    now = dt.datetime.now(dt.UTC)
    template = EmailTemplate.objects.create(
        name=f"Bench cart {tag}", subject=SUBJECT, html=HTML, text=TEXT
    )
    step = {"id": "email", "type": "send_email", "template": template.pk}
    # Its own trigger: an active flow on cart.updated would also enroll the end-to-end
    # phase's events (run later on the same database) and double its sends.
    flow = flow_create(
        name=f"Bench send {tag}",
        definition={"trigger": {"type": "event", "event": "bench.send_phase"}, "steps": [step]},
        status="active",
    )
    items = contexts(count)
    contacts = Contact.objects.bulk_create(
        [
            Contact(email=f"send-{tag}-{i}@bench.example", first_name=c["contact"]["first_name"])
            for i, c in enumerate(items)
        ]
    )
    events = Event.objects.bulk_create(
        [
            Event(
                contact=contact,
                name="cart.updated",
                properties=context["event"]["properties"],
                occurred_at=now,
                received_at=now,
                source="flowbench",
            )
            for contact, context in zip(contacts, items, strict=True)
        ]
    )
    enrollments = Enrollment.objects.bulk_create(
        [
            Enrollment(
                flow=flow,
                version_id=flow.live_version_id,
                contact=event.contact,
                step_id=step["id"],
                next_run_at=now,
                step_started_at=now,
                trigger_key=f"event:{event.pk}",
                trigger_event=event,
            )
            for event in events
        ]
    )
    return enrollments, flow.live_version.definition["steps"][0]


def _marketing_policy():
    """A workspace policy with both rules on, that every bench email passes: a cap of 3 a
    day (the contacts are new) and a send window open all day, every day."""
    from automation.models import SendingPolicy

    SendingPolicy.objects.all().delete()
    return SendingPolicy.objects.create(
        frequency_cap_count=3,
        frequency_cap_hours=24,
        send_window_enabled=True,
        send_window_start=dt.time(0, 0),
        send_window_end=dt.time(23, 59, 59, 999_999),
        send_window_days=[1, 2, 3, 4, 5, 6, 7],
    )


def pipeline(count: int, *, backend: str, host: str = "", port: int = 0, tag: str = "") -> float:
    """Emails per second through the send rules and message_prepare (batches of BATCH in
    one transaction, as the engine does) and messages_deliver (after the commit), on
    `backend`."""
    from django.conf import settings
    from django.db import transaction

    from automation.models import Message, MessageStatus
    from automation.send_rules import DELAY, send_decisions, skip_reasons
    from automation.sending import messages_deliver, messages_prepare

    enrollments, step = _enrollments(count, tag=tag or backend.rsplit(".", 2)[-2])
    policy = _marketing_policy()
    previous = settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT
    settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT = backend, host, port
    try:
        started = time.perf_counter()
        for offset in range(0, count, BATCH):
            now = dt.datetime.now(dt.UTC)
            with transaction.atomic():
                batch = enrollments[offset : offset + BATCH]
                # The whole marketing path, as the engine's send step: the frequency cap and
                # the send window (both pass here), then suppression, topics, render,
                # tracking links and headers in messages_prepare.
                decisions = send_decisions(enrollments=batch, step=step, now=now, policy=policy)
                ready = [e for e in batch if decisions[e.pk].action != DELAY]
                messages = messages_prepare(
                    items=[(e, step) for e in ready],
                    now=now,
                    skip_reasons=skip_reasons(decisions),
                )
            messages_deliver(messages=messages, now=now)
        elapsed = time.perf_counter() - started
    finally:
        settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT = previous
    sent = Message.objects.filter(enrollment__in=enrollments, status=MessageStatus.SENT).count()
    if sent != count:
        raise RuntimeError(f"the pipeline sent {sent} of {count} emails")
    return count / elapsed


def render_phase(count: int, *, log_dir) -> RenderResult:
    from bench.flows_live import SinkProcess

    raw, size = raw_render(count)
    result = RenderResult(
        raw_per_second=raw, floor_per_second=backend_floor(count), html_bytes=size
    )
    # A worker process is long-lived: warm it first (imports of the broker transport, template
    # compilation, first queries), as the raw render and the floor are measured warm too.
    pipeline(WARM_UP, backend="django.core.mail.backends.locmem.EmailBackend", tag="warm-up")
    result.pipeline_locmem = pipeline(
        count, backend="django.core.mail.backends.locmem.EmailBackend"
    )
    smtp = "django.core.mail.backends.smtp.EmailBackend"
    sink = SinkProcess(log_dir / "render-sink.jsonl")
    try:
        result.floor_smtp = backend_floor(count, backend=smtp, host="127.0.0.1", port=sink.port)
        result.pipeline_smtp = pipeline(count, backend=smtp, host="127.0.0.1", port=sink.port)
    finally:
        sink.stop()
    return result
