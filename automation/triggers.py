"""Flow triggers: stored events and segment transitions that start or wake enrollments, each
consumed exactly once.

Events: the `contacts_changed` receiver writes a PendingFlowEvent row per stored event whose
name a flow watches (automation.trigger_watch), in the ingesting transaction, so an event is
in the outbox if and only if it was stored. `flow_events_process` claims rows (SKIP LOCKED)
and, in one transaction, enrolls ("event:<id>", unique per flow), wakes sleeping enrollments
that await the name, and deletes the rows: a rollback delivers them again, a commit leaves
nothing to replay, and a replay would be a no-op anyway. It then sweeps the activations
whose first minutes may have events stored without an outbox row (activation_gaps_sweep).

Segments: `segment_transitions_consume` reads the transitions feed at the "flows" cursor
(segments.feed), which moves in the same transaction as the enrollments
("transition:<id>", unique per flow).

Docs: docs/flow-triggers.md.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from automation.enrollment import RUN_DUE_TASK, enrollments_start_bulk
from automation.models import (
    Enrollment,
    EnrollmentState,
    Flow,
    FlowStatus,
    FlowVersion,
    PendingFlowEvent,
    TriggerType,
)
from automation.trigger_watch import (
    ACTIVATION_GAP,
    ACTIVATION_SETTLE,
    FEED_CONSUMER,
    live_event_versions,
    watched_load,
    watched_names,
)
from contacts.models import Event
from contacts.single_event_writes import SingleEventWrite
from segflow.queue import task_publish, wake_on_commit
from segments.feed import transitions_claim
from segments.field_conditions import property_filter_q
from segments.models import SegmentTransition, TransitionKind

FLOW_EVENTS_TASK = "automation.tasks.process_flow_events"
TRANSITIONS_TASK = "automation.tasks.consume_segment_transitions"
EVENT_BATCH_SIZE = 1000
TRANSITION_BATCH_SIZE = 1000
MAX_BATCHES_PER_RUN = 50


# --- Events: the outbox writer (inside the ingesting transaction) -----------------------------


def on_contacts_changed(sender, *, contact_ids, changes, events=None, **kwargs) -> None:
    """Receiver of contacts.signals.contacts_changed: queue the watched events of this write
    (one INSERT for the batch; no query at all when no flow watches its names)."""
    if not events:
        return
    watched = watched_names()
    if not watched or not any(
        change.startswith("event:") and change[6:] in watched for change in changes
    ):
        return
    rows = [
        (event_id, contact_id, name)
        for contact_id, stored in events.items()
        for event_id, name in stored
        if name in watched
    ]
    if rows:
        pending_flow_events_insert(rows)
        wake_on_commit(FLOW_EVENTS_TASK)


_PENDING_INSERT_SQL = f"""
INSERT INTO {PendingFlowEvent._meta.db_table} (event_id, contact_id, name, created_at)
SELECT event_id, contact_id, name, %s
FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS t(event_id, contact_id, name)
ON CONFLICT (event_id) DO NOTHING
"""


_SINGLE_EVENT_SQL = (
    f"INSERT INTO {PendingFlowEvent._meta.db_table} (event_id, contact_id, name, created_at) "
    "SELECT event_id, contact_id, %(automation_name)s, %(automation_now)s FROM outcome "
    "ON CONFLICT (event_id) DO NOTHING"
)


def single_event_write(*, name: str, now: dt.datetime) -> SingleEventWrite | None:
    """on_contacts_changed's part when one event is stored (contacts.single_event_writes)."""
    if name not in watched_names():
        return None
    return SingleEventWrite(
        sql=_SINGLE_EVENT_SQL,
        params={"automation_name": name, "automation_now": now},
        wake=FLOW_EVENTS_TASK,
    )


