import datetime as dt
import threading
import time

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from contacts.ingest import EventInput, events_ingest
from contacts.models import Contact, Event
from contacts.signals import contacts_changed
from segments.dependencies import ACTIVITY_UNBOUNDED
from segments.models import PendingContactChange
from tests.factories import ContactFactory

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def event(name: str = "login", **values) -> EventInput:
    values.setdefault("email", "a@example.com")
    return EventInput(name=name, occurred_at=NOW - dt.timedelta(minutes=1), **values)


@pytest.mark.django_db
def test_results_follow_input_order_when_keyed_and_keyless_events_interleave():
    events = [
        event("first"),
        event("keyed-z", idempotency_key="z"),
        event("second"),
        event("keyed-a", idempotency_key="a"),
        event("replay-z", idempotency_key="z"),
        event("third"),
    ]

    stored = events_ingest(events=events, now=NOW)

    names = dict(Event.objects.values_list("pk", "name"))
    assert [names[s.event_id] for s in stored] == [
        "first",
        "keyed-z",
        "second",
        "keyed-a",
        "keyed-z",
        "third",
    ]
    assert [s.duplicate for s in stored] == [False, False, False, False, True, False]


@pytest.mark.django_db
@pytest.mark.postgresql
def test_keyed_events_are_inserted_in_key_order_whatever_the_input_order():
    # One lock order for every writer: two batches holding the same keys cannot deadlock.
    stored = events_ingest(
        events=[
            event(idempotency_key="k3"),
            event(idempotency_key="k1"),
            event(idempotency_key="k2"),
        ],
        now=NOW,
    )

    ids = [s.event_id for s in stored]
    assert ids[1] < ids[2] < ids[0]


@pytest.mark.django_db
def test_unknown_contacts_are_created_in_identity_order():
    events_ingest(events=[event(email="c@example.com"), event(email="b@example.com")], now=NOW)

    emails = list(Contact.objects.order_by("pk").values_list("email", flat=True))
    assert emails == ["b@example.com", "c@example.com"]


@pytest.mark.django_db
@pytest.mark.postgresql
def test_batch_ingest_takes_the_same_number_of_queries_whatever_its_size(
    django_assert_num_queries,
):
    existing = ContactFactory.create_batch(3)
    Event.objects.create(
        contact=existing[0], name="seen", occurred_at=NOW, idempotency_key="replayed"
    )
    events = [event(email=existing[i % 3].email) for i in range(900)]
    events += [event(email=f"new{i}@example.com") for i in range(99)]
    events.append(event(email=existing[0].email, idempotency_key="replayed"))

    # savepoint, lookup, create the unknown contacts, check foreign keys as rows go in,
    # insert the keyless events, then the keyed ones, find the replayed key's event, record
    # the changes for segments, advance last_activity_at, release
    with django_assert_num_queries(10):
        stored = events_ingest(events=events, now=NOW)

    assert sum(s.duplicate for s in stored) == 1
    assert Event.objects.count() == 1 + 999


@pytest.mark.django_db
@pytest.mark.postgresql
def test_a_batch_that_moves_no_last_activity_does_not_update_contacts(
    django_assert_num_queries,
):
    # given contacts active after every event of the batch (a backfill of older events)
    later = NOW + dt.timedelta(hours=1)
    contacts = ContactFactory.create_batch(2, last_activity_at=later)
    events = [event("login", email=contact.email) for contact in contacts]

    # then: savepoint, lookup, check foreign keys, insert, record the changes, release; no
    # UPDATE of contacts_contact
    with django_assert_num_queries(6) as captured:
        events_ingest(events=events, now=NOW)

    assert not any("UPDATE" in query["sql"] for query in captured.captured_queries)
    assert {c.last_activity_at for c in Contact.objects.all()} == {later}


@pytest.mark.django_db
def test_a_batch_updates_only_the_contacts_whose_last_activity_moves():
    earlier, later = NOW - dt.timedelta(days=1), NOW + dt.timedelta(hours=1)
    idle = ContactFactory(email="idle@example.com", last_activity_at=earlier)
    busy = ContactFactory(email="busy@example.com", last_activity_at=later)
    never = ContactFactory(email="never@example.com", last_activity_at=None)

    events_ingest(events=[event(email=c.email) for c in (idle, busy, never)], now=NOW)

    moved = dict(Contact.objects.values_list("email", "last_activity_at"))
    occurred = NOW - dt.timedelta(minutes=1)
    assert moved == {idle.email: occurred, busy.email: later, never.email: occurred}


