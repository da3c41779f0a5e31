"""Arbitrary verified bodies never make an endpoint answer 500, and arbitrary stored events of
a known type never make processing raise: a delivery ends processed, waiting or failed."""

import json

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import WebhookDelivery
from billing.processing import delivery_process
from tests.billing import payloads as p

# What the endpoints let through to storage: no NUL, no lone surrogate, finite numbers.
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=20,
)
STRIPE_TYPES = st.sampled_from(
    [
        "customer.created",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.trial_will_end",
        "invoice.paid",
        "invoice.payment_failed",
        "charge.refunded",
    ]
)
SUBSCRIPTION_KEYS = st.fixed_dictionaries(
    {},
    optional={
        "id": JSON | st.just("sub_1"),
        "customer": JSON | st.just("cus_1"),
        "status": JSON | st.sampled_from(["trialing", "active", "canceled"]),
        "items": JSON,
        "trial_end": JSON,
        "created": JSON,
        "email": JSON | st.just("a@example.com"),
        "customer_email": JSON,
        "amount_paid": JSON,
        "currency": JSON,
    },
)
CHARGEBEE_TYPES = st.sampled_from(
    ["subscription_created", "subscription_changed", "payment_succeeded", "customer_created"]
)


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=JSON)
def test_any_signed_body_is_200_or_400(client, body):
    text = json.dumps(body)

    response = client.post(
        "/webhooks/stripe",
        text,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=p.stripe_signature(text),
    )

    assert response.status_code in (200, 400)


@pytest.mark.django_db
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=STRIPE_TYPES, obj=SUBSCRIPTION_KEYS, created=JSON | st.just(p.T0), previous=JSON)
def test_processing_any_stripe_event_shape_ends_in_a_status(kind, obj, created, previous):
    event = {"id": "evt_fuzz", "type": kind, "created": created, "data": {"object": obj}}
    if isinstance(previous, dict):
        event["data"]["previous_attributes"] = previous
    WebhookDelivery.objects.all().delete()
    delivery = WebhookDelivery.objects.create(
        provider="stripe", provider_event_id="evt_fuzz", event_type=kind, payload=event
    )

    status = delivery_process(delivery_id=delivery.pk, now=timezone.now())

    assert status in ("processed", "failed", "waiting_customer")


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=CHARGEBEE_TYPES, subscription=JSON, customer=JSON, occurred_at=JSON | st.just(p.T0))
def test_processing_any_chargebee_event_shape_ends_in_a_status(
    kind, subscription, customer, occurred_at
):
    event = {
        "id": "ev_fuzz",
        "event_type": kind,
        "occurred_at": occurred_at,
        "content": {"subscription": subscription, "customer": customer},
    }
    WebhookDelivery.objects.all().delete()
    delivery = WebhookDelivery.objects.create(
        provider="chargebee", provider_event_id="ev_fuzz", event_type=kind, payload=event
    )

    status = delivery_process(delivery_id=delivery.pk, now=timezone.now())

    assert status in ("processed", "failed", "waiting_customer")
