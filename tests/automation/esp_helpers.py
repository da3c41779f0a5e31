"""Shared pieces of the ESP webhook tests: settings, a no-network guard, and a flow message
really prepared and handed to anymail's test backend (which records the metadata an ESP
would echo back), then given the id that ESP's send API would have returned."""

import datetime as dt
import socket
from dataclasses import dataclass

import pytest
from django.core import mail

from automation.models import EmailTemplate, Enrollment, Message
from automation.sending import messages_deliver, messages_prepare
from contacts.models import Contact, Event
from tests.automation.esp_payloads import BUILDERS, ESP_SETTINGS, PROVIDER_IDS
from tests.factories import EmailTemplateFactory, EnrollmentFactory

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
REPORTED_AT = NOW + dt.timedelta(minutes=7)
ESPS = tuple(BUILDERS)


@pytest.fixture
def esp_settings(settings):
    """anymail's webhook checks as production configures them, and its test backend."""
    settings.ANYMAIL = dict(ESP_SETTINGS)
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    mail.outbox = []
    return settings


@pytest.fixture
def no_network(monkeypatch):
    """Any connection beyond loopback fails the test (SNS auto-confirm would reach AWS)."""
    real_connect = socket.socket.connect
    attempts = []

    def connect(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if (
            isinstance(host, str)
            and host not in ("127.0.0.1", "::1", "localhost")
            and (sock.family in (socket.AF_INET, socket.AF_INET6))
        ):
            attempts.append(address)
            raise OSError(f"test tried to reach {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


@dataclass
class Sent:
    contact: Contact
    enrollment: Enrollment
    template: EmailTemplate
    message: Message


def send_step(template: EmailTemplate, step_id: str) -> dict:
    return {"id": step_id, "type": "send_email", "template": template.pk}


def flow_message_sent(*, contact: Contact, esp: str) -> Sent:
    """A flow's first email to `contact`, prepared and handed to the backend as the engine
    does; its provider_message_id is then what `esp`'s API returns."""
    template = EmailTemplateFactory()
    enrollment = EnrollmentFactory(contact=contact)
    [message] = messages_prepare(items=[(enrollment, send_step(template, "mail-1"))], now=NOW)
    messages_deliver(messages=[message], now=NOW)
    assert mail.outbox[-1].anymail_test_params["metadata"] == {
        "segflow_message_id": str(message.pk)
    }
    Message.objects.filter(pk=message.pk).update(provider_message_id=PROVIDER_IDS[esp])
    message.refresh_from_db()
    assert message.status == "sent"
    return Sent(contact, enrollment, template, message)


def next_message(sent: Sent) -> Message:
    """The flow's next email to the same contact (a later step)."""
    later = NOW + dt.timedelta(days=1)
    step = send_step(sent.template, "mail-2")
    return messages_prepare(items=[(sent.enrollment, step)], now=later)[0]


def report(esp: str, kind: str, sent: Sent | None = None, **overrides):
    """The post `esp` makes about `sent`'s message (overrides: recipient, message_id,
    metadata, event_id, at)."""
    values = {
        "recipient": sent.message.to_email if sent else "nobody@example.com",
        "message_id": PROVIDER_IDS[esp],
        "metadata": {"segflow_message_id": str(sent.message.pk)} if sent else {},
        "event_id": 1001,
        "at": REPORTED_AT,
    }
    values.update(overrides)
    return BUILDERS[esp](kind, **values)


def esp_events(esp: str, contact: Contact | None = None):
    events = Event.objects.filter(source=esp)
    return events.filter(contact=contact) if contact is not None else events


def status_of(contact: Contact) -> str:
    return Contact.objects.get(pk=contact.pk).email_status
