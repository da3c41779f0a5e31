"""A worker SIGKILLed in the middle of a batch of sends to a real SMTP server: after a new
worker takes over, every enrollment finishes, the server holds no email twice, and every
message is recorded as sent or unknown (the sends cut off are never retried), none lost, and
only the chunk whose hand-off was under way is unknown: the messages still queued are sent."""

import collections
import time

import pytest
from django.utils import timezone

from automation import sending
from automation.enrollment import enrollments_start_bulk
from automation.models import Enrollment, EnrollmentState, Message, MessageStatus
from contacts.models import Event
from tests.automation.conftest import WORKER_LEASE_SECONDS, beat_ticks, flow_activated
from tests.factories import ContactFactory, EmailTemplateFactory

pytestmark = [pytest.mark.integration, pytest.mark.postgresql]

CONTACTS = 120
SEND_SECONDS = 0.05  # the sink's answer to each email: the batch takes ~6 s to send
FINISH_TIMEOUT = 90.0


def _wait_until(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out waiting for {what}")
        time.sleep(0.05)


def test_a_worker_killed_mid_batch_leaves_no_email_lost_or_doubled(flow_worker, smtp_sink):
    # given a flow sending one email to each of 120 enrolled contacts, through a slow sink
    smtp_sink.delay_seconds = SEND_SECONDS
    template = EmailTemplateFactory(subject="Hello {{ contact.email }}")
    flow = flow_activated(
        name="Kill test",
        definition={
            "trigger": {"type": "event", "event": "kill.test"},
            "steps": [{"id": "hello", "type": "send_email", "template": template.pk}],
        },
    )
    contacts = ContactFactory.create_batch(CONTACTS)
    flow_worker.start()
    enrollments_start_bulk(
        version=flow.live_version,
        items=[(contact.pk, f"test:{contact.pk}", None) for contact in contacts],
        now=timezone.now(),
    )  # wakes the worker on commit (outside a transaction: at once)

    # when the worker is SIGKILLed while the sink has some but not all of the emails
    _wait_until(lambda: smtp_sink.count() >= 10, timeout=60, what="the first sends")
    flow_worker.kill()
    received_at_kill = smtp_sink.count()
    assert received_at_kill < CONTACTS

    # and a new worker starts; beat's tick finds the leases run out
    time.sleep(WORKER_LEASE_SECONDS)
    flow_worker.start()
    with beat_ticks():
        _wait_until(
            lambda: not Enrollment.objects.filter(flow=flow, state=EnrollmentState.ACTIVE).exists(),
            timeout=FINISH_TIMEOUT,
            what=f"every enrollment to finish\n{flow_worker.log()[-3000:]}",
        )

    # then every enrollment completed
    states = collections.Counter(
        Enrollment.objects.filter(flow=flow).values_list("state", flat=True)
    )
    assert states == {EnrollmentState.COMPLETED: CONTACTS}
    # and the sink holds no email twice: neither a recipient nor a Message-ID
    received = smtp_sink.messages
    recipients = collections.Counter(r for message in received for r in message.rcpt_tos)
    assert max(recipients.values()) == 1
    message_ids = [message.message_id for message in received]
    assert len(set(message_ids)) == len(message_ids)
    # and every message is sent or unknown, one per contact, none lost
    messages = Message.objects.filter(flow=flow)
    assert messages.count() == CONTACTS
    by_status = collections.Counter(messages.values_list("status", flat=True))
    assert set(by_status) <= {MessageStatus.SENT, MessageStatus.UNKNOWN}
    assert by_status[MessageStatus.UNKNOWN] >= 1  # at least the send the kill cut off
    # only the chunk whose hand-off was under way is unknown: the rest were sent after all
    assert by_status[MessageStatus.UNKNOWN] <= sending.HANDOFF_CHUNK
    assert by_status[MessageStatus.SENT] >= received_at_kill - sending.HANDOFF_CHUNK
    # and what the log calls sent is what the sink got (the unknown ones it may or may not)
    sent_to = set(messages.filter(status=MessageStatus.SENT).values_list("to_email", flat=True))
    assert sent_to <= set(recipients)
    assert len(sent_to) + by_status[MessageStatus.UNKNOWN] == CONTACTS
    # and each sent email is an email.sent event, the ones recorded by the dead worker too
    assert Event.objects.filter(name="email.sent").count() == len(sent_to)
