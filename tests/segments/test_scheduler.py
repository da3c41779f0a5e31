import datetime as dt

import pytest
from django.db import connection, transaction

from contacts.models import Contact, CustomField
from contacts.signals import contacts_changed
from segments import batch_evaluation, scheduler
from segments.evaluation import segment_evaluate
from segments.models import (
    PendingContactChange,
    Segment,
    SegmentDailyStats,
    SegmentMembership,
    SegmentTransition,
)
from segments.scheduler import (
    contact_changes_process,
    contact_changes_process_batch,
    contact_changes_record,
    segments_claim_due,
    segments_evaluate_due,
)
from segments.services import segment_create
from tests.factories import (
    ContactFactory,
    ContactTagFactory,
    CustomFieldFactory,
    EventFactory,
    PendingContactChangeFactory,
    SegmentFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=1)
IN_FRANCE = {"type": "field", "field": "country", "op": "eq", "value": "FR"}
VIP = {"type": "tag", "op": "has", "tag": "vip"}


def members(segment) -> set[int]:
    current = SegmentMembership.objects.filter(segment=segment, left_at__isnull=True)
    return set(current.values_list("contact_id", flat=True))


def evaluated_segment(name, conditions, *, now=NOW):
    segment = segment_create(name=name, conditions=conditions)
    segment_evaluate(segment=segment, now=now)
    return segment


@pytest.fixture
def old_contacts():
    """Contacts created well before the segments' first evaluation."""
    created = NOW - dt.timedelta(days=30)
    return ContactFactory.create_batch(2, country="FR", created_at=created)


def test_signal_records_the_write_as_one_pending_row(django_capture_on_commit_callbacks):
    ann, bob = ContactFactory.create_batch(2)

    contacts_changed.send(
        sender=None, contact_ids=[bob.pk, ann.pk], changes=frozenset({"tags", "field:country"})
    )

    rows = PendingContactChange.objects.values_list("contact_ids", "contact_count", "changes")
    assert list(rows) == [(sorted([ann.pk, bob.pk]), 2, ["field:country", "tags"])]


def test_ingested_events_are_pending_for_segments_in_the_ingest_transaction(
    django_capture_on_commit_callbacks,
):
    """Recorded with the write, not after its commit: a process that dies right after the
    commit cannot lose the change. Only the Celery publish waits for the commit."""
    from contacts.ingest import EventInput, events_ingest

    known = ContactFactory(email="known@example.com", last_activity_at=NOW - dt.timedelta(days=2))
    batch = [
        EventInput(name="login", email="known@example.com", occurred_at=NOW),
        EventInput(name="signup", email="new@example.com", occurred_at=NOW),
    ]
    with django_capture_on_commit_callbacks() as after_commit, transaction.atomic():
        events_ingest(events=batch, now=NOW)
        pending = PendingContactChange.objects.values_list("contact_ids", "changes")
        new = Contact.objects.get(email="new@example.com")
        # each contact's own event, and how long it had been idle at the write (2 days:
        # under 3 days; the new one: never active)
        assert sorted(pending) == sorted(
            [
                ([known.pk], ["activity:259200", "event:login"]),
                ([new.pk], ["activity:inf", "event:signup"]),
            ]
        )

    assert [callback.__qualname__ for callback in after_commit] == [
        "wake_on_commit.<locals>.<lambda>"
    ]


def test_change_reevaluates_only_that_contact(old_contacts):
    ann, bob = old_contacts
    france = evaluated_segment("France", IN_FRANCE)
    # both leave France, but only ann's change is reported
    Contact.objects.update(country="DE")
    contact_changes_record(contact_ids=[ann.pk], changes=["field:country"])

    contact_changes_process(now=LATER)

    assert members(france) == {bob.pk}
    assert list(
        SegmentTransition.objects.filter(kind="left").values_list("contact_id", flat=True)
    ) == [ann.pk]


def test_change_reevaluates_only_segments_reading_it(old_contacts):
    ann, _ = old_contacts
    france = evaluated_segment("France", IN_FRANCE)
    vip = evaluated_segment("VIP", VIP)
    Contact.objects.filter(pk=ann.pk).update(country="DE")
    ContactTagFactory(contact=ann, tag__name="vip")
    contact_changes_record(contact_ids=[ann.pk], changes=["field:country"])

    contact_changes_process(now=LATER)

    assert ann.pk not in members(france)
    assert members(vip) == set()  # tags did not change, as far as the signal said


