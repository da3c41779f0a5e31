import datetime as dt
import random
import threading
import time

import psycopg
import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from segments.feed import transitions_claim
from segments.models import SegmentTransition, TransitionConsumer
from tests.factories import ContactFactory, SegmentFactory

# Committed data: on PostgreSQL the feed never shows a transaction's own transitions to it
# (nor anything written after them while it runs), so the test's transaction must not wrap
# the writes. The tests not marked `postgresql` run on SQLite too (tests/test_sqlite_paths.py).
pytestmark = pytest.mark.django_db(transaction=True)

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def transitions(count: int, segment=None) -> list[int]:
    segment = segment or SegmentFactory()
    contact = ContactFactory()
    return [
        SegmentTransition.objects.create(
            segment=segment, contact_id=contact.pk, kind="entered", occurred_at=NOW
        ).pk
        for _ in range(count)
    ]


def claim(consumer: str, limit: int = 100) -> list[int]:
    with transaction.atomic():
        return [row.pk for row in transitions_claim(consumer=consumer, limit=limit)]


def test_a_new_consumer_starts_after_the_transitions_written_before_it():
    transitions(2)

    assert claim("flows") == []
    later = transitions(1)
    assert claim("flows") == later


def test_consumers_read_the_same_transitions_independently():
    claim("flows"), claim("webhooks")
    written = transitions(3)

    assert claim("flows", limit=2) == written[:2]
    assert claim("webhooks") == written
    assert claim("flows") == written[2:]
    assert claim("webhooks") == []


def test_the_cursor_is_stored_per_consumer():
    claim("flows")
    written = transitions(2)

    claim("flows")

    cursor = TransitionConsumer.objects.get(name="flows")
    last = SegmentTransition.objects.get(pk=written[-1])
    assert (cursor.last_xact_id, cursor.last_transition_id) == (last.xact_id, last.pk)


def test_a_rolled_back_claim_delivers_its_transitions_again():
    claim("flows")
    written = transitions(3)

    with pytest.raises(RuntimeError), transaction.atomic():
        assert [row.pk for row in transitions_claim(consumer="flows", limit=10)] == written
        raise RuntimeError("the consumer failed")

    assert claim("flows") == written


@pytest.mark.postgresql
def test_claiming_outside_a_transaction_is_refused():
    with pytest.raises(TransactionManagementError):
        transitions_claim(consumer="flows", limit=10)


@pytest.mark.postgresql
def test_concurrent_claimers_never_get_the_same_transition():
    claim("flows")
    written = transitions(60)
    delivered: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def worker():
        try:
            start.wait()
            for _ in range(500):
                with lock:
                    if len(delivered) >= len(written):
                        return
                rows = claim("flows", limit=7)
                with lock:
                    delivered.extend(rows)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(delivered) == written  # each once, none lost


def _other_connection() -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
    )


def left_uncommitted(other: psycopg.Connection, segment, contact) -> None:
    """A `left` transition inserted by `other`'s transaction, left open."""
    other.execute(
        f"INSERT INTO {SegmentTransition._meta.db_table} "
        "(segment_id, contact_id, kind, occurred_at) VALUES (%s, %s, 'left', %s)",
        [segment.pk, contact.pk, NOW],
    )


@pytest.mark.postgresql
def test_a_transition_of_a_transaction_still_open_is_not_skipped():
    segment, contact = SegmentFactory(), ContactFactory()
    claim("flows")
    # given a transaction that inserted a transition and is still open
    with _other_connection() as other:
        left_uncommitted(other, segment, contact)
        # when a later transaction commits its own transition, and the consumer reads
        later = transitions(1, segment=segment)
        assert claim("flows") == []  # held back behind the open transaction, not passed
        other.commit()

    # then both are delivered, the earlier transaction's first
    open_one = SegmentTransition.objects.get(kind="left").pk
    assert claim("flows") == [open_one, *later]


def claim_of(segment_ids, consumer: str = "flows", limit: int = 100) -> list[int]:
    with transaction.atomic():
        rows = transitions_claim(consumer=consumer, limit=limit, segment_ids=segment_ids)
        return [row.pk for row in rows]


def interleaved(*counts: int):
    """A watched and an other segment, the flows' cursor, then runs of transitions of each
    by turns (watched first); (watched, other, the runs' ids)."""
    watched, other = SegmentFactory(), SegmentFactory()
    claim("flows")
    runs = [
        transitions(count, segment=watched if n % 2 == 0 else other)
        for n, count in enumerate(counts)
    ]
    return watched, other, runs


