import datetime as dt
import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from automation import trigger_watch
from automation.models import Enrollment, Flow, PendingFlowEvent
from automation.trigger_watch import watched_load, watched_names, watched_reset
from automation.triggers import (
    flow_events_process,
    flow_events_process_batch,
)
from contacts.ingest import EventInput, events_ingest
from tests.automation.live_flow import live_version
from tests.factories import ContactFactory, EnrollmentFactory, EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_watch_cache():
    watched_reset()
    yield
    watched_reset()


def ingest(contact, name="signed_up", properties=None, received_at=None):
    """Store one event for the contact; returns its id."""
    [stored] = events_ingest(
        events=[
            EventInput(
                name=name,
                email=contact.email,
                properties=properties or {},
                occurred_at=timezone.now(),
            )
        ],
        now=received_at,
    )
    return stored.event_id


def process():
    return flow_events_process(now=timezone.now())


# --- The outbox writer -------------------------------------------------------------------------


def test_a_watched_event_is_queued_in_the_ingesting_transaction():
    live_version()
    contact = ContactFactory()

    event_id = ingest(contact)

    row = PendingFlowEvent.objects.get()
    assert (row.event_id, row.contact_id, row.name) == (event_id, contact.pk, "signed_up")


def test_an_unwatched_event_is_not_queued():
    live_version()

    ingest(ContactFactory(), name="login")

    assert not PendingFlowEvent.objects.exists()


def test_a_rolled_back_ingest_queues_nothing():
    live_version()
    contact = ContactFactory()

    with pytest.raises(RuntimeError), transaction.atomic():
        ingest(contact)
        raise RuntimeError

    assert not PendingFlowEvent.objects.exists()


def test_only_the_watched_events_of_a_batch_are_queued():
    live_version()
    contacts = ContactFactory.create_batch(3)
    events = [
        EventInput(name=name, email=c.email, occurred_at=timezone.now())
        for c in contacts
        for name in ("signed_up", "login")
    ]

    events_ingest(events=events)

    assert sorted(PendingFlowEvent.objects.values_list("contact_id", "name")) == [
        (c.pk, "signed_up") for c in contacts
    ]


@pytest.mark.postgresql
def test_the_events_api_costs_no_query_when_no_flow_watches_the_name(
    api, django_assert_num_queries
):
    live_version()  # watches signed_up
    contact = ContactFactory(email="known@example.com")
    body = {"email": contact.email, "name": "login"}
    api.post("/api/v1/events", body, format="json")  # warms the key and the watched names

    # one statement: the event and the change recorded for segments, no flow outbox row
    with django_assert_num_queries(1):
        response = api.post("/api/v1/events", body, format="json")

    assert response.status_code == 202
    assert not PendingFlowEvent.objects.exists()


@pytest.mark.postgresql
def test_the_events_api_writes_the_outbox_row_in_its_statement_when_a_flow_watches_the_name(
    api, django_assert_num_queries
):
    live_version()
    contact = ContactFactory(email="known@example.com")
    api.post("/api/v1/events", {"email": contact.email, "name": "login"}, format="json")

    # still one statement: the flows' outbox row is one more CTE of it
    with django_assert_num_queries(1):
        api.post("/api/v1/events", {"email": contact.email, "name": "signed_up"}, format="json")

    assert PendingFlowEvent.objects.count() == 1


@pytest.mark.postgresql
def test_a_batch_of_watched_events_is_queued_by_one_insert(api, django_assert_num_queries):
    live_version()
    contacts = ContactFactory.create_batch(5)
    api.post("/api/v1/events", {"email": contacts[0].email, "name": "login"}, format="json")
    batch = {"events": [{"email": c.email, "name": "signed_up"} for c in contacts * 20]}

    # savepoint, lookup, check foreign keys as rows go in, insert the events, the flows'
    # outbox, segments' pending changes, advance last_activity_at, release
    with django_assert_num_queries(8) as captured:
        response = api.post("/api/v1/events/batch", batch, format="json")

    assert response.status_code == 202, response.content
    assert sum("automation_pendingflowevent" in q["sql"] for q in captured.captured_queries) == 1
    assert PendingFlowEvent.objects.count() == 100