@pytest.mark.django_db
def test_contacts_changed_carries_the_contacts_of_fresh_events_only(
    django_capture_on_commit_callbacks,
):
    known, replayed = ContactFactory(email="k@example.com"), ContactFactory(email="r@example.com")
    Event.objects.create(contact=replayed, name="login", occurred_at=NOW, idempotency_key="once")
    received = []

    def receiver(sender, contact_ids, changes, **kwargs):
        received.append((set(contact_ids), set(changes)))

    contacts_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            events_ingest(
                events=[
                    event("login", email="k@example.com"),
                    event("purchase", email="k@example.com"),
                    event("login", email="r@example.com", idempotency_key="once"),
                ],
                now=NOW,
            )
    finally:
        contacts_changed.disconnect(receiver)

    assert received == [({known.pk}, {"event:login", "event:purchase"})]


def _wait_until_blocked_on_event_insert(timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%%INSERT INTO contacts_event%%' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the batch never waited on the event insert")


def _ingest_in_thread(events, *, session_sql=None) -> tuple[threading.Thread, dict]:
    """events_ingest on its own connection; its result or exception lands in the dict."""
    outcome = {}

    def ingest():
        try:
            if session_sql:
                with connection.cursor() as cursor:
                    cursor.execute(session_sql)
            outcome["stored"] = events_ingest(events=events, now=timezone.now())
        except Exception as exc:  # surfaced in the caller's assertions
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=ingest)
    thread.start()
    return thread, outcome


def _insert_keyed_event(writer: psycopg.Connection, *, contact_id: int, key: str) -> int:
    """An event with this idempotency key, uncommitted in `writer`'s transaction."""
    return writer.execute(
        "INSERT INTO contacts_event (contact_id, name, properties, occurred_at, received_at, "
        "source, idempotency_key) VALUES (%s, 'login', '{}', now(), now(), 'api', %s) "
        "RETURNING id",
        [contact_id, key],
    ).fetchone()[0]


