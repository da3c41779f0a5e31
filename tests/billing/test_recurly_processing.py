"""Recurly's JSON notifications carry ids: processing reads each object from Recurly's API
(a fake one here) and maps it to the neutral fields and billing.* events."""

import pytest

from billing.deliveries import delivery_reprocess
from billing.models import DeliveryStatus, WebhookDelivery
from contacts.models import Contact, Event
from tests.billing import payloads as p
from tests.billing.conftest import post_recurly, process_pending

pytestmark = pytest.mark.django_db
SUB = "63ab531e1d5b1d47eaf1ef44eeb853c3"


def deliver(client, *events):
    for event in events:
        assert post_recurly(client, event).status_code == 200
    process_pending()


def notification(event_id, kind, at="2026-09-21T00:00:00Z", object_type="subscription", uuid=SUB):
    return p.recurly_notification(event_id, object_type, kind, uuid, at=at)


def names():
    return sorted(Event.objects.filter(name__startswith="billing.").values_list("name", flat=True))


def fields():
    return Contact.objects.get(email="verena@example.com").fields


def test_created_subscription_in_trial_is_read_from_the_api(client, recurly):
    recurly.subscription(
        p.recurly_subscription(
            SUB,
            "acct-1",
            "verena@example.com",
            "active",
            updated_at="2026-09-21T00:00:00Z",
            trial_ends_at="2099-01-01T00:00:00Z",
            activated_at=None,
        )
    )

    deliver(client, notification("ev1", "created"))

    assert fields() == {
        "billing_provider": "recurly",
        "billing_customer_id": "acct-1",
        "plan": "Gold plan",
        "billing_status": "trialing",
        "mrr": 39,
        "currency": "USD",
        "trial_ends_at": "2099-01-01T00:00:00Z",
        "customer_since": "2026-09-21T00:00:00Z",
        "cancel_at_period_end": False,
    }
    assert names() == ["billing.subscription_created", "billing.trial_started"]
    paths = [r.url.path for r in recurly.requests]
    assert paths == [f"/subscriptions/uuid-{SUB}", "/plans/plan-gold"]
    assert recurly.requests[0].headers["Accept"] == "application/vnd.recurly.v2021-02-25+json"


def test_canceled_is_a_scheduled_cancellation_and_expired_the_end(client, recurly):
    recurly.subscription(
        p.recurly_subscription(
            SUB,
            "acct-1",
            "verena@example.com",
            "canceled",
            updated_at="2026-09-22T00:00:00Z",
            canceled_at="2026-09-22T00:00:00Z",
            expires_at="2099-10-21T00:00:00Z",
        )
    )
    deliver(client, notification("ev1", "canceled", at="2026-09-22T00:00:00Z"))
    assert names() == ["billing.cancellation_scheduled"]
    assert fields()["cancel_at_period_end"] is True
    assert fields()["billing_status"] == "active"

    recurly.subscription(
        p.recurly_subscription(
            SUB,
            "acct-1",
            "verena@example.com",
            "expired",
            updated_at="2026-10-21T00:00:00Z",
            canceled_at="2026-09-22T00:00:00Z",
            expires_at="2026-10-21T00:00:00Z",
        )
    )
    deliver(client, notification("ev2", "expired", at="2026-10-21T00:00:00Z"))
    assert names() == ["billing.cancellation_scheduled", "billing.subscription_canceled"]
    assert fields()["billing_status"] == "canceled"


def test_quantity_change_against_the_stored_state_is_an_expansion(client, recurly):
    recurly.subscription(
        p.recurly_subscription(
            SUB, "acct-1", "verena@example.com", "active", updated_at="2026-09-21T00:00:00Z"
        )
    )
    deliver(client, notification("ev1", "created"))
    recurly.subscription(
        p.recurly_subscription(
            SUB,
            "acct-1",
            "verena@example.com",
            "active",
            updated_at="2026-09-25T00:00:00Z",
            quantity=4,
        )
    )

    deliver(client, notification("ev2", "updated", at="2026-09-25T00:00:00Z"))

    assert fields()["mrr"] == 156
    assert "billing.subscription_expanded" in names()


def test_payment_notifications_read_the_transaction(client, recurly):
    recurly.transaction(
        p.recurly_transaction("tx1", "acct-1", "verena@example.com", amount=39.0, sub_uuid=SUB)
    )
    recurly.transaction(
        p.recurly_transaction("tx2", "acct-1", "verena@example.com", amount=12.5, sub_uuid=SUB)
    )

    deliver(
        client,
        notification("ev1", "succeeded", object_type="payment", uuid="tx1"),
        notification("ev2", "refunded", object_type="payment", uuid="tx2"),
    )

    amounts = dict(Event.objects.values_list("name", "properties__amount"))
    assert amounts == {"billing.payment_succeeded": 39, "billing.refunded": 12.5}
    assert Event.objects.get(name="billing.payment_succeeded").properties["invoice_id"] == "1001"


def test_without_api_key_the_delivery_fails_with_the_reason_and_can_be_reprocessed(
    client, recurly, settings
):
    settings.RECURLY_API_KEY = ""
    recurly.subscription(
        p.recurly_subscription(
            SUB, "acct-1", "verena@example.com", "active", updated_at="2026-09-21T00:00:00Z"
        )
    )

    deliver(client, notification("ev1", "created"))

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert "RECURLY_API_KEY is not set" in delivery.error
    assert not Contact.objects.exists()

    settings.RECURLY_API_KEY = "recurly-private-key"
    assert delivery_reprocess(delivery=delivery) is True
    process_pending()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.error, delivery.attempts) == (DeliveryStatus.PROCESSED, "", 2)
    assert fields()["billing_status"] == "active"


def test_api_error_fails_the_delivery(client, recurly):
    deliver(client, notification("ev1", "created"))  # the fake API has no such subscription

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert "HTTP 404" in delivery.error


def test_other_notifications_are_ignored(client, recurly):
    deliver(client, notification("ev1", "created", object_type="account", uuid="abc"))

    assert WebhookDelivery.objects.get().status == DeliveryStatus.PROCESSED
    assert recurly.requests == []


def test_trial_conversion_is_read_against_the_stored_state(client, recurly):
    recurly.subscription(
        p.recurly_subscription(
            SUB,
            "acct-1",
            "verena@example.com",
            "active",
            updated_at="2026-09-21T00:00:00Z",
            trial_ends_at="2099-01-01T00:00:00Z",
            activated_at=None,
        )
    )
    deliver(client, notification("ev1", "created"))
    recurly.subscription(
        p.recurly_subscription(
            SUB,
            "acct-1",
            "verena@example.com",
            "active",
            updated_at="2026-10-05T00:00:00Z",
            trial_ends_at="2026-10-05T00:00:00Z",
        )
    )

    deliver(client, notification("ev2", "renewed", at="2026-10-05T00:00:00Z"))
    deliver(client, notification("ev3", "updated", at="2026-10-05T00:00:01Z"))

    assert fields()["billing_status"] == "active"
    assert names() == [
        "billing.subscription_activated",
        "billing.subscription_created",
        "billing.trial_converted",
        "billing.trial_started",
    ]
