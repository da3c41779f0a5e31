"""Out-of-order deliveries never overwrite newer state, a customer's events wait for the
customer and are applied once it is known, and a delivery is processed by one worker once."""

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from billing.models import BillingSubscription, DeliveryStatus, WebhookDelivery
from billing.processing import deliveries_sweep, delivery_process
from contacts.models import Contact, Event
from tests.billing import payloads as p
from tests.billing.conftest import post_chargebee, post_stripe, process_pending
from tests.factories import WebhookDeliveryFactory

DAY = 86400


def stripe_sub(event_id, kind, created, status, previous=None, **fields):
    return p.stripe_event(
        event_id,
        kind,
        p.stripe_subscription("sub_1", "cus_1", status, **fields),
        created=created,
        previous=previous,
    )


def customer_created(created=p.T0):
    return p.stripe_event(
        "evt_cus",
        "customer.created",
        p.stripe_customer("cus_1", "jenny@example.com"),
        created=created,
    )


@pytest.mark.django_db
def test_an_older_status_after_a_newer_one_leaves_the_newer(client):
    post_stripe(client, customer_created())
    post_stripe(
        client,
        stripe_sub(
            "evt_new",
            "customer.subscription.updated",
            p.T0 + 100,
            "canceled",
            previous={"status": "active"},
            canceled_at=p.T0 + 100,
        ),
    )
    post_stripe(
        client,
        stripe_sub(
            "evt_old",
            "customer.subscription.updated",
            p.T0 + 50,
            "past_due",
            previous={"status": "active"},
        ),
    )

    process_pending()

    contact = Contact.objects.get()
    assert contact.fields["billing_status"] == "canceled"
    assert BillingSubscription.objects.get().state_at.timestamp() == p.T0 + 100
    # the older event's own meaning is still recorded, once
    assert Event.objects.filter(name="billing.past_due").count() == 1


@pytest.mark.django_db
def test_chargebee_orders_by_resource_version(client):
    def event(event_id, status, version_ms):
        return p.chargebee_event(
            event_id,
            "subscription_changed",
            {
                "subscription": p.chargebee_subscription("s1", "c1", status, version_ms=version_ms),
                "customer": p.chargebee_customer("c1", "ana@example.com"),
            },
            occurred_at=p.T0,  # same second: the resource version decides
        )

    post_chargebee(client, event("ev_b", "cancelled", p.T0 * 1000 + 900))
    post_chargebee(client, event("ev_a", "active", p.T0 * 1000 + 100))
    process_pending()

    assert Contact.objects.get().fields["billing_status"] == "canceled"


@pytest.mark.django_db
def test_events_of_an_unknown_customer_wait_and_are_applied_when_it_is_learned(client):
    post_stripe(
        client,
        stripe_sub(
            "evt_s",
            "customer.subscription.created",
            p.T0 + 1,
            "trialing",
            trial_end=p.T0 + 14 * DAY,
        ),
    )
    post_stripe(
        client,
        p.stripe_event(
            "evt_ref",
            "charge.refunded",
            p.stripe_charge("ch_1", "cus_1", amount=2900, refunded=2900),
            created=p.T0 + 2,
        ),
    )
    process_pending()
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"waiting_customer"}
    assert not Contact.objects.exists()

    post_stripe(client, customer_created(created=p.T0 + 3))
    process_pending()

    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"processed"}
    contact = Contact.objects.get()
    assert contact.fields["billing_status"] == "trialing"
    assert sorted(Event.objects.values_list("name", flat=True)) == [
        "billing.refunded",
        "billing.subscription_created",
        "billing.trial_started",
    ]


@pytest.mark.django_db
def test_the_sweep_releases_waiting_deliveries_whose_customer_is_known(client):
    post_stripe(client, stripe_sub("evt_s", "customer.subscription.created", p.T0 + 1, "active"))
    process_pending()
    post_stripe(client, customer_created())
    # the customer's own processing releases its waiting deliveries; undo that, as if the
    # release had raced with the wait
    process_pending()
    WebhookDelivery.objects.filter(provider_event_id="evt_s").update(status="waiting_customer")

    deliveries_sweep(now=timezone.now())
    process_pending()

    assert WebhookDelivery.objects.get(provider_event_id="evt_s").status == "processed"


@pytest.mark.django_db
def test_the_sweep_processes_pending_deliveries_whose_task_was_lost(client):
    post_stripe(client, customer_created())
    WebhookDelivery.objects.update(received_at=timezone.now() - timezone.timedelta(minutes=5))

    assert deliveries_sweep(now=timezone.now()) == 1

    assert WebhookDelivery.objects.get().status == DeliveryStatus.PROCESSED


@pytest.mark.django_db
def test_a_processed_delivery_is_not_processed_again(client):
    post_stripe(client, stripe_sub("evt_s", "customer.subscription.created", p.T0, "active"))
    post_stripe(client, customer_created())
    process_pending()
    delivery = WebhookDelivery.objects.get(provider_event_id="evt_s")
    attempts = delivery.attempts

    assert delivery_process(delivery_id=delivery.pk, now=timezone.now()) is None

    assert Event.objects.filter(name="billing.subscription_created").count() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PROCESSED, attempts)


@pytest.mark.django_db(transaction=True)
def test_a_delivery_held_by_another_worker_is_skipped():
    delivery = WebhookDeliveryFactory()
    held, release = threading.Event(), threading.Event()

    def other_worker():
        try:
            with transaction.atomic():
                WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
                held.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert held.wait(10)
        assert delivery_process(delivery_id=delivery.pk, now=timezone.now()) is None
    finally:
        release.set()
        thread.join()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)


@pytest.mark.django_db
def test_processing_a_delivery_pins_its_query_count(client, django_assert_max_num_queries):
    post_stripe(client, customer_created())
    post_stripe(
        client,
        stripe_sub(
            "evt_s",
            "customer.subscription.created",
            p.T0 + 1,
            "trialing",
            trial_end=p.T0 + 14 * DAY,
        ),
    )
    first, second = WebhookDelivery.objects.order_by("pk")
    delivery_process(delivery_id=first.pk, now=timezone.now())

    with django_assert_max_num_queries(30):
        delivery_process(delivery_id=second.pk, now=timezone.now())

    assert Event.objects.count() == 2
