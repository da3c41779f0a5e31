"""The engine as a whole: chains of side effects in one pass, a failing step isolated to its
enrollment, pinned query counts on the hot path."""

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automation import steps
from automation.engine import enrollments_advance
from automation.models import Enrollment, Message
from automation.scheduler import scheduler_tick
from tests.automation.engine_helpers import NOW, enroll, flow_version, visited
from tests.factories import ContactFactory, EmailTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def outbox(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    return mail.outbox


def test_two_emails_in_a_row_are_both_sent_in_one_pass(outbox):
    first, second = EmailTemplateFactory(), EmailTemplateFactory()
    version = flow_version(
        [
            {"id": "one", "type": "send_email", "template": first.pk},
            {"id": "two", "type": "send_email", "template": second.pk},
        ]
    )
    enrollment = enroll(version)

    enrollments_advance(enrollments=[enrollment], now=NOW)

    enrollment.refresh_from_db()
    assert len(outbox) == 2
    assert visited(enrollment) == [("one", "sent"), ("two", "sent")]
    assert enrollment.state == "completed"
    assert Message.objects.filter(status="sent").count() == 2


def test_a_step_that_raises_fails_its_enrollment_alone(monkeypatch):
    version = flow_version([{"id": "t", "type": "tag", "add": ["x"]}])
    broken_contact = ContactFactory()
    broken, fine = enroll(version, broken_contact), enroll(version)
    tag_step = steps.HANDLERS["tag"]

    def tag_or_raise(cursors, step, run):
        if any(cursor.contact_id == broken_contact.pk for cursor in cursors):
            raise ValueError("boom")
        tag_step(cursors, step, run)

    monkeypatch.setitem(steps.HANDLERS, "tag", tag_or_raise)

    assert scheduler_tick(now=NOW) == 2

    broken.refresh_from_db()
    fine.refresh_from_db()
    assert (broken.state, broken.exit_reason) == ("failed", "error: ValueError: boom")
    assert visited(broken) == []
    assert (fine.state, visited(fine)) == ("completed", [("t", "")])


def test_a_batch_at_one_wait_costs_the_same_queries_for_5_or_50_enrollments():
    def batch_queries(count):
        version = flow_version(
            [
                {"id": "w", "type": "wait", "duration": {"hours": 1}},
                {"id": "next", "type": "wait", "duration": {"hours": 1}},
            ]
        )
        started = NOW - dt.timedelta(hours=1)
        for _ in range(count):
            enroll(version, step_started_at=started, sleeping=True)
        with CaptureQueriesContext(connection) as queries:
            assert scheduler_tick(now=NOW) == count
        return len(queries)

    # claim, versions, flows, step runs, enrollments (+ savepoints): none per enrollment
    assert batch_queries(5) == batch_queries(50) <= 10


def deliver_after(monkeypatch, change):
    """The flow changes while the batch's messages are being delivered."""
    from automation import sending

    deliver = sending.messages_deliver

    def changed_then_delivered(*, messages, now):
        change()
        deliver(messages=messages, now=now)

    monkeypatch.setattr(sending, "messages_deliver", changed_then_delivered)


def two_emails():
    return flow_version(
        [
            {"id": "one", "type": "send_email", "template": EmailTemplateFactory().pk},
            {"id": "two", "type": "send_email", "template": EmailTemplateFactory().pk},
        ]
    )


def test_a_flow_paused_during_a_send_records_it_and_waits_at_the_next_step(outbox, monkeypatch):
    version = two_emails()
    enrollment = enroll(version)
    deliver_after(monkeypatch, lambda: type(version.flow).objects.update(status="paused"))

    enrollments_advance(enrollments=[enrollment], now=NOW)

    enrollment.refresh_from_db()
    assert len(outbox) == 1
    assert visited(enrollment) == [("one", "sent")]
    assert (enrollment.step_id, enrollment.next_run_at, enrollment.sleeping) == ("two", NOW, False)


def test_an_enrollment_ended_during_a_send_gets_the_outcome_recorded_only(outbox, monkeypatch):
    version = two_emails()
    enrollment = enroll(version)
    deliver_after(
        monkeypatch,
        lambda: Enrollment.objects.update(state="exited", exit_reason="flow_archived"),
    )

    enrollments_advance(enrollments=[enrollment], now=NOW)

    enrollment.refresh_from_db()
    assert visited(enrollment) == [("one", "sent")]
    assert enrollment.step_runs.get().status == "done"
    assert (enrollment.state, enrollment.step_id) == ("exited", "one")