# --- The watched names -------------------------------------------------------------------------


def test_watched_names_are_the_triggers_of_active_flows_only():
    live_version({"type": "event", "event": "signed_up"})
    live_version({"type": "event", "event": "paused_one"}, status="paused")
    live_version({"type": "event", "event": "draft_one"}, status="draft")

    assert watched_load().triggers == {"signed_up"}


def test_awaited_and_exit_names_of_running_flows_are_watched():
    wait = {
        "id": "w",
        "type": "wait_for_event",
        "event": "purchase",
        "timeout": {"days": 1},
        "on_event": [],
        "on_timeout": [
            {"id": "w2", "type": "wait_for_event", "event": "reply", "timeout": {"days": 1}}
        ],
    }
    version = live_version(
        status="paused",
        exit_when={"type": "email", "op": "clicked"},
    )
    version.definition = {**version.definition, "steps": [wait]}
    version.save()

    watched = watched_load()

    assert watched.awaited == {"purchase", "reply"}
    assert watched.exit_readers == {"email.clicked": {version.pk}}
    assert watched.triggers == set()


def test_watched_names_are_cached_without_a_query(django_assert_num_queries):
    live_version()
    watched_names()

    with django_assert_num_queries(0):
        assert watched_names() == {"signed_up"}


def test_saving_a_flow_resets_this_process_cache():
    assert watched_names() == frozenset()

    live_version()

    assert watched_names() == {"signed_up"}


