"""Chargebee's documented events become the neutral billing fields and billing.* events."""

import pytest

from contacts.models import Contact, CustomField, Event
from tests.billing import payloads as p
from tests.billing.conftest import post_chargebee, process_pending

pytestmark = pytest.mark.django_db
DAY = 86400
MS = 1000


def deliver(client, *events):
    for event in events:
        assert post_chargebee(client, event).status_code == 200
    process_pending()


def sub_event(event_id, kind, at, status, *, card=False, extra=None, **sub):
    content = {
        "subscription": p.chargebee_subscription(
            "cb_sub_1", "cb_cus_1", status, version_ms=at * MS, **sub
        ),
        "customer": p.chargebee_customer("cb_cus_1", "ana@example.com", card=card),
    }
    content.update(extra or {})
    return p.chargebee_event(event_id, kind, content, occurred_at=at)


def names():
    return sorted(Event.objects.filter(name__startswith="billing.").values_list("name", flat=True))


def fields():
    return Contact.objects.get(email="ana@example.com").fields


def test_subscription_created_in_trial(client):
    deliver(
        client,
        sub_event("ev_1", "subscription_created", p.T0, "in_trial", trial_end=p.T0 + 14 * DAY),
    )

    assert fields() == {
        "billing_provider": "chargebee",
        "billing_customer_id": "cb_cus_1",
        "plan": "pro-USD-monthly",
        "billing_status": "trialing",
        "mrr": 49,
        "currency": "USD",
        "trial_ends_at": "2026-10-05T14:13:20Z",
        "customer_since": "2026-09-21T14:13:20Z",
        "cancel_at_period_end": False,
    }
    assert names() == ["billing.subscription_created", "billing.trial_started"]
    assert set(CustomField.objects.values_list("source", flat=True)) == {"chargebee"}


def test_subscription_activated_is_a_converted_trial(client):
    deliver(
        client,
        sub_event("ev_1", "subscription_created", p.T0, "in_trial", trial_end=p.T0 + 14 * DAY),
        sub_event(
            "ev_2", "subscription_activated", p.T0 + 14 * DAY, "active", trial_end=p.T0 + 14 * DAY
        ),
    )

    assert fields()["billing_status"] == "active"
    assert names() == [
        "billing.subscription_activated",
        "billing.subscription_created",
        "billing.trial_converted",
        "billing.trial_started",
    ]


def test_yearly_plan_with_quantity(client):
    deliver(
        client,
        sub_event(
            "ev_1",
            "subscription_created",
            p.T0,
            "active",
            unit_price=60000,
            quantity=3,
            period_unit="year",
        ),
    )

    assert fields()["mrr"] == 150
    assert fields()["plan"] == "pro-USD-yearly"


def test_plan_change_direction_is_read_against_the_stored_state(client):
    deliver(
        client,
        sub_event("ev_1", "subscription_created", p.T0, "active", quantity=1),
        sub_event("ev_2", "subscription_changed", p.T0 + 10, "active", quantity=2),
        sub_event("ev_3", "subscription_changed", p.T0 + 20, "active", quantity=1),
    )

    assert fields()["mrr"] == 49
    assert names().count("billing.subscription_expanded") == 1
    assert names().count("billing.subscription_contracted") == 1


def test_payment_failed_in_dunning_is_past_due(client):
    payment = p.chargebee_transaction(
        "txn_1", "cb_cus_1", "cb_sub_1", amount=4900, kind="payment", ok=False
    )
    deliver(
        client,
        sub_event("ev_1", "subscription_created", p.T0, "active"),
        sub_event(
            "ev_2",
            "payment_failed",
            p.T0 + 30 * DAY,
            "active",
            due_invoices=1,
            extra={"transaction": payment},
        ),
    )

    assert fields()["billing_status"] == "past_due"
    assert "billing.past_due" in names()
    failed = Event.objects.get(name="billing.payment_failed")
    assert (failed.properties["amount"], failed.properties["currency"]) == (49, "USD")


def test_payment_succeeded_and_refunded(client):
    paid = p.chargebee_transaction(
        "txn_1", "cb_cus_1", "cb_sub_1", amount=4900, kind="payment", ok=True
    )
    refund = p.chargebee_transaction(
        "txn_2", "cb_cus_1", "cb_sub_1", amount=1500, kind="refund", ok=True
    )
    deliver(
        client,
        sub_event("ev_1", "payment_succeeded", p.T0, "active", extra={"transaction": paid}),
        sub_event("ev_2", "payment_refunded", p.T0 + 5, "active", extra={"transaction": refund}),
    )

    amounts = dict(
        Event.objects.filter(
            name__in=["billing.payment_succeeded", "billing.refunded"]
        ).values_list("name", "properties__amount")
    )
    assert amounts == {"billing.payment_succeeded": 49, "billing.refunded": 15}


def test_cancellation_scheduled_then_removed(client):
    deliver(
        client,
        sub_event("ev_1", "subscription_cancellation_scheduled", p.T0 + 10, "non_renewing"),
    )
    assert names() == ["billing.cancellation_scheduled"]
    assert fields()["cancel_at_period_end"] is True
    assert fields()["billing_status"] == "active"

    deliver(
        client,
        sub_event("ev_2", "subscription_scheduled_cancellation_removed", p.T0 + 20, "active"),
    )
    assert names() == ["billing.cancellation_scheduled", "billing.reactivated"]
    assert fields()["cancel_at_period_end"] is False


def test_cancelled_at_trial_end_is_a_trial_expiry(client):
    trial_end = p.T0 + 14 * DAY
    deliver(
        client,
        sub_event(
            "ev_1",
            "subscription_cancelled",
            trial_end,
            "cancelled",
            trial_end=trial_end,
            cancelled_at=trial_end,
        ),
    )

    assert names() == ["billing.subscription_canceled", "billing.trial_expired"]
    assert fields()["billing_status"] == "canceled"
    assert fields()["canceled_at"] == "2026-10-05T14:13:20Z"


def test_reactivated(client):
    deliver(client, sub_event("ev_1", "subscription_reactivated", p.T0 + 50, "active"))

    assert names() == ["billing.reactivated"]


def test_trial_end_reminder_with_a_valid_card_is_marked_converted(client):
    deliver(
        client,
        sub_event(
            "ev_1",
            "subscription_trial_end_reminder",
            p.T0 + 11 * DAY,
            "in_trial",
            card=True,
            trial_end=p.T0 + 14 * DAY,
        ),
    )

    event = Event.objects.get(name="billing.trial_will_end")
    assert event.properties["converted"] is True


def test_trial_end_reminder_without_card_is_not_converted(client):
    deliver(
        client,
        sub_event(
            "ev_1",
            "subscription_trial_end_reminder",
            p.T0 + 11 * DAY,
            "in_trial",
            trial_end=p.T0 + 14 * DAY,
        ),
    )

    assert Event.objects.get(name="billing.trial_will_end").properties["converted"] is False
