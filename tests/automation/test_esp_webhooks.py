"""ESP tracking webhooks end to end, for each of Postmark, Mailgun, Brevo and Amazon SES: a
payload shaped like the provider's, posted with its auth to the real URL, becomes the right
event on the right contact and message; a hard bounce suppresses the flow's next send; a
replay records nothing; a bad credential changes nothing; an unknown recipient is a 200."""

import json

import pytest
from django.test import Client

from contacts.models import Event
from tests.automation.esp_helpers import (
    ESPS,
    REPORTED_AT,
    esp_events,
    esp_settings,  # noqa: F401 (fixture)
    flow_message_sent,
    next_message,
    no_network,  # noqa: F401 (fixture)
    report,
    status_of,
)
from tests.automation.esp_payloads import CLICKED_URL, EVENT_OF_KIND, KINDS_OF, Post
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("esp_settings", "no_network")]

CASES = [(esp, kind) for esp in ESPS for kind in KINDS_OF[esp]]


@pytest.fixture
def client():
    return Client()


@pytest.mark.parametrize(("esp", "kind"), CASES)
def test_each_report_becomes_its_event_on_the_message_contact(client, esp, kind):
    # given
    sent = flow_message_sent(contact=ContactFactory(), esp=esp)
    ContactFactory()  # another contact, untouched

    # when
    response = report(esp, kind, sent).send(client)

    # then
    assert response.status_code == 200
    event = esp_events(esp).get()
    assert (event.contact_id, event.name) == (sent.contact.pk, EVENT_OF_KIND[kind])
    assert event.occurred_at == REPORTED_AT
    message = sent.message
    assert event.properties | {"esp_event_id": None} == event.properties | {
        "message_id": message.pk,
        "template_id": message.template_id,
        "flow_id": message.flow_id,
        "step_id": "mail-1",
        "esp": esp,
        "esp_event_id": None,
    }
    assert event.idempotency_key
    if kind == "clicked":
        assert event.properties["url"] == CLICKED_URL
    if kind.endswith("bounce"):
        assert event.properties["bounce_type"] == kind.removesuffix("_bounce")
        assert event.properties["soft"] is (kind == "soft_bounce")
        assert event.properties["description"]


SUPPRESSING = {"hard_bounce": "bounced", "complained": "complained", "unsubscribed": "unsubscribed"}


@pytest.mark.parametrize(
    ("esp", "kind"), [(esp, kind) for esp, kind in CASES if kind in SUPPRESSING]
)
def test_a_hard_bounce_complaint_or_unsubscribe_suppresses_the_next_send(client, esp, kind):
    # given: the flow's first email went out through the ESP
    sent = flow_message_sent(contact=ContactFactory(), esp=esp)

    # when: the ESP reports a hard bounce, a complaint or an unsubscribe
    response = report(esp, kind, sent).send(client)

    # then: the flow's next email to that contact is skipped, with the reason
    assert response.status_code == 200
    assert status_of(sent.contact) == SUPPRESSING[kind]
    following = next_message(sent)
    assert (following.status, following.reason) == ("skipped", SUPPRESSING[kind])


@pytest.mark.parametrize("esp", [esp for esp in ESPS if "soft_bounce" in KINDS_OF[esp]])
def test_a_soft_bounce_is_recorded_but_never_suppresses(client, esp):
    sent = flow_message_sent(contact=ContactFactory(), esp=esp)

    report(esp, "soft_bounce", sent).send(client)

    assert esp_events(esp).get().properties["bounce_type"] == "soft"
    assert status_of(sent.contact) == "active"
    assert next_message(sent).status == "queued"


def test_a_mailgun_temporary_failure_is_a_deferral_and_records_nothing(client):
    sent = flow_message_sent(contact=ContactFactory(), esp="mailgun")

    response = report("mailgun", "soft_bounce", sent).send(client)

    assert response.status_code == 200
    assert not esp_events("mailgun").exists()
    assert status_of(sent.contact) == "active"