def pending_flow_events_insert(rows: Sequence[tuple[int, int, str]]) -> None:
    """(event_id, contact_id, name) rows into the outbox; an event queued already is kept.
    created_at is this process's clock, like Flow.activated_at, which it is compared with."""
    now = timezone.now()
    if connection.vendor != "postgresql":
        PendingFlowEvent.objects.bulk_create(
            [
                PendingFlowEvent(event_id=e, contact_id=c, name=n, created_at=now)
                for e, c, n in rows
            ],
            ignore_conflicts=True,
        )
        return
    event_ids, contact_ids, names = (list(column) for column in zip(*rows, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(_PENDING_INSERT_SQL, [now, event_ids, contact_ids, names])


# --- Events: the processor -------------------------------------------------------------------


def flow_events_process(*, now: dt.datetime, batch_size: int = EVENT_BATCH_SIZE) -> int:
    """Consume the outbox batch by batch (then sweep recent activations' gaps); returns how
    many rows were consumed. Any number of workers may run it at once."""
    consumed = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        with transaction.atomic():
            claimed = flow_events_process_batch(now=now, batch_size=batch_size)
        consumed += claimed
        if claimed < batch_size:
            break
    else:
        task_publish(FLOW_EVENTS_TASK, wake=True)  # more to do: let other workers in
    activation_gaps_sweep(now=now)
    return consumed


def flow_events_process_batch(*, now: dt.datetime, batch_size: int = EVENT_BATCH_SIZE) -> int:
    """Claim up to `batch_size` outbox rows (rows another worker holds are skipped), enroll,
    wake, delete them; the caller's transaction (required) makes it all or nothing."""
    claimed = list(
        PendingFlowEvent.objects.select_for_update(skip_locked=True)
        .order_by("pk")
        .values_list("pk", "event_id", "contact_id", "name", "created_at")[:batch_size]
    )
    if not claimed:
        return 0
    _enroll_on_events(claimed, now=now)
    _wake_sleepers(claimed, now=now)
    PendingFlowEvent.objects.filter(pk__in=[row[0] for row in claimed]).delete()
    return len(claimed)


def _enroll_on_events(claimed: list[tuple], *, now: dt.datetime) -> None:
    names = {row[3] for row in claimed}
    for version in live_event_versions(trigger_event__in=names):
        activated_at = version.flow.activated_at
        # Events received before the activation do not enroll (a name awaited by another
        # flow may have queued them).
        events = {
            event_id: contact_id
            for _, event_id, contact_id, name, created_at in claimed
            if name == version.trigger_event
            and (activated_at is None or created_at >= activated_at)
        }
        if not events:
            continue
        passing = _where_passing(version, Event.objects.filter(pk__in=list(events)))
        if passing is not None:
            events = {pk: events[pk] for pk in passing.values_list("pk", flat=True)}
        _enroll_events(version, sorted(events.items()), now=now)


def _where_passing(version: FlowVersion, events: QuerySet[Event]) -> QuerySet[Event] | None:
    """The events passing the trigger's property filters (segments' own SQL for them); None
    when the trigger has none."""
    where = (version.definition.get("trigger") or {}).get("where")
    if not where:
        return None
    for item in where:
        events = events.filter(property_filter_q(item))
    return events


def _enroll_events(version: FlowVersion, events: Iterable[tuple[int, int]], *, now) -> int:
    items = [(contact_id, f"event:{event_id}", event_id) for event_id, contact_id in events]
    return enrollments_start_bulk(version=version, items=items, now=now) if items else 0


def _wake_sleepers(claimed: list[tuple], *, now: dt.datetime) -> int:
    """Due now: active enrollments asleep on a step, of these contacts, that await one of
    these names or whose version's exit_when reads it (the engine re-checks and sleeps
    again if nothing is due). One UPDATE per awaited name in the batch."""
    watched = watched_load()
    contacts_by_name: dict[str, set[int]] = defaultdict(set)
    for _, _, contact_id, name, _ in claimed:
        if name in watched.awaited or name in watched.exit_readers:
            contacts_by_name[name].add(contact_id)
    woken = 0
    for name, contact_ids in sorted(contacts_by_name.items()):
        awaits = Q(waiting_for_event=name)
        readers = watched.exit_readers.get(name)
        if readers:
            awaits |= Q(version_id__in=sorted(readers))
        woken += Enrollment.objects.filter(
            awaits,
            Q(next_run_at__gt=now) | Q(next_run_at__isnull=True),
            state=EnrollmentState.ACTIVE,
            sleeping=True,
            contact_id__in=sorted(contact_ids),
        ).update(next_run_at=now)
    if woken:
        wake_on_commit(RUN_DUE_TASK)
    return woken


# --- Events: the activation gap ---------------------------------------------------------------


def activation_gaps_sweep(*, now: dt.datetime) -> int:
    """Once per activation, when its gap has closed (ACTIVATION_GAP + ACTIVATION_SETTLE after
    it): enroll the trigger events received in the gap that a process with an outdated
    watched-names cache stored without an outbox row (automation.trigger_watch), for the
    contacts the flow has not enrolled since the activation, through the same idempotent
    path; then mark the activation swept (activation_event_id = NULL) in that transaction.
    Returns how many enrolled."""
    enrolled = 0
    due = live_event_versions(
        flow__activation_event_id__isnull=False,
        flow__activated_at__lte=now - ACTIVATION_GAP - ACTIVATION_SETTLE,
    )
    for version in due:
        with transaction.atomic():
            flow = (
                Flow.objects.select_for_update(skip_locked=True)
                .filter(pk=version.flow_id, activation_event_id__isnull=False)
                .first()
            )
            if flow is None:
                continue  # another worker sweeps it, or swept it already
            enrolled += _enroll_events(version, _gap_events(version, flow), now=now)
            Flow.objects.filter(pk=flow.pk).update(activation_event_id=None)
    return enrolled


def _gap_events(version: FlowVersion, flow: Flow) -> list[tuple[int, int]]:
    """(event id, contact id) of the trigger's events received in the activation's gap
    (rows after activation_event_id: one index range), passing the trigger's filters, of
    contacts without an enrollment in the flow since the activation."""
    since_activation = Enrollment.objects.filter(
        flow_id=flow.pk, contact_id=OuterRef("contact_id"), enrolled_at__gte=flow.activated_at
    )
    events = Event.objects.filter(
        pk__gt=flow.activation_event_id,
        name=version.trigger_event,
        received_at__gte=flow.activated_at,
        received_at__lt=flow.activated_at + ACTIVATION_GAP,
    ).exclude(Exists(since_activation))
    passing = _where_passing(version, events)
    events = events if passing is None else passing
    return list(events.order_by("pk").values_list("pk", "contact_id"))


# --- Segments: the transitions feed -----------------------------------------------------------


def on_transitions_written(sender, **kwargs) -> None:
    """Receiver of segments.signals.transitions_written (sent after the commit)."""
    task_publish(TRANSITIONS_TASK, wake=True)


def segment_transitions_consume(*, now: dt.datetime) -> int:
    """Read the feed at the flows cursor and enroll, batch by batch (the cursor moves in the
    enrolling transaction); returns how many transitions were consumed. A second worker
    finds the cursor locked and leaves at once."""
    consumed = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        with transaction.atomic():
            claimed = transitions_claim(
                consumer=FEED_CONSUMER,
                limit=TRANSITION_BATCH_SIZE,
                segment_ids=_triggering_segment_ids,
            )
            _enroll_on_transitions(claimed, now=now)
        consumed += len(claimed)
        if len(claimed) < TRANSITION_BATCH_SIZE:
            break
    else:
        task_publish(TRANSITIONS_TASK, wake=True)
    return consumed


_KIND_OF_TRIGGER = {
    TriggerType.SEGMENT_ENTERED: TransitionKind.ENTERED,
    TriggerType.SEGMENT_LEFT: TransitionKind.LEFT,
}


def _triggering_segment_ids() -> set[int]:
    """The segments whose transitions some active flow is triggered by: the feed skips the
    others (after a large evaluation, millions of rows no flow reads)."""
    return set(
        FlowVersion.objects.filter(
            trigger_type__in=list(_KIND_OF_TRIGGER),
            flow__status=FlowStatus.ACTIVE,
            flow__live_version=F("pk"),
        ).values_list("trigger_segment_id", flat=True)
    )


def _enroll_on_transitions(claimed: list[SegmentTransition], *, now: dt.datetime) -> None:
    if not claimed:
        return
    versions = FlowVersion.objects.filter(
        trigger_type__in=list(_KIND_OF_TRIGGER),
        trigger_segment_id__in={transition.segment_id for transition in claimed},
        flow__status=FlowStatus.ACTIVE,
        flow__live_version=F("pk"),
    ).select_related("flow")
    for version in versions:
        kind, activated_at = _KIND_OF_TRIGGER[version.trigger_type], version.flow.activated_at
        items = [
            (transition.contact_id, f"transition:{transition.pk}", None)
            for transition in claimed
            if transition.segment_id == version.trigger_segment_id
            and transition.kind == kind
            and (activated_at is None or transition.occurred_at >= activated_at)
        ]
        if items:
            enrollments_start_bulk(version=version, items=items, now=now)