def test_contact_moving_in_a_segment_is_reevaluated_in_its_readers(old_contacts):
    ann, bob = old_contacts
    france = evaluated_segment("France", IN_FRANCE)
    elsewhere = evaluated_segment(
        "Elsewhere", {"type": "segment", "op": "not_in", "segment": france.pk}
    )
    Contact.objects.filter(pk=ann.pk).update(country="DE")
    contact_changes_record(contact_ids=[ann.pk], changes=["field:country"])

    contact_changes_process(now=LATER)

    assert members(france) == {bob.pk}
    assert members(elsewhere) == {ann.pk}


def test_new_contact_is_evaluated_in_every_segment():
    france = evaluated_segment("France", IN_FRANCE)
    not_vip = evaluated_segment("Not VIP", {"not": VIP})
    ann = ContactFactory(country="FR", created_at=LATER)
    # the change it reports is unrelated to either segment
    contact_changes_record(contact_ids=[ann.pk], changes=["field:email"])

    contact_changes_process(now=LATER)

    assert members(france) == {ann.pk}
    assert members(not_vip) == {ann.pk}


def test_processed_changes_are_removed(old_contacts):
    ann, bob = old_contacts
    evaluated_segment("France", IN_FRANCE)
    contact_changes_record(contact_ids=[ann.pk, bob.pk], changes=["field:country"])

    processed = contact_changes_process(now=LATER)

    assert processed == 2
    assert not PendingContactChange.objects.exists()


def test_changes_are_processed_in_batches(old_contacts):
    ann, bob = old_contacts
    evaluated_segment("France", IN_FRANCE)
    contact_changes_record(contact_ids=[ann.pk], changes=["field:country"])
    contact_changes_record(contact_ids=[bob.pk], changes=["field:country"])

    first = contact_changes_process_batch(now=LATER, batch_size=1)

    assert first == 1
    assert list(PendingContactChange.objects.values_list("contact_ids", flat=True)) == [[bob.pk]]


def test_a_batch_claims_rows_until_it_holds_batch_size_contacts():
    small, big, last = (
        PendingContactChangeFactory(contact_ids=ids, contact_count=len(ids))
        for ids in ([1, 2], [3, 4, 5, 6], [7])
    )

    # 2 contacts before `big` (< 5): it is claimed whole; 6 before `last`: left for later
    claimed = contact_changes_process_batch(now=LATER, batch_size=5)

    assert claimed == 6
    assert list(PendingContactChange.objects.values_list("pk", flat=True)) == [last.pk]
    assert small.pk < big.pk < last.pk


@pytest.mark.postgresql
def test_a_batch_claims_only_once_the_running_batch_is_done(transactional_db):
    """Batches take turns before claiming: the next one takes what arrived meanwhile."""
    import threading

    first = PendingContactChangeFactory(contact_ids=[1], contact_count=1)
    running, finish = threading.Event(), threading.Event()

    def running_batch():
        with transaction.atomic():
            scheduler._batch_turn_wait()
            running.set()
            finish.wait(10)
        connection.close()

    thread = threading.Thread(target=running_batch)
    thread.start()
    claimed = []

    def next_batch():
        claimed.append(contact_changes_process_batch(now=LATER))
        connection.close()

    waiting = threading.Thread(target=next_batch)
    try:
        assert running.wait(10)
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive()  # waits for its turn, with the row still queued
        later = PendingContactChangeFactory(contact_ids=[2, 3], contact_count=2)
    finally:
        finish.set()
        thread.join()
        waiting.join(10)

    assert claimed == [3]  # the row queued while it waited, too
    assert not PendingContactChange.objects.filter(pk__in=[first.pk, later.pk]).exists()


def test_rows_another_worker_holds_are_skipped(transactional_db):
    """SKIP LOCKED: a second worker takes the next rows instead of waiting."""
    import threading

    held, free = (PendingContactChangeFactory(contact_ids=[n], contact_count=1) for n in (1, 2))
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        with transaction.atomic():
            list(PendingContactChange.objects.select_for_update().filter(pk=held.pk))
            locked.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        claimed = contact_changes_process_batch(now=LATER, batch_size=10)
    finally:
        release.set()
        thread.join()

    assert claimed == 1
    assert list(PendingContactChange.objects.values_list("pk", flat=True)) == [held.pk]
    assert free.pk != held.pk


