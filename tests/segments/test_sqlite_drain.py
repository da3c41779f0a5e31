"""The embedded default's drain (SQLite: one write lock for the whole database) leaves room for
the web's writes: each segment's evaluation is a short write transaction of its own.

These run in the SQLite pass of the suite (tests/test_sqlite_paths.py), not on PostgreSQL.
"""

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from segments import scheduler
from segments.evaluation import segment_evaluate
from segments.models import PendingContactChange, SegmentMembership
from segments.services import segment_create
from tests.factories import ContactFactory, PendingContactChangeFactory

pytestmark = [
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's database-wide lock"),
    pytest.mark.django_db(transaction=True),
]

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=1)
IN_FRANCE = {"type": "field", "field": "country", "op": "eq", "value": "FR"}
IN_GERMANY = {"type": "field", "field": "country", "op": "eq", "value": "DE"}


def write_from_another_connection(contact_id: int, outcome: list) -> None:
    """A web request's write, from its own connection, while the drain is under way."""
    try:
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute(
                    "UPDATE contacts_contact SET first_name = 'web' WHERE id = %s", [contact_id]
                )
            outcome.append("written")
        finally:
            other.close()
    except Exception as exc:
        outcome.append(repr(exc))


def test_the_web_can_write_between_two_segments_of_a_batch(monkeypatch):
    # given: two segments reading country, a contact queued for both
    ann = ContactFactory(country="FR", created_at=NOW - dt.timedelta(days=1))
    france = segment_create(name="France", conditions=IN_FRANCE)
    germany = segment_create(name="Germany", conditions=IN_GERMANY)
    for segment in (france, germany):
        segment_evaluate(segment=segment, now=NOW)
    PendingContactChangeFactory(contact_ids=[ann.pk], contact_count=1, changes=["field:country"])
    evaluate = scheduler.segment_evaluate_contacts
    outcomes: list = []

    def evaluate_then_the_web_writes(**kwargs):
        result = evaluate(**kwargs)
        if not outcomes:  # after the first segment, before the second
            writer = threading.Thread(target=write_from_another_connection, args=(ann.pk, outcomes))
            writer.start()
            writer.join(10)
        return result

    monkeypatch.setattr(scheduler, "segment_evaluate_contacts", evaluate_then_the_web_writes)

    # when
    processed = scheduler.contact_changes_process_batch(now=LATER)

    # then: the other connection's write went through mid-batch, and the batch completed
    assert outcomes == ["written"]
    assert processed == 1
    assert not PendingContactChange.objects.exists()
    assert SegmentMembership.objects.current().filter(segment=france, contact=ann).exists()


def test_one_thread_of_a_worker_drains_at_a_time():
    ann = ContactFactory(country="FR")
    PendingContactChangeFactory(contact_ids=[ann.pk], contact_count=1, changes=["field:country"])
    scheduler._sqlite_drainer.acquire()  # another thread of this worker is draining
    try:
        assert scheduler.contact_changes_process_batch(now=LATER) == 0
    finally:
        scheduler._sqlite_drainer.release()

    assert PendingContactChange.objects.count() == 1
    assert scheduler.contact_changes_process_batch(now=LATER) == 1
