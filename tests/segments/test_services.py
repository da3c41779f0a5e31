"""segments.services: the schedule after a conditions change, and the graph checks a save
runs (sequential cases; the concurrent ones are in test_races.py)."""

import datetime as dt

import pytest

from segments.evaluation import segment_evaluate
from segments.models import Segment, SegmentMembership
from segments.scheduler import segments_evaluate_due
from segments.services import REFRESH_GRACE, segment_create, segment_update
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
IN_FRANCE = {"type": "field", "field": "country", "op": "eq", "value": "FR"}
IN_GERMANY = {"type": "field", "field": "country", "op": "eq", "value": "DE"}


def members(segment) -> set[int]:
    current = SegmentMembership.objects.current().filter(segment=segment)
    return set(current.values_list("contact_id", flat=True))


def reads(segment_id: int) -> dict:
    return {"type": "segment", "op": "in", "segment": segment_id}


def test_a_lost_refresh_after_a_conditions_change_is_retried(django_capture_on_commit_callbacks):
    # given: an evaluated segment that reads no clock (nothing due)
    ContactFactory(country="FR")
    bob = ContactFactory(country="DE")
    segment = segment_create(name="Country", conditions=IN_FRANCE, now=NOW)
    segment_evaluate(segment=segment, now=NOW)
    assert segment.next_evaluation_at is None

    # when: its conditions change and the queued refresh is lost (never run)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        segment_update(segment=segment, conditions=IN_GERMANY, now=NOW)
    assert len(callbacks) == 1

    # then: the periodic task of due segments evaluates it once the grace has passed
    assert segments_evaluate_due(now=NOW + REFRESH_GRACE - dt.timedelta(seconds=1)) == {}
    results = segments_evaluate_due(now=NOW + REFRESH_GRACE)
    assert set(results) == {segment.pk}
    assert members(segment) == {bob.pk}
    segment.refresh_from_db()
    assert segment.next_evaluation_at is None  # evaluated: nothing due until the next change


def test_a_change_of_name_only_schedules_nothing():
    segment = segment_create(name="Country", conditions=IN_FRANCE, now=NOW)
    segment_evaluate(segment=segment, now=NOW)

    segment_update(segment=segment, name="France", now=NOW)

    segment.refresh_from_db()
    assert segment.next_evaluation_at is None


def test_a_sequential_three_segment_cycle_is_refused():
    a = segment_create(name="A", conditions=IN_FRANCE)
    b = segment_create(name="B", conditions=IN_FRANCE)
    c = segment_create(name="C", conditions=IN_FRANCE)
    segment_update(segment=a, conditions=reads(b.pk))
    segment_update(segment=b, conditions=reads(c.pk))

    with pytest.raises(Exception) as refused:
        segment_update(segment=c, conditions=reads(a.pk))

    assert refused.value.errors == {
        "conditions.segment": [f"Cycle: segment {a.pk} -> {b.pk} refers back to this segment."]
    }
    assert Segment.objects.get(pk=c.pk).conditions == IN_FRANCE
