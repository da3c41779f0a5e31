import datetime as dt
import threading

import pytest
from django.db import connections, transaction

from contacts.models import Contact
from segments import drain, sql
from segments.evaluation import segment_evaluate
from segments.models import (
    PendingContactChange,
    Segment,
    SegmentMembership,
    SegmentTransition,
)
from segments.services import segment_create
from tests.factories import ContactFactory, PendingContactChangeFactory

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=1)
IN_FRANCE = {"type": "field", "field": "country", "op": "eq", "value": "FR"}
LOGGED_IN = {"type": "event", "event": "login", "op": "performed"}


def members(segment) -> set[int]:
    current = SegmentMembership.objects.current().filter(segment=segment)
    return set(current.values_list("contact_id", flat=True))


def evaluated_segment(name, conditions):
    segment = segment_create(name=name, conditions=conditions)
    segment_evaluate(segment=segment, now=NOW)
    return segment


def queue_change(contacts, changes):
    """A pending row as a writer leaves it, without the writer's own re-evaluation."""
    ids = sorted(contact.pk for contact in contacts)
    return PendingContactChangeFactory(contact_ids=ids, contact_count=len(ids), changes=changes)


@pytest.fixture
def small_threshold(monkeypatch):
    """Any queue of 2 contacts or more counts as large, and the contacts table is as large as
    it is: the planner's estimate another test left behind (an ANALYZE's row count outlives
    its rolled-back rows) must not pick the drain's strategy."""
    monkeypatch.setattr(drain, "BULK_MIN_CONTACTS", 2)
    monkeypatch.setattr(drain, "BULK_SHARE", 0.0)
    monkeypatch.setattr(drain, "_contacts_estimate", lambda: Contact.objects.count())


@pytest.mark.django_db
def test_a_small_queue_is_left_to_the_incremental_path():
    french = ContactFactory(country="FR")
    segment = evaluated_segment("France", IN_FRANCE)
    ContactFactory.create_batch(2, country="FR")
    queue_change([french], ["field:country"])

    assert drain.contact_changes_drain_in_bulk(now=LATER) is None

    assert PendingContactChange.objects.count() == 1
    assert Segment.objects.get(pk=segment.pk).last_evaluated_at == NOW


@pytest.mark.django_db
def test_a_queue_above_its_share_of_the_contacts_is_large(monkeypatch):
    monkeypatch.setattr(drain, "BULK_MIN_CONTACTS", 10)
    monkeypatch.setattr(drain, "_contacts_estimate", lambda: 1_000)

    assert not drain.queue_is_large(queued_contacts=9)  # under the floor
    assert not drain.queue_is_large(queued_contacts=10)  # 1 % of 1,000
    assert drain.queue_is_large(queued_contacts=11)


@pytest.mark.django_db
def test_a_large_queue_evaluates_the_affected_segments_fully(small_threshold):
    # given: two contacts moved to France while their changes sat in the queue
    ann, bob = ContactFactory.create_batch(2, country="DE")
    france = evaluated_segment("France", IN_FRANCE)
    logged_in = evaluated_segment("Logged in", LOGGED_IN)
    ann.country = bob.country = "FR"
    ann.save()
    bob.save()
    queue_change([ann, bob], ["field:country"])

    # when
    result = drain.contact_changes_drain_in_bulk(now=LATER)

    # then: the segment reading country is current, the one reading logins untouched
    assert result == drain.BulkDrain(contacts=2, segments=1)
    assert members(france) == {ann.pk, bob.pk}
    assert Segment.objects.get(pk=france.pk).last_evaluated_at == LATER
    assert Segment.objects.get(pk=logged_in.pk).last_evaluated_at == NOW
    assert not PendingContactChange.objects.exists()


@pytest.mark.django_db
def test_a_row_queued_during_the_bulk_drain_stays_queued(small_threshold, monkeypatch):
    ann, bob = ContactFactory.create_batch(2, country="FR")
    evaluated_segment("France", IN_FRANCE)
    queue_change([ann, bob], ["field:country"])
    refresh = drain.segments_refresh
    late = []

    def refresh_then_a_write_arrives(**kwargs):
        results = refresh(**kwargs)
        late.append(queue_change([ann], ["field:country"]))
        return results

    monkeypatch.setattr(drain, "segments_refresh", refresh_then_a_write_arrives)

    drain.contact_changes_drain_in_bulk(now=LATER)

    assert list(PendingContactChange.objects.values_list("pk", flat=True)) == [late[0].pk]


