"""The rules of automation.esp_tracking, driven through anymail's tracking signal as its
webhook views send it: which message and contact a report belongs to, what raises the email
status (never lowers it), what is recorded and how replays are recognised."""

import datetime as dt

import pytest
from anymail.signals import AnymailTrackingEvent, EventType, RejectReason, tracking
from django.test import Client

from automation.esp_tracking import idempotency_key
from automation.models import Message
from contacts.models import Contact, Event
from contacts.signals import contacts_changed
from tests.automation.esp_helpers import (
    esp_events,
    esp_settings,  # noqa: F401 (fixture)
    flow_message_sent,
    report,
    status_of,
)
from tests.factories import ContactFactory, MessageFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("esp_settings")]

AT = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)


def signal(event_type, *, recipient, esp_name="Postmark", **fields):
    """What anymail's view does with each report it parsed."""
    fields.setdefault("timestamp", AT)
    fields.setdefault("esp_event", {})
    event = AnymailTrackingEvent(event_type=event_type, recipient=recipient, **fields)
    tracking.send(sender=None, event=event, esp_name=esp_name)
    return event


def hard_bounce(recipient, **fields):
    raw = {"RecordType": "Bounce", "Type": "HardBounce"}
    return signal(
        EventType.BOUNCED,
        recipient=recipient,
        reject_reason=RejectReason.BOUNCED,
        esp_event=raw,
        **fields,
    )


# --- which message ------------------------------------------------------------------------


def test_the_metadata_we_sent_finds_the_message():
    sent = flow_message_sent(contact=ContactFactory(), esp="postmark")

    signal(
        EventType.OPENED,
        recipient=sent.message.to_email,
        metadata={"segflow_message_id": str(sent.message.pk)},
        message_id="an id the log does not know",
    )

    assert esp_events("postmark").get().properties["message_id"] == sent.message.pk


def test_without_metadata_the_provider_message_id_finds_the_message():
    sent = flow_message_sent(contact=ContactFactory(), esp="postmark")

    signal(
        EventType.DELIVERED,
        recipient=sent.message.to_email.upper(),
        message_id=sent.message.provider_message_id,
    )

    event = esp_events("postmark").get()
    assert (event.contact_id, event.properties["message_id"]) == (
        sent.contact.pk,
        sent.message.pk,
    )


def test_without_either_our_own_message_id_header_finds_the_message():
    sent = flow_message_sent(contact=ContactFactory(), esp="postmark")
    Message.objects.filter(pk=sent.message.pk).update(provider_message_id="")
    our_header = sent.message.headers["Message-ID"]
    assert f".segflow.{sent.message.pk}@" in our_header

    signal(EventType.CLICKED, recipient=sent.message.to_email, message_id=our_header)

    assert esp_events("postmark").get().properties["message_id"] == sent.message.pk


def test_a_forged_message_id_naming_our_pattern_finds_nothing_but_the_recipient():
    sent = flow_message_sent(contact=ContactFactory(), esp="postmark")
    Message.objects.filter(pk=sent.message.pk).update(provider_message_id="")

    signal(
        EventType.OPENED,
        recipient=sent.message.to_email,
        message_id=f"<1.2.3.segflow.{sent.message.pk}@elsewhere.example>",
    )

    event = esp_events("postmark").get()
    assert (event.contact_id, event.properties["message_id"]) == (sent.contact.pk, None)


def test_metadata_naming_a_message_to_someone_else_is_not_trusted():
    # another install on the same ESP account also has a message with this id
    sent = flow_message_sent(contact=ContactFactory(), esp="postmark")
    stranger = ContactFactory(email="stranger@example.com")

    hard_bounce(
        "stranger@example.com",
        metadata={"segflow_message_id": str(sent.message.pk)},
        message_id="other-install-id",
    )

    event = esp_events("postmark").get()
    assert (event.contact_id, event.properties["message_id"]) == (stranger.pk, None)
    assert (status_of(sent.contact), status_of(stranger)) == ("active", "bounced")


@pytest.mark.parametrize("metadata", [{"segflow_message_id": "x"}, {"segflow_message_id": 2**70}])
def test_garbage_metadata_falls_back_without_error(metadata):
    contact = ContactFactory(email="ann@example.com")

    signal(EventType.OPENED, recipient="ann@example.com", metadata=metadata)

    assert esp_events("postmark").get().contact_id == contact.pk


def test_a_test_send_records_no_event_but_its_hard_bounce_still_suppresses_the_address():
    contact = ContactFactory(email="ann@example.com")
    message = MessageFactory(contact=None, is_test=True, to_email="ann@example.com")
    metadata = {"segflow_message_id": str(message.pk)}

    signal(EventType.OPENED, recipient="ann@example.com", metadata=metadata)
    hard_bounce("ann@example.com", metadata=metadata, event_id="b1")

    assert not esp_events("postmark").exists()
    assert status_of(contact) == "bounced"


# --- the email status only rises ----------------------------------------------------------


