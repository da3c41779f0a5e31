"""The real path with a real Celery worker: events posted through the API are scored by the
worker, and the score moves the contact into a segment on lead_score."""

import pytest

from contacts.models import Contact
from scoring.models import PendingScoreEvents, ScoreLedgerEntry, ScoringRule
from segments.models import SegmentMembership
from tests.segments.test_worker_integration import segment_evaluated_by, wait_for


@pytest.mark.integration
def test_posted_events_are_scored_by_the_worker_and_move_the_contact(api, celery_worker_process):
    ScoringRule.objects.all().delete()
    rule = api.post(
        "/api/v1/scoring-rules",
        {"name": "Demo", "event": "demo.requested", "points": 45, "daily_cap": 90},
        format="json",
    )
    assert rule.status_code == 201
    hot = {"type": "field", "field": "lead_score", "op": "gte", "value": 80}
    segment_id = segment_evaluated_by(celery_worker_process, api, "Hot", hot)

    events = [{"email": "jane@example.com", "name": "demo.requested"}] * 3
    response = api.post("/api/v1/events/batch", {"events": events}, format="json")
    assert response.status_code == 202
    contact = Contact.objects.get(email="jane@example.com")

    wait_for(
        lambda: SegmentMembership.objects.filter(
            segment_id=segment_id, contact_id=contact.pk, left_at__isnull=True
        ).exists(),
        "the contact to enter the segment",
        celery_worker_process,
    )
    contact.refresh_from_db()
    assert contact.lead_score == 90  # the third event passes the daily cap
    assert ScoreLedgerEntry.objects.filter(contact=contact).count() == 2
    assert not PendingScoreEvents.objects.exists()
