"""Signed deliveries are processed by a real Celery worker, and segments on the billing
fields follow: a trial enters "trialing", its conversion leaves it.

Tasks the worker itself publishes go to the default queue, which the test's worker does not
read (tests/celery_worker.py gives it a queue of its own): the test publishes the segment
sweep that beat runs every minute instead."""

import time

import pytest

from billing.models import WebhookDelivery
from contacts.models import Contact, Event
from segflow.queue import task_publish
from segments.models import SegmentMembership
from tests.billing import payloads as p
from tests.billing.conftest import post_stripe

WAIT_SECONDS = 60
DAY = 86400


def wait_for(condition, what: str, worker) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    deliveries = list(WebhookDelivery.objects.values_list("provider_event_id", "status", "error"))
    pytest.fail(f"Timed out waiting for {what} ({deliveries}). Worker log:\n{worker.log()}")


def subscription(event_id, kind, created, status, previous=None):
    obj = p.stripe_subscription("sub_1", "cus_1", status, trial_end=p.T0 + 14 * DAY)
    return p.stripe_event(event_id, kind, obj, created=created, previous=previous)


def processed(event_id):
    return lambda: WebhookDelivery.objects.filter(
        provider_event_id=event_id, status="processed"
    ).exists()


@pytest.mark.integration
def test_worker_processes_deliveries_and_segments_follow_the_billing_fields(
    client, api, celery_worker_process
):
    # given a customer and its trial, processed by the worker
    customer = p.stripe_customer("cus_1", "jenny@example.com")
    post_stripe(client, p.stripe_event("evt_0", "customer.created", customer, created=p.T0))
    wait_for(processed("evt_0"), "the customer processed", celery_worker_process)
    post_stripe(
        client, subscription("evt_1", "customer.subscription.created", p.T0 + 1, "trialing")
    )
    wait_for(processed("evt_1"), "the trial processed", celery_worker_process)
    contact = Contact.objects.get(email="jenny@example.com")
    assert contact.fields["billing_status"] == "trialing"
    created = api.post(
        "/api/v1/segments",
        {
            "name": "Trialing",
            "conditions": {
                "type": "field",
                "field": "billing_status",
                "op": "eq",
                "value": "trialing",
            },
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    member = SegmentMembership.objects.filter(
        segment_id=created.json()["id"], contact_id=contact.pk, left_at__isnull=True
    )
    wait_for(member.exists, "the trial to enter the segment", celery_worker_process)

    # when the trial converts
    post_stripe(
        client,
        subscription(
            "evt_2",
            "customer.subscription.updated",
            p.T0 + 14 * DAY,
            "active",
            {"status": "trialing"},
        ),
    )

    # then the worker applies it, and the contact leaves the segment
    wait_for(processed("evt_2"), "the conversion processed", celery_worker_process)
    task_publish("segments.tasks.sweep_contact_changes")
    wait_for(lambda: not member.exists(), "the contact to leave the segment", celery_worker_process)
    assert sorted(Event.objects.values_list("name", flat=True)) == [
        "billing.subscription_activated",
        "billing.subscription_created",
        "billing.trial_converted",
        "billing.trial_started",
    ]
