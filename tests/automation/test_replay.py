"""Replays and races: the same task delivered twice, two schedulers at once, a template that
fails for one contact, a webhook endpoint that fails or hangs. No step ever runs twice, and a
failure stays with the one contact or step it belongs to."""

import collections
import datetime as dt
import http.server
import threading
import time

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from automation import tasks
from automation.enrollment import enrollments_start_bulk
from automation.models import (
    Enrollment,
    EnrollmentState,
    Message,
    MessageStatus,
    StepRun,
    StepRunStatus,
)
from automation.scheduler import scheduler_tick
from contacts.models import Contact
from tests.automation.conftest import flow_activated
from tests.factories import ContactFactory, EmailTemplateFactory

pytestmark = pytest.mark.postgresql


@pytest.fixture
def locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    return mail.outbox


def _enroll(flow, contacts, now):
    enrollments_start_bulk(
        version=flow.live_version,
        items=[(contact.pk, f"test:{contact.pk}", None) for contact in contacts],
        now=now,
    )


def _at_once(job, *, threads: int = 2) -> list:
    """Run `job` in `threads` threads released together, each on its own connection."""
    barrier = threading.Barrier(threads)
    results, errors = [], []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(job())
        except Exception as exc:  # re-raised below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, errors
    return results


def _send_flow(name: str, template=None):
    template = template or EmailTemplateFactory()
    return flow_activated(
        name=name,
        definition={
            "trigger": {"type": "event", "event": "replay.test"},
            "steps": [
                {"id": "score", "type": "adjust_score", "by": 5},
                {"id": "tag", "type": "tag", "add": ["replayed"]},
                {"id": "hello", "type": "send_email", "template": template.pk},
            ],
        },
    )


def _step_runs_per_enrollment_and_step(flow) -> collections.Counter:
    return collections.Counter(
        StepRun.objects.filter(enrollment__flow=flow).values_list("enrollment_id", "step_id")
    )


@pytest.mark.django_db(transaction=True)
def test_the_same_task_delivered_twice_at_once_runs_each_step_once(locmem_mail):
    # given 40 due enrollments of a flow that scores, tags and sends
    flow = _send_flow("Replay")
    contacts = ContactFactory.create_batch(40)
    _enroll(flow, contacts, timezone.now())

    # when the scheduler's task is delivered twice and both copies run at once
    _at_once(tasks.run_due_enrollments)
    tasks.run_due_enrollments()  # and a late third copy, after the others finished

    # then every step ran once for every contact
    runs = _step_runs_per_enrollment_and_step(flow)
    assert len(runs) == 40 * 3
    assert set(runs.values()) == {1}
    assert set(Contact.objects.values_list("lead_score", flat=True)) == {5}
    # and each contact got one email
    recipients = collections.Counter(to for message in locmem_mail for to in message.to)
    assert recipients == {contact.email: 1 for contact in contacts}
    assert set(Message.objects.filter(flow=flow).values_list("status", flat=True)) == {"sent"}
    assert set(Enrollment.objects.filter(flow=flow).values_list("state", flat=True)) == {
        EnrollmentState.COMPLETED
    }


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_at_once_never_run_a_step_twice(locmem_mail):
    # given 200 due enrollments
    flow = _send_flow("Two schedulers")
    contacts = ContactFactory.create_batch(200)
    now = timezone.now()
    _enroll(flow, contacts, now)

    # when two schedulers tick at once until neither finds work
    def drain() -> int:
        advanced = 0
        while done := scheduler_tick(now=now):
            advanced += done
        return advanced

    _at_once(drain)

    # then each step ran once per enrollment: one score change, one email each
    runs = _step_runs_per_enrollment_and_step(flow)
    assert len(runs) == 200 * 3
    assert set(runs.values()) == {1}
    assert set(Contact.objects.values_list("lead_score", flat=True)) == {5}
    assert len(locmem_mail) == 200
    assert len({to for message in locmem_mail for to in message.to}) == 200


