"""Stripe's documented events become the neutral billing fields and billing.* events."""

import pytest
import stripe

from billing.models import BillingCustomer, DeliveryStatus, WebhookDelivery
from billing.stripe_api import stripe_product_name
from contacts.field_services import custom_field_create
from contacts.models import Contact, CustomField, Event
from tests.billing import payloads as p
from tests.billing.conftest import post_stripe, process_pending

pytestmark = pytest.mark.django_db
DAY = 86400


def deliver(client, *events):
    for event in events:
        assert post_stripe(client, event).status_code == 200
    process_pending()


def customer_created(event_id="evt_cus", email="jenny@example.com", created=p.T0):
    return p.stripe_event(
        event_id, "customer.created", p.stripe_customer("cus_1", email), created=created
    )


def subscription_event(event_id, kind, created, previous=None, **fields):
    fields.setdefault("status", "active")
    status = fields.pop("status")
    return p.stripe_event(
        event_id,
        kind,
        p.stripe_subscription("sub_1", "cus_1", status, **fields),
        created=created,
        previous=previous,
    )


def billing_events(name=None):
    events = Event.objects.filter(name__startswith="billing.").order_by("pk")
    if name:
        events = events.filter(name=name)
    return list(events)


def names():
    return sorted(e.name for e in billing_events())


def fields():
    return Contact.objects.get(email="jenny@example.com").fields


def test_customer_created_creates_the_contact_and_the_fields_with_source_stripe(client):
    deliver(client, customer_created(email="Jenny@Example.com"))

    contact = Contact.objects.get()
    assert contact.email == "jenny@example.com"
    assert contact.fields == {"billing_provider": "stripe", "billing_customer_id": "cus_1"}
    assert BillingCustomer.objects.get().contact == contact
    created = CustomField.objects.filter(source="stripe")
    assert sorted(f.key for f in created) == sorted(
        [
            "billing_provider",
            "billing_customer_id",
            "plan",
            "billing_status",
            "mrr",
            "currency",
            "trial_ends_at",
            "customer_since",
            "canceled_at",
            "cancel_at_period_end",
        ]
    )
    assert CustomField.objects.get(key="billing_status").choices == [
        "trialing",
        "active",
        "past_due",
        "canceled",
        "unpaid",
        "incomplete",
    ]


def test_trialing_subscription_created_sets_the_fields_and_records_trial_started(client):
    trial_end = p.T0 + 14 * DAY

    deliver(
        client,
        customer_created(),
        subscription_event(
            "evt_sub",
            "customer.subscription.created",
            p.T0 + 1,
            status="trialing",
            trial_end=trial_end,
        ),
    )

    assert fields() == {
        "billing_provider": "stripe",
        "billing_customer_id": "cus_1",
        "plan": "Pro monthly",
        "billing_status": "trialing",
        "mrr": 29,
        "currency": "USD",
        "trial_ends_at": "2026-10-05T14:13:20Z",
        "customer_since": "2026-09-21T14:13:20Z",
        "cancel_at_period_end": False,
    }
    assert names() == ["billing.subscription_created", "billing.trial_started"]
    event = billing_events("billing.trial_started")[0]
    assert event.source == "stripe"
    assert event.idempotency_key == "evt_sub:trial_started"
    assert event.properties == {
        "provider": "stripe",
        "provider_event_id": "evt_sub",
        "customer_id": "cus_1",
        "subscription_id": "sub_1",
        "plan": "Pro monthly",
        "mrr": 29,
        "currency": "USD",
        "status": "trialing",
    }


def test_trial_converted_from_previous_attributes(client):
    deliver(
        client,
        customer_created(),
        subscription_event(
            "evt_up",
            "customer.subscription.updated",
            p.T0 + 10,
            previous={"status": "trialing"},
            trial_end=p.T0 + 5,
        ),
    )

    assert fields()["billing_status"] == "active"
    assert names() == ["billing.subscription_activated", "billing.trial_converted"]


def test_quantity_increase_is_an_expansion_with_mrr_times_quantity(client):
    before = p.stripe_items((2900, "month", 1, "Pro monthly"))
    after = p.stripe_items((2900, "month", 3, "Pro monthly"))

    deliver(
        client,
        customer_created(),
        subscription_event(
            "evt_up",
            "customer.subscription.updated",
            p.T0 + 10,
            previous={"items": before},
            items=after,
        ),
    )

    assert fields()["mrr"] == 87
    assert names() == ["billing.subscription_expanded"]


