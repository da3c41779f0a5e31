"""The engine as a whole: chains of side effects in one pass, a failing step isolated to its
enrollment, pinned query counts on the hot path."""

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automation import steps
from automation.engine import enrollments_advance
from automation.models import Message
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