def test_batch_is_a_fixed_number_of_queries(django_assert_num_queries):
    contacts = ContactFactory.create_batch(20, country="FR", created_at=NOW - dt.timedelta(days=1))
    evaluated_segment("France", IN_FRANCE)
    evaluated_segment("VIP", VIP)
    Contact.objects.update(country="DE")
    contact_changes_record(contact_ids=[c.pk for c in contacts], changes=["field:country"])

    # savepoint, the batches' turn, claim, contacts' created_at, graph, segments; for France
    # (in the batched statement): savepoint, lock, custom fields, generic plan on, diff,
    # generic plan off, size, stats, release; delete the claimed rows, release
    with django_assert_num_queries(17):
        contact_changes_process_batch(now=LATER)


@pytest.mark.postgresql
def test_a_batch_over_many_segments_is_the_same_number_of_queries(django_assert_num_queries):
    # given: five segments that one change moves, each with its own contacts
    contacts = ContactFactory.create_batch(20, country="FR", created_at=NOW - dt.timedelta(days=1))
    for index in range(5):
        evaluated_segment(f"France {index}", {"all": [IN_FRANCE, {"any": [IN_FRANCE] * index}]})
    Contact.objects.update(country="DE")
    contact_changes_record(contact_ids=[c.pk for c in contacts], changes=["field:country"])

    # then: as many queries as for one segment (one statement evaluates them all)
    with django_assert_num_queries(17):
        contact_changes_process_batch(now=LATER)
    assert SegmentTransition.objects.filter(kind="left").count() == 4 * 20


TWICE = {"op": "gte", "value": 2}
MIXED_TREES = [
    IN_FRANCE,
    {"type": "event", "event": "login", "op": "performed", "within": {"days": 7}},
    {
        "all": [
            {"not": IN_FRANCE},
            {
                "type": "event",
                "event": "login",
                "op": "performed",
                "count": {"op": "gte", "value": 2},
            },
        ]
    },
    {"any": [VIP, {"type": "event", "event": "purchase", "op": "not_performed"}]},
]


def _changes_then_process(monkeypatch, batched_max: int):
    """A mix of segments, contacts changing under them, one batch; the batch's moves."""
    monkeypatch.setattr(scheduler, "BATCHED_MAX_CONTACTS", batched_max)
    old = NOW - dt.timedelta(days=30)
    ann, bob, cy, dee = (
        ContactFactory(country=c, created_at=old) for c in ("FR", "DE", "FR", "DE")
    )
    EventFactory(contact=bob, name="login", occurred_at=NOW - dt.timedelta(days=1))
    segments = [evaluated_segment(f"Mix {i}", tree) for i, tree in enumerate(MIXED_TREES)]
    segments.append(
        evaluated_segment(
            "Not mix 0", {"type": "segment", "op": "not_in", "segment": segments[0].pk}
        )
    )
    Contact.objects.filter(pk=ann.pk).update(country="DE")
    for contact in (ann, bob, dee):
        EventFactory(contact=contact, name="login", occurred_at=LATER)
    EventFactory(contact=cy, name="purchase", occurred_at=LATER)
    ContactTagFactory(contact=cy, tag__name="vip")
    changes = ["field:country", "event:login", "event:purchase", "tags"]
    contact_changes_record(contact_ids=[ann.pk, bob.pk, cy.pk, dee.pk], changes=changes)
    contact_changes_process_batch(now=LATER)
    names = {contact.pk: name for contact, name in zip((ann, bob, cy, dee), "abcd", strict=True)}
    moves = SegmentTransition.objects.filter(occurred_at=LATER).values_list(
        "segment__name", "contact_id", "kind"
    )
    sizes = {segment.name: Segment.objects.get(pk=segment.pk).size for segment in segments}
    stats = SegmentDailyStats.objects.filter(day=LATER.date()).values_list(
        "segment__name", "size", "entered", "left"
    )
    return (
        sorted((name, names[contact_id], kind) for name, contact_id, kind in moves),
        sizes,
        sorted(stats),
    )


@pytest.mark.postgresql
def test_batched_segments_move_contacts_as_one_by_one_evaluations_do(monkeypatch):
    def run(batched_max: int):
        with transaction.atomic():
            outcome = _changes_then_process(monkeypatch, batched_max=batched_max)
            transaction.set_rollback(True)  # the next run starts from the same state
        return outcome

    batched, one_by_one = run(2_000), run(0)

    assert batched == one_by_one
    assert ("Not mix 0", "a", "entered") in batched[0]  # readers follow in the same batch
    assert ("Mix 3", "c", "left") not in batched[0]  # vip now, though she purchased


