"""Wake-ups: the feed's consumers after a commit that wrote transitions, the change worker
after a write (one message while one is queued), and what the change signal carries."""

import datetime as dt
import time
import uuid

import pytest
from django.conf import settings
from django.db import transaction

from contacts.ingest import EventInput, events_ingest
from contacts.models import Contact
from contacts.signals import contacts_changed
from segflow import queue as queue_module
from segflow.celery import app
from segflow.queue import wake_clear
from segments import tasks
from segments.evaluation import segment_evaluate
from segments.models import PendingContactChange
from segments.scheduler import (
    MAX_PENDING_ROWS_PER_WRITE,
    PROCESS_TASK,
    contact_changes_process_batch,
    contact_changes_record,
    segments_refresh,
)
from segments.services import segment_create
from segments.signals import transitions_written
from tests.factories import ContactFactory

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=1)
IN_FRANCE = {"type": "field", "field": "country", "op": "eq", "value": "FR"}


@pytest.fixture
def wakeups():
    sent = []
    transitions_written.connect(lambda **kwargs: sent.append(1), weak=False, dispatch_uid="t")
    yield sent
    transitions_written.disconnect(dispatch_uid="t")


@pytest.fixture
def france(db):
    ContactFactory.create_batch(2, country="FR", created_at=NOW - dt.timedelta(days=30))
    segment = segment_create(name="France", conditions=IN_FRANCE)
    segment_evaluate(segment=segment, now=NOW)
    return segment


@pytest.mark.django_db
def test_a_batch_that_moved_members_wakes_the_consumers_once_after_its_commit(
    france, wakeups, django_capture_on_commit_callbacks
):
    Contact.objects.update(country="DE")
    for contact in Contact.objects.all():  # two writes, two pending rows, one batch
        contact_changes_record(contact_ids=[contact.pk], changes=["field:country"])

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        contact_changes_process_batch(now=LATER)
        assert wakeups == []  # not before the commit

    assert wakeups == [1]


@pytest.mark.django_db
def test_a_batch_that_moved_nobody_wakes_nobody(
    france, wakeups, django_capture_on_commit_callbacks
):
    contact_changes_record(
        contact_ids=Contact.objects.values_list("pk", flat=True), changes=["field:country"]
    )

    with django_capture_on_commit_callbacks(execute=True):
        contact_changes_process_batch(now=LATER)

    assert not PendingContactChange.objects.exists()
    assert wakeups == []


@pytest.mark.django_db
def test_a_full_refresh_that_moved_members_wakes_the_consumers(
    france, wakeups, django_capture_on_commit_callbacks
):
    Contact.objects.update(country="DE")

    with django_capture_on_commit_callbacks(execute=True):
        segments_refresh(segments=[france], now=LATER)

    assert wakeups == [1]


def test_the_beat_sweep_wakes_the_consumers(wakeups):
    tasks.wake_transition_consumers()

    assert wakeups == [1]
    schedule = settings.CELERY_BEAT_SCHEDULE.values()
    assert {"task": "segments.tasks.wake_transition_consumers", "schedule": 60.0} in schedule


def test_a_failing_consumer_does_not_fail_the_writer(wakeups):
    def broken(**kwargs):
        raise RuntimeError("consumer bug")

    transitions_written.connect(broken, weak=False, dispatch_uid="broken")
    try:
        tasks.wake_transition_consumers()
    finally:
        transitions_written.disconnect(dispatch_uid="broken")

    assert wakeups == [1]


# --- What a write announces -------------------------------------------------------------------


@pytest.fixture
def announced():
    sent = []

    def receiver(sender, *, contact_ids, changes, events, **kwargs):
        sent.append((contact_ids, set(changes), events))

    contacts_changed.connect(receiver, dispatch_uid="tests.announced")
    yield sent
    contacts_changed.disconnect(dispatch_uid="tests.announced")


