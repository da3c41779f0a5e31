import time

import pytest

from segments.models import PendingContactChange, Segment, SegmentMembership, SegmentTransition

WAIT_SECONDS = 60


def wait_for(condition, what: str, worker) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"Timed out waiting for {what}. Worker log:\n{worker.log()}")


def segment_evaluated_by(worker, api, name: str, conditions: dict) -> int:
    """A segment created through the API, once the worker has evaluated it; its id."""
    created = api.post("/api/v1/segments", {"name": name, "conditions": conditions}, format="json")
    assert created.status_code == 201, created.content
    segment_id = created.json()["id"]
    wait_for(
        lambda: Segment.objects.get(pk=segment_id).last_evaluated_at is not None,
        "the first evaluation",
        worker,
    )
    return segment_id


BUYERS = {"type": "event", "event": "purchase", "op": "performed"}


@pytest.mark.integration
def test_event_posted_through_the_api_moves_the_contact_in_via_the_worker(
    api, celery_worker_process
):
    # given a segment of contacts who purchased, evaluated by the worker
    segment_id = segment_evaluated_by(celery_worker_process, api, "Buyers", BUYERS)
    api.post("/api/v1/contacts", {"email": "jane@example.com"}, format="json")
    assert not SegmentMembership.objects.filter(segment_id=segment_id).exists()

    # when an event arrives through the API
    response = api.post(
        "/api/v1/events", {"email": "jane@example.com", "name": "purchase"}, format="json"
    )
    assert response.status_code == 202
    contact_id = response.json()["contact"]

    # then the worker moves her in, and the outbox holds that transition once
    wait_for(
        lambda: SegmentMembership.objects.filter(
            segment_id=segment_id, contact_id=contact_id, left_at__isnull=True
        ).exists(),
        "the contact to enter",
        celery_worker_process,
    )
    # a second event and a full evaluation change nothing
    api.post("/api/v1/events", {"email": "jane@example.com", "name": "purchase"}, format="json")
    evaluated_at = Segment.objects.get(pk=segment_id).last_evaluated_at
    api.post(f"/api/v1/segments/{segment_id}/evaluate", format="json")
    wait_for(
        lambda: (
            Segment.objects.get(pk=segment_id).last_evaluated_at > evaluated_at
            and not PendingContactChange.objects.exists()
        ),
        "the worker to process both",
        celery_worker_process,
    )
    transitions = SegmentTransition.objects.filter(segment_id=segment_id, contact_id=contact_id)
    assert list(transitions.values_list("kind", flat=True)) == ["entered"]
    assert Segment.objects.get(pk=segment_id).size == 1


@pytest.mark.integration
def test_a_restarted_worker_compiles_its_segments_before_the_first_batch_and_still_works(
    api, celery_worker_process
):
    # given a segment the worker evaluated
    segment_id = segment_evaluated_by(celery_worker_process, api, "Buyers", BUYERS)

    # when the worker restarts
    celery_worker_process.restart()

    # then it compiled that segment's conditions before forking its pool process, and that
    # process (which inherited them, but no database connection) moves a buyer in
    started = celery_worker_process.log().rpartition("--- starting worker")[2]
    assert "Compiled the conditions of 1 segments before the first batch" in started
    response = api.post(
        "/api/v1/events", {"email": "jane@example.com", "name": "purchase"}, format="json"
    )
    wait_for(
        lambda: SegmentMembership.objects.filter(
            segment_id=segment_id, contact_id=response.json()["contact"], left_at__isnull=True
        ).exists(),
        "the buyer to enter",
        celery_worker_process,
    )
    assert "Traceback" not in celery_worker_process.log().rpartition("--- starting worker")[2]