def test_due_segments_are_claimed_by_next_evaluation_time():
    due = SegmentFactory(next_evaluation_at=NOW - dt.timedelta(seconds=1), refresh_interval=300)
    exactly_due = SegmentFactory(next_evaluation_at=NOW)
    SegmentFactory(next_evaluation_at=NOW + dt.timedelta(seconds=1))
    SegmentFactory(next_evaluation_at=None)

    claimed = segments_claim_due(now=NOW)

    assert [segment.pk for segment in claimed] == [due.pk, exactly_due.pk]
    due.refresh_from_db()
    assert due.next_evaluation_at == NOW + dt.timedelta(seconds=300)


def test_claimed_segments_are_not_claimed_twice():
    SegmentFactory(next_evaluation_at=NOW)
    segments_claim_due(now=NOW)

    assert segments_claim_due(now=NOW + dt.timedelta(seconds=30)) == []


def test_due_time_relative_segment_follows_the_clock():
    ann = ContactFactory(country="FR")
    recent = segment_create(
        name="Logged in this week",
        conditions={"type": "event", "event": "login", "op": "performed", "within": {"days": 7}},
    )
    ann.events.create(name="login", occurred_at=NOW - dt.timedelta(days=6))
    segment_evaluate(segment=recent, now=NOW)
    assert members(recent) == {ann.pk}
    recent.refresh_from_db()

    # two days later, no new event: the login is now 8 days old
    results = segments_evaluate_due(now=NOW + dt.timedelta(days=2))

    assert results[recent.pk].left == 1
    assert members(recent) == set()