def _other_writer() -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("other_commits", [True, False])
@pytest.mark.postgresql
def test_a_key_in_flight_elsewhere_is_stored_once_whichever_way_that_write_ends(other_commits):
    """The batch waits for the other writer of key "k": if it commits, the batch's event is
    its duplicate; if it rolls back, the batch's event is stored (not lost)."""
    contact = ContactFactory(email="owner@example.com")
    other = _other_writer()
    other_event_id = _insert_keyed_event(other, contact_id=contact.pk, key="k")
    batch, outcome = _ingest_in_thread(
        [event(email=contact.email, idempotency_key="k"), event("page.viewed", email=contact.email)]
    )
    try:
        _wait_until_blocked_on_event_insert()
        other.commit() if other_commits else other.rollback()
    finally:
        batch.join(timeout=60)
        other.close()

    assert "error" not in outcome, outcome.get("error")
    keyed, keyless = outcome["stored"]
    stored_k = Event.objects.get(idempotency_key="k")
    assert keyed.duplicate is other_commits
    assert keyed.event_id == stored_k.pk
    assert (stored_k.pk == other_event_id) is other_commits
    assert not keyless.duplicate
    assert Event.objects.count() == 2
    contact.refresh_from_db()
    assert contact.last_activity_at == NOW - dt.timedelta(minutes=1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql
def test_a_batch_that_loses_a_deadlock_runs_again_and_stores_nothing_twice():
    contact = ContactFactory(email="owner@example.com")
    other = _other_writer()
    # given another writer holding idempotency key "k" (uncommitted); it may wait long
    # before it looks for deadlocks, so the batch below is the one that gives way
    other.execute("SET deadlock_timeout = '60s'")
    other_event_id = _insert_keyed_event(other, contact_id=contact.pk, key="k")
    batch, outcome = _ingest_in_thread(
        [event(email="new@example.com", idempotency_key="k")],
        session_sql="SET deadlock_timeout = '3s'",
    )
    try:
        # when the batch, holding its new contact, waits for key "k" and the other writer
        # then creates the same contact: a deadlock
        _wait_until_blocked_on_event_insert()
        other_contact_id = other.execute(
            "INSERT INTO contacts_contact (email, email_status, lead_score, created_at, "
            "updated_at, fields) VALUES ('new@example.com', 'active', 0, now(), now(), '{}') "
            "RETURNING id"
        ).fetchone()[0]
        other.commit()
    finally:
        batch.join(timeout=60)
        other.close()

    # then the batch ran again and found the other writer's contact and event
    assert "error" not in outcome, outcome.get("error")
    [stored] = outcome["stored"]
    assert (stored.event_id, stored.contact_id, stored.duplicate) == (
        other_event_id,
        other_contact_id,
        True,
    )
    assert Event.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("identity", ["email", "external_id"])
@pytest.mark.postgresql
def test_one_event_for_a_known_contact_is_one_statement(identity, django_assert_num_queries):
    contact = ContactFactory(email="known@example.com", external_id="u-1")
    values = {
        "email": None,
        identity: {"email": "known@example.com", "external_id": "u-1"}[identity],
    }

    # one statement: the event, last_activity_at and the change recorded for segments
    with django_assert_num_queries(1):
        [stored] = events_ingest(events=[event("login", **values)], now=NOW)

    [pending] = PendingContactChange.objects.all()
    assert (pending.contact_ids, pending.changes) == (
        [contact.pk],
        [ACTIVITY_UNBOUNDED, "event:login"],
    )

    contact.refresh_from_db()
    assert Event.objects.get(pk=stored.event_id).contact_id == contact.pk == stored.contact_id
    assert contact.last_activity_at == NOW - dt.timedelta(minutes=1)
    assert not stored.duplicate


@pytest.mark.django_db
def test_one_replayed_event_is_a_duplicate_and_does_not_move_last_activity():
    contact = ContactFactory(email="known@example.com")
    [first] = events_ingest(events=[event(email=contact.email, idempotency_key="k")], now=NOW)
    later = EventInput(name="login", email=contact.email, idempotency_key="k", occurred_at=NOW)

    [replay] = events_ingest(events=[later], now=NOW)

    contact.refresh_from_db()
    assert (replay.event_id, replay.duplicate) == (first.event_id, True)
    assert contact.last_activity_at == NOW - dt.timedelta(minutes=1)
    assert Event.objects.count() == 1


@pytest.mark.django_db
def test_one_event_with_a_new_external_id_links_it_to_the_contact_of_its_email():
    contact = ContactFactory(email="known@example.com", external_id=None)

    [stored] = events_ingest(events=[event(email="known@example.com", external_id="u-9")], now=NOW)

    contact.refresh_from_db()
    assert (stored.contact_id, contact.external_id) == (contact.pk, "u-9")


@pytest.mark.django_db
def test_a_new_external_id_given_with_two_known_emails_links_to_the_first_only():
    # given: two known contacts without external_id, one batch naming both with the same new id
    first = ContactFactory(email="first@example.com", external_id=None)
    second = ContactFactory(email="second@example.com", external_id=None)

    # when
    stored = events_ingest(
        events=[
            event(email="first@example.com", external_id="u-1"),
            event(email="second@example.com", external_id="u-1"),
        ],
        now=NOW,
    )

    # then: external_id identifies first, so both events belong to the contact it was linked to
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.external_id, second.external_id) == ("u-1", None)
    assert [s.contact_id for s in stored] == [first.pk, first.pk]
    assert Event.objects.count() == 2


@pytest.mark.django_db
def test_one_event_for_a_known_contact_announces_the_change(django_capture_on_commit_callbacks):
    contact = ContactFactory(email="known@example.com")
    received = []

    def receiver(sender, contact_ids, changes, **kwargs):
        received.append((list(contact_ids), set(changes)))

    contacts_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            events_ingest(events=[event("purchase", email=contact.email)], now=NOW)
    finally:
        contacts_changed.disconnect(receiver)

    assert received == [([contact.pk], {"event:purchase"})]


