import datetime as dt
import http.server
import threading

import pytest
from django.core import mail

from automation.engine import enrollments_advance, steps_run
from automation.models import Enrollment, Message, StepRun
from automation.scheduler import scheduler_tick
from contacts.models import Event
from tests.automation.engine_helpers import NOW, enroll, flow_version, visited
from tests.factories import ContactFactory, EmailTemplateFactory, MessageFactory, StepRunFactory

pytestmark = pytest.mark.django_db

AFTER = {"id": "after", "type": "tag", "add": ["after"]}


@pytest.fixture
def outbox(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    return mail.outbox


def advance(*enrollments, now=NOW):
    enrollments_advance(enrollments=enrollments, now=now)
    for enrollment in enrollments:
        enrollment.refresh_from_db()


def email_flow(template=None):
    template = template or EmailTemplateFactory()
    return flow_version([{"id": "mail", "type": "send_email", "template": template.pk}, AFTER])


# send_email


def test_send_email_sends_records_the_message_and_goes_on(outbox):
    enrollment = enroll(email_flow(), ContactFactory(email="ann@example.com"))

    advance(enrollment)

    assert [m.to for m in outbox] == [["ann@example.com"]]
    message = Message.objects.get()
    assert (message.status, message.idempotency_key) == ("sent", f"enrollment:{enrollment.pk}:mail")
    assert visited(enrollment) == [("mail", "sent"), ("after", "")]
    assert enrollment.step_runs.get(step_id="mail").detail == {"message_id": message.pk}
    assert enrollment.state == "completed"


def test_a_holdout_enrollment_walks_the_send_step_without_a_message_going_out(outbox):
    enrollment = enroll(email_flow(), holdout=True)

    advance(enrollment)

    assert outbox == []
    assert Message.objects.get().reason == "holdout"
    assert visited(enrollment) == [("mail", "skipped"), ("after", "")]


def test_a_template_error_fails_that_message_and_the_others_go_on(outbox):
    template = EmailTemplateFactory(html="<p>{{ contact.fields.plan }}</p>")
    version = email_flow(template)
    broken = enroll(version, ContactFactory(fields={}))
    fine = enroll(version, ContactFactory(fields={"plan": "pro"}))

    advance(broken, fine)

    assert len(outbox) == 1
    assert visited(broken) == [("mail", "failed"), ("after", "")]
    assert visited(fine) == [("mail", "sent"), ("after", "")]


# The versions, the flows, the lease check, the sending policy, the messages' (existing
# keys, contacts, templates, ids, tags, insert), the step runs' insert, the enrollments' update.
SEND_STEP_QUERIES = 12


@pytest.mark.postgresql
@pytest.mark.parametrize("size", [5, 50])
def test_a_send_step_prepares_its_batch_in_the_same_queries_whatever_its_size(
    size, django_assert_num_queries
):
    version = email_flow(EmailTemplateFactory(html="<p>{{ contact.tags | join(',') }}</p>"))
    ids = [enroll(version).pk for _ in range(size)]
    enrollments = list(Enrollment.objects.filter(pk__in=ids))

    with django_assert_num_queries(SEND_STEP_QUERIES):
        effects = steps_run(enrollments=enrollments, now=NOW)

    assert [effect.message.status for effect in effects] == ["queued"] * size
    assert StepRun.objects.filter(status="started").count() == size


def leased_send(*, message_status: str):
    """An enrollment whose worker died during its send: started step, expired lease."""
    enrollment = enroll(email_flow(), next_run_at=NOW - dt.timedelta(seconds=1))
    StepRunFactory(enrollment=enrollment, step_id="mail", status="started")
    MessageFactory(
        contact=enrollment.contact,
        enrollment=enrollment,
        idempotency_key=f"enrollment:{enrollment.pk}:mail",
        status=message_status,
    )
    return enrollment


def test_a_send_cut_off_by_a_dead_worker_becomes_unknown_and_is_never_sent_again(outbox):
    enrollment = leased_send(message_status="sending")

    scheduler_tick(now=NOW)

    enrollment.refresh_from_db()
    assert outbox == []
    assert Message.objects.get().status == "unknown"
    assert visited(enrollment) == [("mail", "unknown"), ("after", "")]
    assert StepRun.objects.filter(step_id="mail").count() == 1


def test_a_send_recorded_before_the_worker_died_just_completes_its_step(outbox):
    enrollment = leased_send(message_status="sent")

    scheduler_tick(now=NOW)

    enrollment.refresh_from_db()
    assert outbox == []
    assert Message.objects.get().status == "sent"
    assert visited(enrollment) == [("mail", "sent"), ("after", "")]


def test_a_send_whose_worker_died_before_its_hand_off_is_sent_once_now(outbox):
    enrollment = leased_send(message_status="queued")

    scheduler_tick(now=NOW)

    enrollment.refresh_from_db()
    assert len(outbox) == 1
    assert Message.objects.get().status == "sent"
    assert visited(enrollment) == [("mail", "sent"), ("after", "")]
    assert StepRun.objects.filter(step_id="mail").count() == 1


def test_a_send_recorded_before_the_worker_died_gets_its_email_sent_event():
    enrollment = leased_send(message_status="sent")

    scheduler_tick(now=NOW)
    scheduler_tick(now=NOW)

    assert list(
        Event.objects.filter(name="email.sent").values_list("contact_id", "idempotency_key")
    ) == [(enrollment.contact_id, f"message:{Message.objects.get().pk}")]


def test_a_lease_not_yet_expired_is_left_to_its_worker(outbox):
    enrollment = leased_send(message_status="sending")
    enrollment.next_run_at = NOW + dt.timedelta(minutes=1)
    enrollment.save()

    assert scheduler_tick(now=NOW) == 0
    assert Message.objects.get().status == "sending"


# webhook


class Endpoint(http.server.BaseHTTPRequestHandler):
    statuses: list[int] = []
    bodies: list[bytes] = []

    def do_POST(self):
        type(self).bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        status = type(self).statuses.pop(0) if type(self).statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint(settings):
    settings.FLOW_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.FLOW_WEBHOOK_MAX_ATTEMPTS = 3
    Endpoint.statuses, Endpoint.bodies = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", Endpoint
    server.shutdown()
    server.server_close()


def webhook_flow(url):
    return flow_version([{"id": "hook", "type": "webhook", "url": url}, AFTER])


def test_a_webhook_posts_records_its_status_and_goes_on(endpoint):
    url, server = endpoint
    enrollment = enroll(webhook_flow(url), ContactFactory(email="bo@example.com"))

    advance(enrollment)

    assert b"bo@example.com" in server.bodies[0]
    run = enrollment.step_runs.get(step_id="hook")
    assert (run.status, run.outcome, run.attempt) == ("done", "ok", 1)
    assert run.detail == {"status_code": 200, "excerpt": "ok", "error": ""}
    assert enrollment.state == "completed"


def test_a_failing_webhook_is_retried_with_backoff(endpoint):
    url, server = endpoint
    server.statuses = [500]
    enrollment = enroll(webhook_flow(url))

    advance(enrollment)

    run = enrollment.step_runs.get()
    assert (run.status, run.outcome, run.detail["status_code"]) == ("failed", "retry", 500)
    assert (enrollment.step_id, enrollment.sleeping) == ("hook", False)
    assert enrollment.next_run_at == NOW + dt.timedelta(seconds=30)

    advance(enrollment, now=NOW + dt.timedelta(seconds=30))

    assert visited(enrollment) == [("hook", "retry"), ("hook", "ok"), ("after", "")]
    assert list(enrollment.step_runs.values_list("attempt", flat=True).order_by("pk")) == [1, 2, 1]


def test_a_webhook_failing_every_attempt_is_recorded_failed_and_the_journey_goes_on(endpoint):
    url, server = endpoint
    server.statuses = [500, 503, 502]
    enrollment = enroll(webhook_flow(url))

    now = NOW
    for delay in (0, 30, 60):
        now += dt.timedelta(seconds=delay)
        advance(enrollment, now=now)

    assert visited(enrollment) == [
        ("hook", "retry"),
        ("hook", "retry"),
        ("hook", "failed"),
        ("after", ""),
    ]
    assert enrollment.state == "completed"


def test_a_webhook_attempt_lost_with_its_worker_is_recorded_failed_and_retried(endpoint):
    url, server = endpoint
    enrollment = enroll(webhook_flow(url), next_run_at=NOW - dt.timedelta(seconds=1))
    StepRunFactory(enrollment=enrollment, step_id="hook", status="started")

    scheduler_tick(now=NOW)

    enrollment.refresh_from_db()
    lost, retried = enrollment.step_runs.filter(step_id="hook").order_by("attempt")
    assert (lost.status, lost.detail) == ("failed", {"error": "worker lost"})
    assert (retried.attempt, retried.outcome) == (2, "ok")
    assert len(server.bodies) == 1


def test_a_webhook_body_template_error_fails_the_step_without_a_call(endpoint):
    url, server = endpoint
    version = flow_version(
        [{"id": "hook", "type": "webhook", "url": url, "body": '{"a": {{ nope }}}'}, AFTER]
    )
    enrollment = enroll(version)

    advance(enrollment)

    run = enrollment.step_runs.get(step_id="hook")
    assert (run.status, run.outcome) == ("failed", "failed")
    assert "nope" in run.detail["error"]
    assert server.bodies == []
    assert enrollment.state == "completed"


def test_a_last_webhook_attempt_lost_with_its_worker_ends_the_step_failed(endpoint):
    url, server = endpoint  # three attempts at most
    enrollment = enroll(webhook_flow(url), next_run_at=NOW - dt.timedelta(seconds=1))
    StepRunFactory(enrollment=enrollment, step_id="hook", attempt=1, status="failed")
    StepRunFactory(enrollment=enrollment, step_id="hook", attempt=2, status="failed")
    StepRunFactory(enrollment=enrollment, step_id="hook", attempt=3, status="started")

    scheduler_tick(now=NOW)

    enrollment.refresh_from_db()
    lost = enrollment.step_runs.get(step_id="hook", attempt=3)
    assert (lost.status, lost.outcome) == ("failed", "failed")
    assert server.bodies == []
    assert enrollment.state == "completed"