@pytest.mark.django_db(transaction=True)
def test_rows_an_incremental_worker_holds_are_left_to_it(small_threshold):
    ann, bob = ContactFactory.create_batch(2, country="FR")
    evaluated_segment("France", IN_FRANCE)
    held = queue_change([ann], ["field:country"])
    free = queue_change([bob], ["field:country"])
    locked, release = threading.Event(), threading.Event()

    def incremental_worker():
        try:
            with transaction.atomic():
                list(PendingContactChange.objects.select_for_update().filter(pk=held.pk))
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    worker = threading.Thread(target=incremental_worker)
    worker.start()
    try:
        assert locked.wait(10)
        drain.contact_changes_drain_in_bulk(now=LATER)
        remaining = set(PendingContactChange.objects.values_list("pk", flat=True))
    finally:
        release.set()
        worker.join(10)

    assert free.pk not in remaining
    assert remaining == {held.pk}


@pytest.mark.django_db(transaction=True)
def test_only_one_worker_drains_in_bulk_at_a_time(small_threshold):
    ann, bob = ContactFactory.create_batch(2, country="FR")
    evaluated_segment("France", IN_FRANCE)
    queue_change([ann, bob], ["field:country"])
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [drain._BULK_LOCK_KEY])

        assert drain.contact_changes_drain_in_bulk(now=LATER) is None
        assert PendingContactChange.objects.count() == 1
    finally:
        other.close()


@pytest.mark.django_db
def test_drain_processes_a_large_queue_whole(small_threshold):
    ann, bob = ContactFactory.create_batch(2, country="DE")
    france = evaluated_segment("France", IN_FRANCE)
    ann.country = "FR"
    ann.save()
    queue_change([ann, bob], ["field:country"])

    assert drain.contact_changes_drain(now=LATER) == 2

    assert members(france) == {ann.pk}
    assert not PendingContactChange.objects.exists()


@pytest.fixture
def queued_contacts_only(small_threshold, monkeypatch):
    """A queue that is large, but a minority of the contacts (PostgreSQL's bulk path)."""
    monkeypatch.setattr(drain, "_contacts_estimate", lambda: 1_000)


@pytest.mark.postgresql
@pytest.mark.django_db
def test_a_large_minority_queue_evaluates_only_the_queued_contacts(queued_contacts_only):
    # given: two queued contacts moved to France, and a third moved without a queue row
    ann, bob, unqueued = ContactFactory.create_batch(
        3, country="DE", created_at=NOW - dt.timedelta(days=1)
    )
    france = evaluated_segment("France", IN_FRANCE)
    logged_in = evaluated_segment("Logged in", LOGGED_IN)
    for contact in (ann, bob, unqueued):
        contact.country = "FR"
        contact.save()
    queue_change([ann, bob], ["field:country"])

    # when
    result = drain.contact_changes_drain_in_bulk(now=LATER)

    # then: the queued contacts are current in the segment reading country, in one pass; the
    # segments keep their full evaluation's time, the one reading logins is untouched
    assert result == drain.BulkDrain(contacts=2, segments=1)
    assert members(france) == {ann.pk, bob.pk}
    assert Segment.objects.get(pk=france.pk).last_evaluated_at == NOW
    assert Segment.objects.get(pk=france.pk).size == 2
    assert Segment.objects.get(pk=logged_in.pk).last_evaluated_at == NOW
    assert not PendingContactChange.objects.exists()


@pytest.mark.postgresql
@pytest.mark.django_db
def test_a_bulk_drain_passes_many_contacts_as_one_array(queued_contacts_only, monkeypatch):
    # given: more queued contacts than a statement takes as a list
    monkeypatch.setattr(sql, "ID_LIST_MAX", 1)
    french = ContactFactory.create_batch(3, country="DE")
    france = evaluated_segment("France", IN_FRANCE)
    for contact in french:
        contact.country = "FR"
        contact.save()
    queue_change(french, ["field:country"])

    # when
    drain.contact_changes_drain_in_bulk(now=LATER)
    for contact in french[:2]:
        contact.country = "DE"
        contact.save()
    queue_change(french, ["field:country"])
    drain.contact_changes_drain_in_bulk(now=LATER)

    # then: the same entries and departures as lists of ids give
    assert members(france) == {french[2].pk}
    kinds = SegmentTransition.objects.filter(segment=france).values_list("contact_id", "kind")
    assert sorted(kinds) == sorted(
        [(c.pk, "entered") for c in french] + [(c.pk, "left") for c in french[:2]]
    )