def test_the_cache_is_read_again_after_its_ttl(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(trigger_watch, "_clock", lambda: clock[0])
    watched_names()
    version = live_version()
    trigger_watch._cache = (clock[0] + trigger_watch.WATCH_TTL_SECONDS, frozenset())
    Flow.objects.filter(pk=version.flow_id).update(status="active")  # no save: no reset

    assert watched_names() == frozenset()
    clock[0] += trigger_watch.WATCH_TTL_SECONDS + 0.1
    assert watched_names() == {"signed_up"}


# --- The processor -----------------------------------------------------------------------------


def test_a_queued_event_enrolls_the_contact_once_and_is_consumed():
    version = live_version()
    contact = ContactFactory()
    event_id = ingest(contact)

    assert process() == 1

    enrollment = Enrollment.objects.get()
    assert (enrollment.version_id, enrollment.contact_id) == (version.pk, contact.pk)
    assert (enrollment.trigger_key, enrollment.trigger_event_id) == (f"event:{event_id}", event_id)
    assert not PendingFlowEvent.objects.exists()


def test_the_same_event_delivered_twice_enrolls_once():
    live_version(reentry="always")
    contact = ContactFactory()
    event_id = ingest(contact)
    process()
    Enrollment.objects.update(state="completed")

    PendingFlowEvent.objects.create(event_id=event_id, contact_id=contact.pk, name="signed_up")
    assert process() == 1

    assert Enrollment.objects.count() == 1
    assert not PendingFlowEvent.objects.exists()


def test_a_rollback_delivers_the_events_again():
    live_version()
    contact = ContactFactory()
    ingest(contact)

    with pytest.raises(RuntimeError), transaction.atomic():
        flow_events_process_batch(now=timezone.now())
        assert Enrollment.objects.count() == 1
        raise RuntimeError

    assert not Enrollment.objects.exists()
    assert PendingFlowEvent.objects.count() == 1
    assert process() == 1
    assert Enrollment.objects.count() == 1


def test_events_are_consumed_in_batches(monkeypatch):
    live_version(reentry="always")
    contacts = ContactFactory.create_batch(7)
    events_ingest(
        events=[
            EventInput(name="signed_up", email=c.email, occurred_at=timezone.now())
            for c in contacts
        ]
    )

    assert flow_events_process(now=timezone.now(), batch_size=3) == 7

    assert Enrollment.objects.count() == 7
    assert not PendingFlowEvent.objects.exists()


def test_the_trigger_where_filters_are_segments_property_filters():
    live_version(
        {
            "type": "event",
            "event": "signed_up",
            "where": [
                {"property": "plan", "op": "eq", "value": "pro"},
                {"property": "seats", "op": "gte", "value": 5},
            ],
        },
        reentry="always",
    )
    pro, small, free = ContactFactory.create_batch(3)
    ingest(pro, properties={"plan": "pro", "seats": 10})
    ingest(small, properties={"plan": "pro", "seats": 2})
    ingest(free, properties={"plan": "free", "seats": 10})

    assert process() == 3

    assert list(Enrollment.objects.values_list("contact_id", flat=True)) == [pro.pk]


def test_an_event_enrolls_into_every_flow_it_triggers():
    first, second = live_version(), live_version()
    ingest(ContactFactory())

    process()

    assert set(Enrollment.objects.values_list("flow_id", flat=True)) == {
        first.flow_id,
        second.flow_id,
    }


def test_an_event_received_before_the_activation_does_not_enroll():
    waiting = live_version({"type": "event", "event": "x"})
    waiting.definition = {
        **waiting.definition,
        "steps": [
            {"id": "w", "type": "wait_for_event", "event": "signed_up", "timeout": {"days": 1}}
        ],
    }
    waiting.save()
    contact = ContactFactory()
    ingest(contact)  # queued because a wait awaits it
    later = live_version()
    Flow.objects.filter(pk=later.flow_id).update(
        activated_at=timezone.now() + dt.timedelta(seconds=1)
    )

    process()

    assert not Enrollment.objects.filter(flow_id=later.flow_id).exists()


# --- Waking sleeping enrollments ---------------------------------------------------------------


def sleeping(contact, *, version=None, waiting_for=None, sleeping=True):
    later = timezone.now() + dt.timedelta(days=2)
    kwargs = {"version": version} if version else {}
    return EnrollmentFactory(
        contact=contact,
        sleeping=sleeping,
        waiting_for_event=waiting_for,
        next_run_at=later,
        **kwargs,
    )


def test_an_awaited_event_wakes_the_contacts_sleeping_enrollment():
    waiting = live_version({"type": "event", "event": "x"})
    waiting.definition = {
        **waiting.definition,
        "steps": [
            {"id": "w", "type": "wait_for_event", "event": "purchase", "timeout": {"days": 3}}
        ],
    }
    waiting.save()
    contact, other = ContactFactory(), ContactFactory()
    mine = sleeping(contact, version=waiting, waiting_for="purchase")
    theirs = sleeping(other, version=waiting, waiting_for="purchase")
    leased = sleeping(contact, waiting_for="purchase", sleeping=False)
    ingest(contact, name="purchase")

    now = timezone.now()
    flow_events_process(now=now)

    mine.refresh_from_db(), theirs.refresh_from_db(), leased.refresh_from_db()
    assert mine.next_run_at == now
    assert theirs.next_run_at > now
    assert leased.next_run_at > now


def test_an_event_read_by_exit_when_wakes_the_sleeping_enrollments_of_that_version():
    version = live_version(
        {"type": "event", "event": "x"},
        exit_when={"type": "event", "event": "purchase", "op": "performed"},
    )
    contact = ContactFactory()
    reader = sleeping(contact, version=version)
    bystander = sleeping(contact)
    ingest(contact, name="purchase")

    now = timezone.now()
    flow_events_process(now=now)

    reader.refresh_from_db(), bystander.refresh_from_db()
    assert reader.next_run_at == now
    assert bystander.next_run_at > now


# --- The activation gap ------------------------------------------------------------------------

GAP, SETTLE = trigger_watch.ACTIVATION_GAP, trigger_watch.ACTIVATION_SETTLE


def stale_cache():
    """This process goes on with the names it read before the activation (another process's
    view for up to the TTL)."""
    trigger_watch._cache = (time.monotonic() + 60, frozenset())


def activated_ago(version, delay: dt.timedelta) -> dt.datetime:
    """Move the flow's activation back in time (its gap has closed when delay > GAP +
    SETTLE); returns the activation time."""
    activated_at = timezone.now() - delay
    Flow.objects.filter(pk=version.flow_id).update(activated_at=activated_at)
    return activated_at


def test_an_event_stored_by_a_process_with_an_outdated_cache_still_enrolls():
    version = live_version()
    activated_at = activated_ago(version, GAP + SETTLE + dt.timedelta(seconds=1))
    stale_cache()
    contact = ContactFactory()
    event_id = ingest(contact, received_at=activated_at + dt.timedelta(seconds=2))
    assert not PendingFlowEvent.objects.exists()

    process()

    enrollment = Enrollment.objects.get()
    assert (enrollment.flow_id, enrollment.trigger_event_id) == (version.flow_id, event_id)
    assert Flow.objects.get(pk=version.flow_id).activation_event_id is None  # swept once


def test_the_sweep_waits_until_the_gap_has_closed():
    version = live_version()
    activated_at = activated_ago(version, GAP)
    stale_cache()
    ingest(ContactFactory(), received_at=activated_at + dt.timedelta(seconds=2))

    process()

    assert not Enrollment.objects.exists()
    assert Flow.objects.get(pk=version.flow_id).activation_event_id is not None


def test_the_sweep_leaves_events_from_before_the_activation_alone():
    contact = ContactFactory()
    ingest(contact)
    version = live_version()
    activated_ago(version, GAP + SETTLE + dt.timedelta(minutes=1))

    process()

    assert not Enrollment.objects.exists()


def test_the_sweep_leaves_events_received_after_the_gap_alone():
    version = live_version()
    activated_at = activated_ago(version, GAP + SETTLE + dt.timedelta(seconds=1))
    stale_cache()
    ingest(ContactFactory(), received_at=activated_at + GAP + dt.timedelta(seconds=1))

    process()

    assert not Enrollment.objects.exists()


def test_the_sweep_does_not_enroll_a_contact_the_outbox_enrolled_since_the_activation():
    version = live_version(reentry="always")
    activated_at = activated_ago(version, GAP + SETTLE + dt.timedelta(seconds=1))
    contact = ContactFactory()
    ingest(contact, received_at=activated_at + dt.timedelta(seconds=1))
    flow_events_process_batch(now=timezone.now())  # the outbox path, without the sweep
    Enrollment.objects.update(state="completed")
    stale_cache()
    ingest(contact, received_at=activated_at + dt.timedelta(seconds=2))

    process()

    assert Enrollment.objects.count() == 1


def test_the_sweep_applies_the_trigger_filters():
    version = live_version(
        {
            "type": "event",
            "event": "signed_up",
            "where": [{"property": "plan", "op": "eq", "value": "pro"}],
        }
    )
    activated_at = activated_ago(version, GAP + SETTLE + dt.timedelta(seconds=1))
    stale_cache()
    pro, free = ContactFactory(), ContactFactory()
    received_at = activated_at + dt.timedelta(seconds=1)
    ingest(pro, properties={"plan": "pro"}, received_at=received_at)
    ingest(free, properties={"plan": "free"}, received_at=received_at)

    process()

    assert list(Enrollment.objects.values_list("contact_id", flat=True)) == [pro.pk]


# --- Concurrency (committed data, two connections) ---------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql
def test_two_processors_at_once_consume_each_event_once():
    live_version(reentry="always")
    contacts = ContactFactory.create_batch(6)
    for contact in contacts:
        event = EventFactory(contact=contact, name="signed_up")
        PendingFlowEvent.objects.create(event_id=event.pk, contact_id=contact.pk, name="signed_up")
    now = timezone.now()
    claimed, release, results = threading.Event(), threading.Event(), {}

    def first_processor():
        try:
            with transaction.atomic():
                results["first"] = flow_events_process_batch(now=now, batch_size=3)
                claimed.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=first_processor)
    thread.start()
    assert claimed.wait(10)
    results["second"] = flow_events_process(now=now)  # skips the 3 rows the first one holds
    release.set()
    thread.join(10)

    assert results == {"first": 3, "second": 3}
    assert sorted(Enrollment.objects.values_list("contact_id", flat=True)) == sorted(
        c.pk for c in contacts
    )
    assert not PendingFlowEvent.objects.exists()