@pytest.mark.django_db
@pytest.mark.postgresql
def test_identity_lookup_probes_the_indexes_even_when_statistics_favour_a_scan():
    """On the bench database the planner scanned every contact for `email = ANY(..) OR
    external_id = ANY(..)` (15 ms a batch): the lookup must stay one index probe per identity."""
    from contacts import ingest_postgresql

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO contacts_contact (email, external_id, email_status, lead_score, "
            "fields, created_at, updated_at) SELECT 'p' || n || '@example.com', "
            "CASE WHEN n % 2 = 0 THEN 'u-' || n END, 'active', 0, '{}', now(), now() "
            "FROM generate_series(1, 20000) AS n"
        )
        cursor.execute("ANALYZE contacts_contact")
    emails = [f"p{n}@example.com" for n in range(1, 4000, 4)]
    external_ids = [f"u-{n}" for n in range(2, 4000, 4)]
    with ingest_postgresql.binary_cursor() as cursor:
        cursor.execute(
            "EXPLAIN " + ingest_postgresql._CONTACTS_BY_IDENTITY[True], [emails, external_ids]
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "Seq Scan on contacts_contact" not in plan
    assert plan.count("Index Scan using contact_") == 2

    found = ingest_postgresql.contacts_by_identity(external_ids=external_ids, emails=emails)
    assert len(found) == len(emails) + len(external_ids)


@pytest.mark.django_db
@pytest.mark.parametrize("identity", ["email", "external_id"])
@pytest.mark.postgresql
def test_one_event_for_an_unknown_contact_creates_it_in_one_statement(
    identity, django_assert_num_queries
):
    values = {"email": None, identity: {"email": "new@example.com", "external_id": "u-7"}[identity]}

    # one statement: the event, last_activity_at and the change recorded for segments
    with django_assert_num_queries(1):
        [stored] = events_ingest(events=[event("login", **values)], now=NOW)

    contact = Contact.objects.get()
    [pending] = PendingContactChange.objects.all()
    assert (pending.contact_ids, pending.changes) == (
        [contact.pk],
        [ACTIVITY_UNBOUNDED, "event:login"],
    )
    assert (contact.email, contact.external_id) == (
        values["email"],
        values.get("external_id"),
    )
    assert (contact.pk, stored.duplicate) == (stored.contact_id, False)
    assert Event.objects.get(pk=stored.event_id).contact_id == contact.pk
    assert contact.last_activity_at == NOW - dt.timedelta(minutes=1)
    assert (contact.email_status, contact.lead_score, contact.fields) == ("active", 0, {})
    assert contact.created_at == contact.updated_at == NOW


@pytest.mark.django_db
def test_a_message_event_creates_its_contact_without_activity():
    [stored] = events_ingest(events=[event("email.sent", email="new@example.com")], now=NOW)

    contact = Contact.objects.get(pk=stored.contact_id)
    assert contact.email == "new@example.com"
    assert contact.last_activity_at is None


@pytest.mark.django_db
def test_one_event_naming_a_new_email_and_a_new_external_id_creates_one_contact_with_both():
    [stored] = events_ingest(events=[event(email="new@example.com", external_id="u-8")], now=NOW)

    contact = Contact.objects.get()
    assert (contact.pk, contact.email, contact.external_id) == (
        stored.contact_id,
        "new@example.com",
        "u-8",
    )


@pytest.mark.django_db
def test_one_event_for_a_new_contact_announces_its_event(django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, contact_ids, changes, events, **kwargs):
        received.append((list(contact_ids), set(changes), dict(events)))

    contacts_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            [stored] = events_ingest(events=[event("purchase", email="new@example.com")], now=NOW)
    finally:
        contacts_changed.disconnect(receiver)

    contact_id = stored.contact_id
    assert received == [
        ([contact_id], {"event:purchase"}, {contact_id: [(stored.event_id, "purchase")]})
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("identity", ["email", "external_id"])
@pytest.mark.postgresql
def test_concurrent_single_events_for_one_new_identity_make_one_contact(identity):
    value = {"email": "new@example.com", "external_id": "u-5"}[identity]
    writers = [
        _ingest_in_thread([event(f"login{i}", **{"email": None, identity: value})])
        for i in range(8)
    ]
    for thread, _ in writers:
        thread.join(timeout=60)

    outcomes = [outcome for _, outcome in writers]
    assert [outcome.get("error") for outcome in outcomes] == [None] * 8
    contact = Contact.objects.get()
    assert {outcome["stored"][0].contact_id for outcome in outcomes} == {contact.pk}
    assert Event.objects.filter(contact=contact).count() == 8