def test_a_consumer_of_some_segments_reads_theirs_and_moves_past_the_others():
    watched, other, (first, _, last) = interleaved(2, 3, 1)

    assert claim_of({watched.pk}) == first + last
    assert claim("flows") == []  # the others' were passed over, not left ahead
    later = transitions(1, segment=other)
    assert claim("flows") == later


def test_a_full_claim_of_some_segments_stops_at_its_last_row():
    watched, _, (first, _, rest, after) = interleaved(2, 2, 2, 1)

    assert claim_of({watched.pk}, limit=3) == first + rest[:1]
    # what lies after the last row delivered is still ahead of the cursor, others' included
    assert claim("flows") == rest[1:] + after


def test_a_consumer_of_no_segment_moves_to_the_end_without_reading_a_row():
    claim("flows")
    transitions(5)

    with CaptureQueriesContext(connection) as queries:
        assert claim_of(set()) == []

    read = [q["sql"] for q in queries.captured_queries if '"kind"' in q["sql"]]
    assert read == []
    assert claim("flows") == []
    later = transitions(1)
    assert claim("flows") == later


def test_the_segments_may_come_from_a_callable_called_during_the_claim():
    watched = SegmentFactory()
    claim("flows")
    written = transitions(2, segment=watched)
    transitions(1)
    calls = []

    def watched_ids():
        calls.append(TransitionConsumer.objects.select_for_update().get(name="flows").pk)
        return [watched.pk]

    assert claim_of(watched_ids) == written
    assert len(calls) == 1


@pytest.mark.postgresql
def test_a_claim_of_some_segments_does_not_pass_a_transaction_still_open():
    watched, other, contact = SegmentFactory(), SegmentFactory(), ContactFactory()
    claim("flows")
    with _other_connection() as conn:
        left_uncommitted(conn, watched, contact)
        transitions(1, segment=other)
        assert claim_of({watched.pk}) == []
        assert claim_of(set()) == []  # nothing to read, and still not past the open one
        conn.commit()

    open_one = SegmentTransition.objects.get(kind="left").pk
    assert claim_of({watched.pk}) == [open_one]


@pytest.mark.postgresql
def test_a_claim_never_passes_what_its_own_transaction_wrote():
    segment, contact = SegmentFactory(), ContactFactory()
    claim("flows")

    with _other_connection() as later, transaction.atomic():
        own = SegmentTransition.objects.create(
            segment=segment, contact_id=contact.pk, kind="entered", occurred_at=NOW
        ).pk
        # a transaction that began after this one ended: the snapshot's upper bound is
        # past this one, which the snapshot does not list as running (it is its own)
        later.execute("SELECT txid_current()")
        later.commit()
        assert transitions_claim(consumer="flows", limit=10) == []
        assert transitions_claim(consumer="flows", limit=10, segment_ids=set()) == []

    assert claim_of({segment.pk}) == [own]


@pytest.mark.postgresql
def test_claims_of_some_segments_beside_concurrent_writers_deliver_each_once():
    watched, other, contact = SegmentFactory(), SegmentFactory(), ContactFactory()
    claim("flows")
    written: list[int] = []
    delivered: list[int] = []
    lock = threading.Lock()
    writers_done = threading.Event()

    def write(segment, seed: int) -> None:
        pause = random.Random(seed)
        try:
            for _ in range(30):
                with transaction.atomic():
                    pk = SegmentTransition.objects.create(
                        segment=segment, contact_id=contact.pk, kind="entered", occurred_at=NOW
                    ).pk
                    # held open a little: others commit later rows meanwhile
                    time.sleep(pause.uniform(0, 0.004))
                if segment == watched:
                    with lock:
                        written.append(pk)
        finally:
            connection.close()

    def consume() -> None:
        try:
            while True:
                last_round = writers_done.is_set()
                rows = claim_of({watched.pk}, limit=4)
                with lock:
                    delivered.extend(rows)
                if last_round and not rows:
                    return
        finally:
            connection.close()

    writers = [
        threading.Thread(target=write, args=(segment, seed))
        for seed, segment in enumerate([watched, watched, other, other])
    ]
    consumers = [threading.Thread(target=consume) for _ in range(2)]
    for thread in writers + consumers:
        thread.start()
    for thread in writers:
        thread.join()
    writers_done.set()
    for thread in consumers:
        thread.join()

    assert sorted(delivered) == sorted(written)  # each once, none passed over