@pytest.mark.django_db
def test_an_event_batch_announces_each_contacts_stored_events(announced):
    ann = ContactFactory(email="ann@example.com")
    replayed = EventInput(
        name="login", email="ann@example.com", occurred_at=NOW, idempotency_key="k1"
    )
    events_ingest(events=[replayed], now=NOW)
    announced.clear()

    stored = events_ingest(
        events=[
            replayed,
            EventInput(name="purchase", email="ann@example.com", occurred_at=NOW),
            EventInput(name="login", email="bob@example.com", occurred_at=NOW),
            EventInput(name="login", email="ann@example.com", occurred_at=LATER),
        ],
        now=NOW,
    )

    bob = Contact.objects.get(email="bob@example.com")
    [(contact_ids, changes, events)] = announced
    assert contact_ids == sorted([ann.pk, bob.pk])
    assert changes == {"event:login", "event:purchase"}
    assert events == {  # the replayed key (k1) is not announced again
        ann.pk: [(stored[1].event_id, "purchase"), (stored[3].event_id, "login")],
        bob.pk: [(stored[2].event_id, "login")],
    }


@pytest.mark.django_db
def test_a_single_event_announces_its_id(announced):
    ann = ContactFactory(email="ann@example.com")

    [stored] = events_ingest(
        events=[EventInput(name="login", email="ann@example.com", occurred_at=NOW)], now=NOW
    )

    assert announced == [([ann.pk], {"event:login"}, {ann.pk: [(stored.event_id, "login")]})]


@pytest.mark.django_db
def test_pending_rows_carry_each_contacts_own_event_kinds():
    ContactFactory(email="ann@example.com"), ContactFactory(email="bob@example.com")

    events_ingest(
        events=[
            EventInput(name="login", email="ann@example.com", occurred_at=NOW),
            EventInput(name="purchase", email="bob@example.com", occurred_at=NOW),
            EventInput(name="login", email="bob@example.com", occurred_at=NOW),
            EventInput(name="login", email="cat@example.com", occurred_at=NOW),
        ],
        now=NOW,
    )

    ids = dict(Contact.objects.values_list("email", "pk"))
    rows = PendingContactChange.objects.values_list("contact_ids", "changes")
    # never active before, so each also counts as idle for ever
    assert sorted(rows) == [
        (sorted([ids["ann@example.com"], ids["cat@example.com"]]), ["activity:inf", "event:login"]),
        ([ids["bob@example.com"]], ["activity:inf", "event:login", "event:purchase"]),
    ]


@pytest.mark.django_db
def test_a_contact_that_only_logged_in_is_not_reevaluated_for_purchases():
    """ann would leave "Bought" if re-evaluated (her purchase is gone), but she only logged in."""
    ann = ContactFactory(email="ann@example.com", created_at=NOW - dt.timedelta(days=30))
    ann.events.create(name="purchase", occurred_at=NOW - dt.timedelta(days=1))
    bought = segment_create(
        name="Bought", conditions={"type": "event", "event": "purchase", "op": "performed"}
    )
    segment_evaluate(segment=bought, now=NOW)
    ann.events.filter(name="purchase").delete()

    events_ingest(
        events=[
            EventInput(name="login", email="ann@example.com", occurred_at=NOW),
            EventInput(name="purchase", email="bob@example.com", occurred_at=NOW),
        ],
        now=NOW,
    )
    contact_changes_process_batch(now=LATER)

    bought.refresh_from_db()
    assert bought.size == 2  # bob entered; ann was not looked at


ACTIVE_THIS_WEEK_IN_FRANCE = {
    "all": [
        {"type": "field", "field": "last_activity_at", "op": "within_last", "value": {"days": 7}},
        {"type": "field", "field": "country", "op": "eq", "value": "FR"},
    ]
}