def test_yearly_price_counts_one_twelfth_per_month(client):
    items = p.stripe_items((12000, "year", 2, None))

    deliver(
        client,
        customer_created(),
        subscription_event("evt_c", "customer.subscription.created", p.T0 + 1, items=items),
    )

    assert fields()["mrr"] == 20
    # no nickname: the price's id (set STRIPE_API_KEY to read the product's name)
    assert fields()["plan"] == "price_12000_year"


def test_downgrade_is_a_contraction(client):
    deliver(
        client,
        customer_created(),
        subscription_event(
            "evt_up",
            "customer.subscription.updated",
            p.T0 + 10,
            previous={"items": p.stripe_items((9900, "month", 1, "Business"))},
        ),
    )

    assert names() == ["billing.subscription_contracted"]
    assert fields()["plan"] == "Pro monthly"


def test_cancel_at_period_end_is_a_scheduled_cancellation_and_undoing_it_a_reactivation(client):
    deliver(
        client,
        customer_created(),
        subscription_event(
            "evt_cancel",
            "customer.subscription.updated",
            p.T0 + 10,
            previous={"cancel_at_period_end": False, "canceled_at": None},
            cancel_at_period_end=True,
            canceled_at=p.T0 + 10,
        ),
    )
    assert names() == ["billing.cancellation_scheduled"]
    assert fields()["cancel_at_period_end"] is True
    assert fields()["canceled_at"] == "2026-09-21T14:13:30Z"

    deliver(
        client,
        subscription_event(
            "evt_undo",
            "customer.subscription.updated",
            p.T0 + 20,
            previous={"cancel_at_period_end": True, "canceled_at": p.T0 + 10},
        ),
    )
    assert names() == ["billing.cancellation_scheduled", "billing.reactivated"]
    assert fields()["cancel_at_period_end"] is False
    assert "canceled_at" not in fields()


def test_past_due_and_payment_failed(client):
    deliver(
        client,
        customer_created(),
        p.stripe_event(
            "evt_fail",
            "invoice.payment_failed",
            p.stripe_invoice(
                "in_1", "cus_1", "jenny@example.com", paid=False, amount=2900, sub_id="sub_1"
            ),
            created=p.T0 + 30,
        ),
        subscription_event(
            "evt_pd",
            "customer.subscription.updated",
            p.T0 + 31,
            status="past_due",
            previous={"status": "active"},
        ),
    )

    assert names() == ["billing.past_due", "billing.payment_failed"]
    assert fields()["billing_status"] == "past_due"
    failed = billing_events("billing.payment_failed")[0]
    assert failed.properties["amount"] == 29
    assert failed.properties["invoice_id"] == "in_1"
    assert failed.properties["subscription_id"] == "sub_1"


def test_invoice_paid_maps_by_customer_email_without_a_customer_event(client):
    deliver(
        client,
        p.stripe_event(
            "evt_paid",
            "invoice.paid",
            p.stripe_invoice(
                "in_1", "cus_1", "jenny@example.com", paid=True, amount=2950, sub_id="sub_1"
            ),
            created=p.T0 + 30,
        ),
    )

    succeeded = billing_events("billing.payment_succeeded")
    assert [e.properties["amount"] for e in succeeded] == [29.5]
    assert succeeded[0].properties["currency"] == "USD"
    assert BillingCustomer.objects.get().customer_id == "cus_1"


def test_zero_amount_invoice_records_no_payment(client):
    deliver(
        client,
        p.stripe_event(
            "evt_paid0",
            "invoice.paid",
            p.stripe_invoice(
                "in_0", "cus_1", "jenny@example.com", paid=True, amount=0, sub_id="sub_1"
            ),
            created=p.T0,
        ),
    )

    assert names() == []
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PROCESSED


def test_charge_refunded_records_the_refunded_amount(client):
    deliver(
        client,
        customer_created(),
        p.stripe_event(
            "evt_ref",
            "charge.refunded",
            p.stripe_charge("ch_1", "cus_1", amount=2900, refunded=1000),
            created=p.T0 + 40,
        ),
    )

    refunded = billing_events("billing.refunded")[0]
    assert refunded.properties["amount"] == 10
    assert refunded.properties["charge_id"] == "ch_1"


def test_subscription_deleted_at_trial_end_is_canceled_and_trial_expired(client):
    trial_end = p.T0 + 14 * DAY

    deliver(
        client,
        customer_created(),
        subscription_event(
            "evt_del",
            "customer.subscription.deleted",
            trial_end,
            status="canceled",
            trial_end=trial_end,
            ended_at=trial_end,
            canceled_at=trial_end,
        ),
    )

    assert names() == ["billing.subscription_canceled", "billing.trial_expired"]
    assert fields()["billing_status"] == "canceled"