def test_a_later_delivery_does_not_clear_a_bounce():
    contact = ContactFactory(email="ann@example.com")
    hard_bounce("ann@example.com", event_id="b1")

    signal(EventType.DELIVERED, recipient="ann@example.com")

    assert status_of(contact) == "bounced"
    assert esp_events("postmark").count() == 2


@pytest.mark.parametrize(
    ("first", "then", "status"),
    [
        ("bounced", "complained", "complained"),
        ("complained", "bounced", "complained"),
        ("bounced", "unsubscribed", "bounced"),
        ("unsubscribed", "bounced", "bounced"),
        ("unsubscribed", "complained", "complained"),
    ],
)
def test_reports_raise_the_status_and_never_lower_it(first, then, status):
    contact = ContactFactory(email="ann@example.com")
    reports = {
        "bounced": lambda n: hard_bounce("ann@example.com", event_id=n),
        "complained": lambda n: signal(EventType.COMPLAINED, recipient="ann@example.com"),
        "unsubscribed": lambda n: signal(
            EventType.UNSUBSCRIBED, recipient="ann@example.com", timestamp=AT + dt.timedelta(1)
        ),
    }

    reports[first]("e1")
    reports[then]("e2")

    assert status_of(contact) == status


def test_a_status_change_is_announced_to_the_other_apps():
    contact = ContactFactory(email="ann@example.com")
    announced = []

    def receiver(sender, contact_ids, changes, **kwargs):
        announced.append((list(contact_ids), set(changes)))

    contacts_changed.connect(receiver)
    try:
        hard_bounce("ann@example.com", event_id="b1")
    finally:
        contacts_changed.disconnect(receiver)

    assert ([contact.pk], {"field:email_status"}) in announced
    assert ([contact.pk], {"event:email.bounced"}) in announced


@pytest.mark.parametrize(
    "event_type",
    [EventType.QUEUED, EventType.SENT, EventType.DEFERRED, EventType.REJECTED, EventType.UNKNOWN],
)
def test_reports_of_other_kinds_record_nothing(event_type):
    contact = ContactFactory(email="ann@example.com")

    signal(event_type, recipient="ann@example.com", reject_reason=RejectReason.BOUNCED)

    assert not Event.objects.exists()
    assert status_of(contact) == "active"


def test_an_esp_we_do_not_list_records_under_its_own_name_and_hard_bounces_by_reason():
    contact = ContactFactory(email="ann@example.com")

    signal(
        EventType.BOUNCED,
        recipient="ann@example.com",
        esp_name="SendGrid",
        reject_reason=RejectReason.INVALID,
        event_id="sg-1",
    )

    assert esp_events("sendgrid").get().properties["bounce_type"] == "hard"
    assert status_of(contact) == "bounced"


# --- idempotency ----------------------------------------------------------------------------


def test_without_an_event_id_two_opens_at_other_times_are_two_events_and_a_replay_is_not():
    ContactFactory(email="ann@example.com")

    for at in (AT, AT + dt.timedelta(minutes=3), AT):
        signal(EventType.OPENED, recipient="ann@example.com", esp_name="Brevo", timestamp=at)

    assert esp_events("brevo").count() == 2


def test_a_report_with_neither_event_id_nor_time_is_keyed_by_its_payload():
    ContactFactory(email="ann@example.com")

    for n in (1, 1, 2):
        signal(EventType.OPENED, recipient="ann@example.com", timestamp=None, esp_event={"n": n})

    assert esp_events("postmark").count() == 2


def test_a_long_message_id_still_makes_a_bounded_key():
    event = AnymailTrackingEvent(
        event_type=EventType.OPENED, message_id="x" * 600, timestamp=AT, esp_event={}
    )

    key = idempotency_key(event=event, esp="brevo", recipient="ann@example.com")

    assert len(key) <= 255
    assert key == idempotency_key(event=event, esp="brevo", recipient="ann@example.com")


def test_nul_characters_from_an_esp_do_not_break_the_write():
    contact = ContactFactory(email="ann@example.com")

    signal(
        EventType.BOUNCED,
        recipient="ann@example.com\x00",
        description="bad\x00mailbox",
        message_id="id\x00",
        event_id="b\x001",
        esp_event={"Type": "HardBounce"},
    )

    event = esp_events("postmark").get()
    assert event.properties["description"] == "badmailbox"
    assert Contact.objects.get(pk=contact.pk).email_status == "bounced"


# --- cost -----------------------------------------------------------------------------------


@pytest.mark.postgresql
@pytest.mark.parametrize(
    ("kind", "queries"),
    [
        # message with its contact; the event with segments' change row (one statement);
        # the savepoint of the test's transaction and its release
        ("delivered", 4),
        # the same, then the conditional UPDATE of email_status and its change row
        ("hard_bounce", 8),
    ],
)
def test_a_report_costs_a_fixed_number_of_queries(django_assert_num_queries, kind, queries):
    sent = flow_message_sent(contact=ContactFactory(), esp="postmark")
    post = report("postmark", kind, sent)

    with django_assert_num_queries(queries):
        assert post.send(Client()).status_code == 200