@pytest.mark.parametrize(("esp", "kind"), [(esp, "hard_bounce") for esp in ESPS] + CASES[:3])
def test_a_replayed_post_records_nothing_new(client, esp, kind):
    sent = flow_message_sent(contact=ContactFactory(), esp=esp)
    post = report(esp, kind, sent)
    post.send(client)
    before = list(Event.objects.order_by("pk").values_list("pk", "name", "properties"))
    status = status_of(sent.contact)

    response = post.send(client)

    assert response.status_code == 200
    assert list(Event.objects.order_by("pk").values_list("pk", "name", "properties")) == before
    assert status_of(sent.contact) == status


@pytest.mark.parametrize("esp", ESPS)
def test_a_replayed_bounce_does_not_undo_a_manual_reactivation(client, esp):
    sent = flow_message_sent(contact=ContactFactory(), esp=esp)
    post = report(esp, "hard_bounce", sent)
    post.send(client)
    sent.contact.__class__.objects.filter(pk=sent.contact.pk).update(email_status="active")

    post.send(client)

    assert status_of(sent.contact) == "active"


@pytest.mark.parametrize("esp", ESPS)
@pytest.mark.parametrize("auth", [None, "segflow:wrong", "someone:hook-secret"])
def test_bad_basic_auth_is_refused_and_changes_nothing(client, esp, auth):
    sent = flow_message_sent(contact=ContactFactory(), esp=esp)
    events_before = Event.objects.count()

    response = report(esp, "hard_bounce", sent).send(client, auth=auth)

    # Amazon SNS first posts without credentials and expects a 401 challenge.
    expected = 401 if (esp == "amazon_ses" and auth is None) else 400
    assert response.status_code == expected
    assert Event.objects.count() == events_before
    assert status_of(sent.contact) == "active"


@pytest.mark.parametrize("esp", ESPS)
@pytest.mark.parametrize("kind", ["hard_bounce", "opened"])
def test_a_report_for_an_unknown_recipient_is_accepted_and_records_nothing(client, esp, kind):
    contacts_before = ContactFactory._meta.model.objects.count()

    response = report(esp, kind, None, recipient="stranger@elsewhere.example").send(client)

    assert response.status_code == 200
    assert not esp_events(esp).exists()
    assert ContactFactory._meta.model.objects.count() == contacts_before


@pytest.mark.parametrize("esp", ESPS)
def test_a_report_without_a_message_of_ours_goes_to_the_recipients_contact(client, esp):
    contact = ContactFactory(email="ann@example.com")

    response = report(esp, "hard_bounce", None, recipient="Ann@Example.com").send(client)

    assert response.status_code == 200
    event = esp_events(esp).get()
    assert event.contact_id == contact.pk
    assert event.properties["message_id"] is None
    assert status_of(contact) == "bounced"


# --- provider specifics ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("HardBounce", "bounced"),
        ("SpamComplaint", "complained"),
        ("ManualSuppression", "unsubscribed"),
    ],
)
def test_postmark_subscription_change_suppresses_by_its_reason(client, reason, status):
    sent = flow_message_sent(contact=ContactFactory(), esp="postmark")
    post = report("postmark", "unsubscribed", sent)
    payload = json.loads(post.body) | {"SuppressionReason": reason}

    Post(post.path, json.dumps(payload).encode(), post.content_type).send(client)

    assert status_of(sent.contact) == status


def test_postmark_reactivation_records_nothing_and_lowers_nothing(client):
    sent = flow_message_sent(contact=ContactFactory(), esp="postmark")
    report("postmark", "hard_bounce", sent).send(client)
    post = report("postmark", "unsubscribed", sent)
    payload = json.loads(post.body) | {"SuppressSending": False, "Origin": "Customer"}

    response = Post(post.path, json.dumps(payload).encode(), post.content_type).send(client)

    assert response.status_code == 200
    assert esp_events("postmark").count() == 1
    assert status_of(sent.contact) == "bounced"


def test_brevo_invalid_email_is_a_hard_bounce(client):
    sent = flow_message_sent(contact=ContactFactory(), esp="brevo")
    post = report("brevo", "hard_bounce", sent)
    payload = json.loads(post.body) | {"event": "invalid_email"}

    Post(post.path, json.dumps(payload).encode(), post.content_type).send(client)

    assert esp_events("brevo").get().properties["bounce_type"] == "hard"
    assert status_of(sent.contact) == "bounced"