def test_trial_will_end_without_payment_method_is_not_converted(client):
    deliver(
        client,
        customer_created(),
        subscription_event(
            "evt_twe",
            "customer.subscription.trial_will_end",
            p.T0 + 11 * DAY,
            status="trialing",
            trial_end=p.T0 + 14 * DAY,
        ),
    )

    event = billing_events("billing.trial_will_end")[0]
    assert event.properties["converted"] is False
    assert event.properties["trial_ends_at"] == "2026-10-05T14:13:20+00:00"


def test_trial_will_end_with_a_payment_method_on_file_is_marked_converted(client):
    deliver(
        client,
        customer_created(),
        subscription_event(
            "evt_twe",
            "customer.subscription.trial_will_end",
            p.T0 + 11 * DAY,
            status="trialing",
            trial_end=p.T0 + 14 * DAY,
            default_payment_method="pm_1",
        ),
    )

    assert billing_events("billing.trial_will_end")[0].properties["converted"] is True


def test_trial_will_end_arriving_after_the_conversion_is_marked_converted(client):
    deliver(
        client,
        customer_created(),
        subscription_event(
            "evt_conv",
            "customer.subscription.updated",
            p.T0 + 12 * DAY,
            previous={"status": "trialing"},
            trial_end=p.T0 + 12 * DAY,
        ),
        subscription_event(
            "evt_twe",
            "customer.subscription.trial_will_end",
            p.T0 + 11 * DAY,
            status="trialing",
            trial_end=p.T0 + 12 * DAY,
        ),
    )

    assert billing_events("billing.trial_will_end")[0].properties["converted"] is True
    assert fields()["billing_status"] == "active"


def test_unknown_event_types_are_acknowledged_and_processed_without_effect(client):
    deliver(client, p.stripe_event("evt_x", "payment_intent.created", {"id": "pi_1"}, created=p.T0))

    assert WebhookDelivery.objects.get().status == DeliveryStatus.PROCESSED
    assert not Contact.objects.exists()


def test_unknown_customer_waits_without_api_key(client):
    deliver(
        client,
        subscription_event("evt_sub", "customer.subscription.created", p.T0 + 1, status="trialing"),
    )

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.WAITING_CUSTOMER
    assert delivery.customer_id == "cus_1"
    assert not Contact.objects.exists()


def test_unknown_customer_is_looked_up_with_the_api_key(client, settings, monkeypatch):
    settings.STRIPE_API_KEY = "rk_test_x"
    looked_up = []

    def retrieve(customer_id, api_key):
        looked_up.append((customer_id, api_key))
        return {"id": customer_id, "object": "customer", "email": "jenny@example.com"}

    monkeypatch.setattr(stripe.Customer, "retrieve", retrieve)

    deliver(
        client,
        subscription_event(
            "evt_sub",
            "customer.subscription.created",
            p.T0 + 1,
            items=p.stripe_items((2900, "month", 1, "Pro monthly")),
        ),
    )

    assert looked_up == [("cus_1", "rk_test_x")]
    assert fields()["billing_status"] == "active"


def test_plan_is_the_product_name_with_the_api_key_when_the_price_has_no_nickname(
    client, settings, monkeypatch
):
    settings.STRIPE_API_KEY = "rk_test_x"
    stripe_product_name.cache_clear()
    monkeypatch.setattr(
        stripe.Product, "retrieve", lambda product_id, api_key: {"id": product_id, "name": "Pro"}
    )

    deliver(
        client,
        customer_created(),
        subscription_event(
            "evt_c",
            "customer.subscription.created",
            p.T0 + 1,
            items=p.stripe_items((2900, "month", 1, None)),
        ),
    )
    stripe_product_name.cache_clear()

    assert fields()["plan"] == "Pro"


def test_a_field_of_another_type_made_by_hand_fails_the_delivery_with_the_reason(client):
    custom_field_create(key="mrr", label="MRR", type="boolean")

    deliver(
        client,
        customer_created(),
        subscription_event("evt_c", "customer.subscription.created", p.T0 + 1),
    )

    failed = WebhookDelivery.objects.get(provider_event_id="evt_c")
    assert failed.status == DeliveryStatus.FAILED
    assert "fields.mrr" in failed.error
    assert not Event.objects.exists()


def test_an_overlong_customer_id_fails_the_delivery(client):
    event = customer_created()
    event["data"]["object"]["id"] = "cus_" + "x" * 300

    deliver(client, event)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert "longer than 255" in delivery.error
