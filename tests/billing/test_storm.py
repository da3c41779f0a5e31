"""1,000 deliveries, duplicated and shuffled across the three providers, end in the state and
the events of the same history delivered once and in order: nothing duplicated, nothing lost.

Chargebee plan changes and dunning are left out of the history: Chargebee's payloads do not
say their "before", so those transitions are read against the stored state and recorded
only in order (docs/billing.md); the tests of each provider cover them."""

import random
from collections import Counter

import pytest
from django.utils import timezone

from billing.deliveries import delivery_store
from billing.models import BillingSubscription, DeliveryStatus, WebhookDelivery
from billing.processing import delivery_process
from contacts.models import Contact, Event
from tests.billing import payloads as p
from tests.billing.conftest import post_chargebee, post_recurly, post_stripe, process_pending
from tests.billing.storm import chargebee_history, recurly_history, stripe_history

pytestmark = pytest.mark.django_db
POST = {"stripe": post_stripe, "chargebee": post_chargebee, "recurly": post_recurly}
TOTAL = 1000


def history(recurly) -> list[tuple[str, dict]]:
    deliveries = []
    for i in range(20):
        deliveries += stripe_history(i, p.T0 + i * 1000)
    for i in range(12):
        deliveries += chargebee_history(i, p.T0 + i * 1000)
    for i in range(12):
        deliveries += recurly_history(i, recurly)
    return deliveries


def store(provider: str, payload: dict) -> None:
    """What the endpoint stores (the storm below goes through the endpoints)."""
    kind = {
        "stripe": payload.get("type"),
        "chargebee": payload.get("event_type"),
        "recurly": f"{payload.get('object_type')}.{payload.get('event_type')}",
    }[provider]
    delivery_store(
        provider=provider,
        provider_event_id=payload["id"],
        event_type=kind,
        payload=payload,
        now=timezone.now(),
    )


def snapshot():
    fields = {c.email: c.fields for c in Contact.objects.all()}
    events = sorted(
        (
            e.source,
            e.idempotency_key,
            e.name,
            e.contact.email,
            e.occurred_at,
            repr(sorted(e.properties.items())),
        )
        for e in Event.objects.select_related("contact")
    )
    return fields, events


def wipe():
    Event.objects.all().delete()
    Contact.objects.all().delete()
    WebhookDelivery.objects.all().delete()
    assert not BillingSubscription.objects.exists()


@pytest.mark.timeout(900)
def test_a_storm_of_duplicated_and_reordered_deliveries_equals_in_order_delivery(client, recurly):
    deliveries = history(recurly)
    assert len(deliveries) < TOTAL

    # given: the history delivered once, in order, each processed before the next
    for provider, payload in deliveries:
        store(provider, payload)
        process_pending()
    expected_fields, expected_events = snapshot()
    assert len(expected_fields) == 44
    assert Counter(name for _, _, name, *_ in expected_events) == {
        "billing.subscription_created": 44,
        "billing.trial_started": 32,
        "billing.trial_will_end": 32,
        "billing.trial_converted": 32,
        "billing.subscription_activated": 44,
        "billing.payment_succeeded": 64,
        "billing.subscription_expanded": 20,
        "billing.payment_failed": 20,
        "billing.past_due": 20,
        "billing.cancellation_scheduled": 44,
        "billing.reactivated": 12,
        "billing.refunded": 44,
        "billing.subscription_canceled": 32,
    }
    wipe()

    # when: 1,000 deliveries (every event, many twice or more) arrive shuffled, and
    # workers take them in another shuffled order
    rng = random.Random(20261129)
    storm = deliveries + [rng.choice(deliveries) for _ in range(TOTAL - len(deliveries))]
    rng.shuffle(storm)
    answers = [POST[provider](client, payload) for provider, payload in storm]
    assert {a.status_code for a in answers} == {200}
    assert sum(a.json()["duplicate"] for a in answers) == TOTAL - len(deliveries)
    assert WebhookDelivery.objects.count() == len(deliveries)
    while pending := list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).values_list("pk", flat=True)
    ):
        rng.shuffle(pending)
        for delivery_id in pending:
            from django.utils import timezone

            delivery_process(delivery_id=delivery_id, now=timezone.now())

    # then
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"processed"}
    actual_fields, actual_events = snapshot()
    assert actual_fields == expected_fields
    assert actual_events == expected_events