def test_contact_updated_through_the_api_moves_between_segments(
    api, old_contacts, django_capture_on_commit_callbacks
):
    ann, _ = old_contacts
    france = evaluated_segment("France", IN_FRANCE)
    germany = evaluated_segment(
        "Germany", {"type": "field", "field": "country", "op": "eq", "value": "DE"}
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(f"/api/v1/contacts/{ann.pk}", {"country": "de"}, format="json")

    assert response.status_code == 200
    assert ann.pk not in members(france)
    assert members(germany) == {ann.pk}
    assert not PendingContactChange.objects.exists()


def test_a_segment_that_fails_does_not_stop_the_others():
    CustomFieldFactory(key="plan", type="text")
    ContactFactory(country="FR", fields={"plan": "pro"})
    broken = SegmentFactory(
        conditions={"type": "field", "field": "plan", "op": "eq", "value": "pro"},
        next_evaluation_at=NOW,
    )
    fine = SegmentFactory(conditions=IN_FRANCE, next_evaluation_at=NOW)
    CustomField.objects.filter(key="plan").delete()  # the tree no longer compiles

    results = segments_evaluate_due(now=NOW)

    assert set(results) == {fine.pk}
    assert results[fine.pk].entered == 1
    broken.refresh_from_db()
    assert broken.last_evaluated_at is None


def test_a_segment_failing_incrementally_is_marked_failed_and_skipped(old_contacts):
    # given: two evaluated segments; one stops compiling, then a contact changes
    CustomFieldFactory(key="plan", type="text")
    broken = evaluated_segment("Pro", {"type": "field", "field": "plan", "op": "eq", "value": "x"})
    fine = evaluated_segment("France", IN_FRANCE)
    ann = old_contacts[0]
    CustomField.objects.filter(key="plan").delete()
    Contact.objects.filter(pk=ann.pk).update(country="DE")
    contact_changes_record(contact_ids=[ann.pk], changes=["field:country", "fields.plan"])

    # when
    contact_changes_process_batch(now=LATER)

    # then: the change is consumed; the broken segment is marked failed (with the reason) and
    # left alone until its conditions change (tests/segments/test_failed_segments.py)
    assert not PendingContactChange.objects.exists()
    assert ann.pk not in members(fine)
    broken.refresh_from_db()
    assert (broken.failed_at, broken.failure_reason) == (
        LATER,
        "conditions.field: Unknown field 'plan'.",
    )
    assert segments_claim_due(now=LATER + dt.timedelta(days=1)) == []


@pytest.mark.django_db
@pytest.mark.postgresql
def test_after_the_warm_up_the_first_batch_compiles_no_condition(old_contacts, monkeypatch):
    # given segments that a batch evaluates together, one that reads another segment, a
    # failed one and one never evaluated
    france = evaluated_segment("France", IN_FRANCE)
    recent_logins = {"type": "event", "event": "login", "op": "performed", "within": {"days": 7}}
    evaluated_segment("Logged in", recent_logins)
    evaluated_segment("Reads France", {"type": "segment", "op": "in", "segment": france.pk})
    failed = evaluated_segment(
        "Failed", {"type": "field", "field": "country", "op": "eq", "value": "DE"}
    )
    Segment.objects.filter(pk=failed.pk).update(failed_at=NOW, failure_reason="broken")
    segment_create(name="Never evaluated", conditions={"type": "tag", "op": "has", "tag": "vip"})
    batch_evaluation._TEMPLATES.clear()

    # when a worker warms up: the two batched segments are compiled
    assert scheduler.batch_warm_up() == 2

    # then its first batch compiles nothing, and evaluates as it would have
    compiled = []
    compile_conditions = batch_evaluation._compiled
    monkeypatch.setattr(
        batch_evaluation,
        "_compiled",
        lambda *args, **kwargs: compiled.append(args) or compile_conditions(*args, **kwargs),
    )
    ann = old_contacts[0]
    Contact.objects.filter(pk=ann.pk).update(country="DE")
    contact_changes_record(contact_ids=[ann.pk], changes=["field:country"])
    contact_changes_process_batch(now=LATER)
    assert compiled == []
    assert ann.pk not in members(france)


@pytest.mark.postgresql
def test_a_compiled_tree_is_reused_with_its_windows_moved_to_now():
    # given: a tree with relative windows on events and a datetime field, compiled at one time
    tree = {
        "all": [
            {"type": "event", "event": "login", "op": "performed", "within": {"days": 7}},
            {
                "type": "field",
                "field": "last_activity_at",
                "op": "within_last",
                "value": {"days": 1},
            },
            IN_FRANCE,
        ]
    }
    fields = {}
    batch_evaluation.matching_condition(tree, now=NOW, fields=fields, fields_key=())

    # when: the same tree a day later, from the cache
    reused = batch_evaluation.matching_condition(tree, now=LATER, fields=fields, fields_key=())

    # then: the very SQL and params a fresh compilation gives
    assert reused == batch_evaluation._compiled(tree, now=LATER, fields=fields)


@pytest.mark.postgresql
def test_a_tree_whose_bounds_are_days_is_compiled_afresh_each_time():
    CustomFieldFactory(key="renews_on", type="date")
    tree = {"type": "field", "field": "renews_on", "op": "within_next", "value": {"hours": 20}}
    fields = {"renews_on": CustomField.objects.get(key="renews_on")}
    key = (("renews_on", "date"),)
    for now in (NOW, NOW + dt.timedelta(hours=5), NOW + dt.timedelta(hours=17)):
        assert batch_evaluation.matching_condition(
            tree, now=now, fields=fields, fields_key=key
        ) == batch_evaluation._compiled(tree, now=now, fields=fields)


def _batch_statements() -> dict[str, tuple[int, int]]:
    """The batched statements prepared on this connection: name -> (generic, custom) plans."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s",
            ["%WITH facts AS MATERIALIZED%"],
        )
        return {name: (generic, custom) for name, generic, custom in cursor.fetchall()}


@pytest.mark.postgresql
def test_batches_reuse_one_generic_plan_per_connection():
    # given: two segments, one of which the changes concern
    contacts = ContactFactory.create_batch(4, country="FR", created_at=NOW - dt.timedelta(days=1))
    france = evaluated_segment("France", IN_FRANCE)
    evaluated_segment("VIP", VIP)

    # when: three batches of country changes, each for other contacts
    before = _batch_statements()
    for contact in contacts[:3]:
        Contact.objects.filter(pk=contact.pk).update(country="DE")
        contact_changes_record(contact_ids=[contact.pk], changes=["field:country"])
        contact_changes_process_batch(now=LATER)

    # then: one prepared statement served them all, planned once (generic), and it was right
    # (this connection may hold other tests' batch statements: only this test's moved)
    after = _batch_statements()
    moved = {
        name: (generic - before.get(name, (0, 0))[0], custom - before.get(name, (0, 0))[1])
        for name, (generic, custom) in after.items()
        if (generic, custom) != before.get(name)
    }
    assert list(moved.values()) == [(3, 0)]
    assert members(france) == {contacts[3].pk}
