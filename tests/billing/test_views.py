"""Verified bodies that are not events are 400 with a message; a replay is acknowledged and
ignored; a stored delivery is processed after the request's commit."""

import json

import pytest

from billing.models import DeliveryStatus, WebhookDelivery
from contacts.models import Contact
from tests.billing import payloads
from tests.billing.conftest import post_chargebee, post_stripe

pytestmark = pytest.mark.django_db


def _signed_stripe(client, body: str):
    return client.post(
        "/webhooks/stripe",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=payloads.stripe_signature(body),
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "The body is not JSON."),
        ("[1, 2]", "The body must be a JSON object (the provider's event)."),
        ('{"type": "customer.created", "data": {"object": {}}}', "The event has no valid 'id'."),
        ('{"id": "evt_1", "data": {"object": {}}}', "The event has no valid 'type'."),
        ('{"id": "evt_1", "type": "customer.created"}', "The event has no data.object."),
        ('{"id": 5, "type": "x", "data": {"object": {}}}', "The event has no valid 'id'."),
        (
            '{"id": "evt_1", "type": "x", "data": {"object": {"name": "a\\u0000b"}}}',
            "The event holds a value that cannot be stored, at 'data.object.name'.",
        ),
        (
            '{"id": "evt_1", "type": "x", "data": {"object": {"amount": 1e400}}}',
            "The event holds a value that cannot be stored, at 'data.object.amount'.",
        ),
    ],
)
def test_stripe_body_that_is_not_an_event_is_400(client, body, message):
    response = _signed_stripe(client, body)

    assert response.status_code == 400
    assert response.json() == {"detail": message}
    assert not WebhookDelivery.objects.exists()


def test_body_that_is_not_utf8_is_400(client):
    response = client.post(
        "/webhooks/chargebee",
        b"\xff\xfe{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=payloads.chargebee_auth(),
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "The body is not UTF-8 text."}


def test_chargebee_event_without_content_is_400(client):
    response = post_chargebee(client, {"id": "ev_1", "event_type": "customer_created"})

    assert response.status_code == 400
    assert response.json() == {"detail": "The event has no content."}


def test_get_is_405(client):
    assert client.get("/webhooks/stripe").status_code == 405


def test_replay_of_an_event_id_is_acknowledged_and_stored_once(client):
    event = payloads.stripe_event(
        "evt_replayed",
        "customer.created",
        payloads.stripe_customer("cus_1", "jenny@example.com"),
        created=payloads.T0,
    )

    first = post_stripe(client, event)
    second = post_stripe(client, event)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"received": True, "duplicate": True}
    assert WebhookDelivery.objects.count() == 1


def test_same_event_id_from_two_providers_is_two_deliveries(client):
    post_stripe(
        client,
        payloads.stripe_event(
            "ev_shared",
            "customer.created",
            payloads.stripe_customer("cus_1", "a@example.com"),
            created=payloads.T0,
        ),
    )
    post_chargebee(
        client,
        payloads.chargebee_event(
            "ev_shared",
            "customer_created",
            {"customer": payloads.chargebee_customer("cb_1", "a@example.com")},
            occurred_at=payloads.T0,
        ),
    )

    assert WebhookDelivery.objects.count() == 2


def test_delivery_is_processed_by_the_task_queued_on_commit(
    client, django_capture_on_commit_callbacks
):
    event = payloads.stripe_event(
        "evt_1",
        "customer.created",
        payloads.stripe_customer("cus_1", "Jenny@Example.com"),
        created=payloads.T0,
    )

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post_stripe(client, event)

    assert response.status_code == 200
    assert len(callbacks) >= 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PROCESSED
    assert delivery.processed_at is not None
    assert Contact.objects.get().fields["billing_customer_id"] == "cus_1"


def test_storing_a_delivery_takes_few_queries(client, django_assert_max_num_queries):
    body = json.dumps(
        payloads.stripe_event(
            "evt_q",
            "customer.created",
            payloads.stripe_customer("cus_1", "a@example.com"),
            created=payloads.T0,
        )
    )

    with django_assert_max_num_queries(3):
        response = _signed_stripe(client, body)

    assert response.status_code == 200