@pytest.mark.django_db(transaction=True)
def test_a_template_error_fails_that_message_and_the_other_contacts_go_on(locmem_mail):
    # given a template that needs a custom field one of four contacts lacks
    template = EmailTemplateFactory(html="<p>Your plan: {{ contact.fields.plan | upper }}</p>")
    flow = _send_flow("Template error", template)
    planned = [ContactFactory(fields={"plan": "pro"}) for _ in range(3)]
    unplanned = ContactFactory(fields={})
    now = timezone.now()
    _enroll(flow, [*planned, unplanned], now)

    # when the scheduler runs the flow
    while scheduler_tick(now=now):
        pass

    # then that one message failed with its reason named
    failed = Message.objects.get(flow=flow, contact=unplanned)
    assert failed.status == MessageStatus.FAILED
    assert "plan" in failed.reason
    # and the others were sent and their journeys completed
    sent = Message.objects.filter(flow=flow, contact__in=planned)
    assert set(sent.values_list("status", flat=True)) == {MessageStatus.SENT}
    assert sorted(to for message in locmem_mail for to in message.to) == sorted(
        contact.email for contact in planned
    )
    assert set(
        Enrollment.objects.filter(flow=flow, contact__in=planned).values_list("state", flat=True)
    ) == {EnrollmentState.COMPLETED}
    assert not Enrollment.objects.filter(
        flow=flow, contact=unplanned, state=EnrollmentState.ACTIVE
    ).exists()


class _Endpoint(http.server.ThreadingHTTPServer):
    """A webhook receiver on loopback answering 500, or hanging past the client's timeout."""

    daemon_threads = True

    def __init__(self, *, hang_seconds: float = 0.0):
        self.hang_seconds = hang_seconds
        self.requests: list[bytes] = []
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint.requests.append(body)
                if endpoint.hang_seconds:
                    time.sleep(endpoint.hang_seconds)
                self.send_response(500)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"upstream exploded")

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def handle_error(self, request, client_address) -> None:
        """A client that gave up on a hanging answer closed its end: expected, not noise."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


@pytest.fixture
def webhook_settings(settings):
    settings.FLOW_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.FLOW_WEBHOOK_TIMEOUT_SECONDS = 0.3
    settings.FLOW_WEBHOOK_MAX_ATTEMPTS = 3
    return settings


def _run_webhook_flow(endpoint) -> Enrollment:
    flow = flow_activated(
        name="Notify sales",
        definition={
            "trigger": {"type": "event", "event": "replay.test"},
            "steps": [{"id": "notify", "type": "webhook", "url": endpoint.url}],
        },
    )
    contact = ContactFactory()
    now = timezone.now()
    _enroll(flow, [contact], now)
    # Retries back off in time: tick a day later each round, as beat would over the days.
    for day in range(10):
        scheduler_tick(now=now + dt.timedelta(days=day))
        if not Enrollment.objects.filter(flow=flow, state=EnrollmentState.ACTIVE).exists():
            break
    return Enrollment.objects.get(flow=flow, contact=contact)


@pytest.mark.django_db
@pytest.mark.parametrize("hang_seconds", [0.0, 1.5], ids=["answers-500", "hangs"])
def test_a_failing_webhook_is_retried_then_recorded_as_failed(webhook_settings, hang_seconds):
    endpoint = _Endpoint(hang_seconds=hang_seconds)
    try:
        # when a flow calls an endpoint that always fails
        enrollment = _run_webhook_flow(endpoint)
    finally:
        endpoint.close()

    # then it was called once per allowed attempt, each attempt recorded as failed: the first
    # two to be retried, the last for good
    assert len(endpoint.requests) == 3
    runs = list(StepRun.objects.filter(enrollment=enrollment, step_id="notify").order_by("attempt"))
    assert [run.attempt for run in runs] == [1, 2, 3]
    assert {run.status for run in runs} == {StepRunStatus.FAILED}
    assert [run.outcome for run in runs] == ["retry", "retry", "failed"]
    if hang_seconds:
        assert all(run.detail.get("error") for run in runs)
    else:
        assert all(run.detail.get("status_code") == 500 for run in runs)
        assert "upstream exploded" in runs[-1].detail.get("excerpt", "")
    # and the journey went on past the failed step (a failed call does not stop it)
    assert enrollment.state == EnrollmentState.COMPLETED