@pytest.mark.django_db
@pytest.mark.parametrize("batch", [False, True], ids=["single event", "batch"])
def test_an_event_reevaluates_activity_windows_only_for_contacts_idle_long_enough(batch):
    """ann (active 2 days ago) and cy (10 days ago) moved to Germany behind the segments'
    back; a login can flip "active in the last 7 days" for cy only, so only cy is looked at."""
    old = NOW - dt.timedelta(days=60)
    ann = ContactFactory(
        email="ann@example.com",
        country="FR",
        created_at=old,
        last_activity_at=NOW - dt.timedelta(days=2),
    )
    cy = ContactFactory(
        email="cy@example.com",
        country="FR",
        created_at=old,
        last_activity_at=NOW - dt.timedelta(days=10),
    )
    segment = segment_create(name="Active in France", conditions=ACTIVE_THIS_WEEK_IN_FRANCE)
    segment_evaluate(segment=segment, now=NOW)
    assert segment.memberships.filter(left_at__isnull=True).count() == 1  # ann
    Contact.objects.filter(pk__in=[ann.pk, cy.pk]).update(country="DE")

    logins = [EventInput(name="login", email=c.email, occurred_at=NOW) for c in (ann, cy)]
    for chunk in [logins] if batch else [[login] for login in logins]:
        events_ingest(events=chunk, now=NOW)
    contact_changes_process_batch(now=NOW + dt.timedelta(seconds=1))

    # ann was not looked at: still in, though in Germany now
    current = segment.memberships.filter(left_at__isnull=True)
    assert list(current.values_list("contact_id", flat=True)) == [ann.pk]
    # what a login from a contact idle long enough does: cy, back in France, enters
    Contact.objects.filter(pk=cy.pk).update(
        country="FR", last_activity_at=NOW - dt.timedelta(days=9)
    )
    events_ingest(events=[EventInput(name="login", email=cy.email, occurred_at=NOW)], now=NOW)
    contact_changes_process_batch(now=NOW + dt.timedelta(seconds=2))
    assert set(current.values_list("contact_id", flat=True)) == {ann.pk, cy.pk}


def test_many_kind_sets_share_a_bounded_number_of_pending_rows(db):
    count = MAX_PENDING_ROWS_PER_WRITE + 10
    events = {i: [(i, f"event{i}")] for i in range(1, count + 1)}

    contact_changes_record(
        contact_ids=events, changes={f"event:event{i}" for i in events}, events=events, activity={}
    )

    rows = list(PendingContactChange.objects.values_list("contact_ids", "changes"))
    assert len(rows) == MAX_PENDING_ROWS_PER_WRITE
    covered = {contact_id: set(changes) for ids, changes in rows for contact_id in ids}
    assert sorted(covered) == list(range(1, count + 1))
    assert all(f"event:event{contact_id}" in covered[contact_id] for contact_id in covered)


# --- One wake-up message while one is queued --------------------------------------------------


@pytest.fixture
def real_broker_queue(transactional_db):
    """Publishes go to Redis (not eager), into a queue of this test's own."""
    queue = f"test-wakeups-{uuid.uuid4().hex[:8]}"
    previous = app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.task_always_eager, app.conf.task_default_queue = False, queue
    wake_clear(PROCESS_TASK)
    queue_module._seen_queued_until.clear()  # no wake-up seen by another test's commits
    with app.connection_for_write() as conn, conn.default_channel.conn_or_acquire() as client:
        try:
            yield lambda: client.llen(queue)
        finally:
            app.conf.task_always_eager, app.conf.task_default_queue = previous
            client.delete(queue)
            wake_clear(PROCESS_TASK)


def test_single_writes_while_a_wakeup_is_queued_publish_one_message(real_broker_queue):
    ContactFactory(email="ann@example.com")
    one_event = [EventInput(name="login", email="ann@example.com", occurred_at=NOW)]

    for _ in range(5):
        events_ingest(events=one_event, now=NOW)

    assert PendingContactChange.objects.count() == 5
    assert real_broker_queue() == 1
    # the worker clears the flag before claiming: the next write wakes it again (this
    # process has just seen the flag set, so through its recheck, WAKE_SEEN_SECONDS later)
    wake_clear(PROCESS_TASK)
    events_ingest(events=one_event, now=NOW)
    deadline = time.monotonic() + 5
    while real_broker_queue() < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert real_broker_queue() == 2
