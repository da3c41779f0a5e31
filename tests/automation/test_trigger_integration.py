"""Triggers end to end with a real Celery worker on Redis: the API stores an event (this
process writes the outbox row), the worker consumes it; a segment evaluation in the worker
writes transitions, which the flows' consumer turns into enrollments."""

import threading
from contextlib import contextmanager

import pytest

from automation.models import Enrollment, PendingFlowEvent
from automation.trigger_watch import watched_reset
from automation.triggers import TRANSITIONS_TASK
from segflow.queue import task_publish
from tests.automation.live_flow import live_version
from tests.segments.test_worker_integration import BUYERS, segment_evaluated_by, wait_for

pytestmark = pytest.mark.integration


@contextmanager
def consumer_ticks(*, every: float = 0.5):
    """Publish the flows' transitions consumer every `every` seconds to the test's queue."""
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(every):
            task_publish(TRANSITIONS_TASK)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def test_an_event_posted_through_the_api_enrolls_the_contact(api, flow_worker):
    # given an active flow triggered by cart.updated with a property filter
    watched_reset()
    version = live_version(
        {
            "type": "event",
            "event": "cart.updated",
            "where": [{"property": "items", "op": "gte", "value": 1}],
        }
    )
    flow_worker.start()

    # when two events arrive through the API, one of them passing the filter
    empty = api.post(
        "/api/v1/events",
        {"email": "empty@example.com", "name": "cart.updated", "properties": {"items": 0}},
        format="json",
    )
    full = api.post(
        "/api/v1/events",
        {"email": "jane@example.com", "name": "cart.updated", "properties": {"items": 2}},
        format="json",
    )
    assert (empty.status_code, full.status_code) == (202, 202)

    # then the worker enrolls Jane, once, on that event
    wait_for(lambda: not PendingFlowEvent.objects.exists(), "the outbox to drain", flow_worker)
    enrollment = Enrollment.objects.get(flow_id=version.flow_id)
    assert enrollment.contact_id == full.json()["contact"]
    assert enrollment.trigger_event_id == full.json()["id"]


def test_a_segment_evaluation_enrolls_the_contacts_who_entered(api, flow_worker):
    # given a segment of buyers, evaluated by the worker, and a flow on entering it
    flow_worker.start()
    segment_id = segment_evaluated_by(flow_worker, api, "Buyers", BUYERS)
    version = live_version({"type": "segment_entered", "segment": segment_id})

    # when a purchase moves Jane in
    response = api.post(
        "/api/v1/events", {"email": "jane@example.com", "name": "purchase"}, format="json"
    )

    # then after the worker's evaluation, the flows' consumer enrolls her (the test plays
    # beat's part: the worker's own wake-ups go to the default queue, not the test's)
    with consumer_ticks():
        wait_for(
            lambda: Enrollment.objects.filter(flow_id=version.flow_id).exists(),
            "the enrollment",
            flow_worker,
        )
    enrollment = Enrollment.objects.get(flow_id=version.flow_id)
    assert enrollment.contact_id == response.json()["contact"]
    assert enrollment.trigger_key.startswith("transition:")
