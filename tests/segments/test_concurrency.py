import datetime as dt
import threading

import pytest
from django.db import connection

from contacts.models import Contact
from segments.evaluation import segment_evaluate, segment_evaluate_contacts
from segments.models import SegmentMembership, SegmentTransition
from tests.factories import ContactFactory, SegmentFactory

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
IN_FRANCE = {"type": "field", "field": "country", "op": "eq", "value": "FR"}
RACERS = 4


def race(function, count: int) -> list:
    """Run `function` in `count` threads (each with its own database connection) released
    together; returns their results, re-raising the first error."""
    barrier = threading.Barrier(count)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(function())
        except Exception as exc:  # surfaced in the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


@pytest.mark.django_db(transaction=True)
def test_racing_evaluations_of_one_segment_emit_each_transition_once():
    contacts = ContactFactory.create_batch(30, country="FR")
    segment = SegmentFactory(conditions=IN_FRANCE)  # not evaluated yet

    # given a first race where everyone enters
    results = race(lambda: segment_evaluate(segment=segment, now=NOW), RACERS)
    assert sorted(result.entered for result in results) == [0] * (RACERS - 1) + [30]
    # when half of them leave and the evaluations race again
    leaving = [contact.pk for contact in contacts[:15]]
    Contact.objects.filter(pk__in=leaving).update(country="DE")
    later = NOW + dt.timedelta(minutes=5)
    results = race(lambda: segment_evaluate(segment=segment, now=later), RACERS)

    # then each change was emitted exactly once
    assert sorted(result.left for result in results) == [0] * (RACERS - 1) + [15]
    kinds = list(SegmentTransition.objects.filter(segment=segment).values_list("kind", flat=True))
    assert (kinds.count("entered"), kinds.count("left")) == (30, 15)
    assert SegmentMembership.objects.filter(segment=segment, left_at__isnull=True).count() == 15
    segment.refresh_from_db()
    assert segment.size == 15


@pytest.mark.django_db(transaction=True)
def test_racing_incremental_evaluations_keep_the_size_exact():
    contacts = ContactFactory.create_batch(RACERS, country="FR")
    segment = SegmentFactory(conditions=IN_FRANCE)
    segment_evaluate(segment=segment, now=NOW)
    Contact.objects.update(country="DE")
    segment_evaluate(segment=segment, now=NOW)
    Contact.objects.update(country="FR")
    turns = iter(contacts)
    lock = threading.Lock()

    def evaluate_one_contact():
        with lock:
            contact = next(turns)
        return segment_evaluate_contacts(segment=segment, contact_ids=[contact.pk], now=NOW)

    race(evaluate_one_contact, RACERS)

    segment.refresh_from_db()
    assert segment.size == RACERS
    assert SegmentMembership.objects.filter(segment=segment, left_at__isnull=True).count() == RACERS
