"""Keeping segments current: incremental re-evaluation of changed contacts, periodic
re-evaluation of time-relative segments, and full refreshes in dependency order.

Durable state lives in PostgreSQL rows (PendingContactChange, Segment.next_evaluation_at);
Celery only runs the functions here (segments.tasks).
"""

import datetime as dt
import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from django.db import connection, transaction

from contacts.models import Contact
from contacts.single_event_writes import SingleEventWrite
from segflow.queue import enqueue_on_commit, wake_on_commit
from segments.batch_evaluation import matching_conditions_compile, segments_evaluate_contacts
from segments.dependencies import (
    ACTIVITY,
    ACTIVITY_IDLE_BOUNDS,
    ACTIVITY_KINDS,
    ACTIVITY_UNBOUNDED,
    AffectedIndex,
    DependencyGraph,
    activity_change,
)
from segments.evaluation import (
    EvaluationResult,
    SegmentEvaluationFailed,
    segment_evaluate,
    segment_evaluate_contacts,
)
from segments.models import PendingContactChange, Segment
from segments.signals import transitions_announce_on_commit
from segments.sql import pk_in_q

logger = logging.getLogger(__name__)

CHANGE_BATCH_SIZE = 500
MAX_BATCHES_PER_RUN = 50
# Up to this many contacts, a batch's segments are evaluated in one statement (PostgreSQL);
# a bulk drain's larger sets go segment by segment, each a transaction of its own.
BATCHED_MAX_CONTACTS = 2_000
DUE_BATCH_SIZE = 100
# A contact created less than this before a segment's last full evaluation may have been
# missed by it (its transaction committed later), so it is evaluated whatever changed.
NEW_CONTACT_MARGIN = dt.timedelta(minutes=5)
# Pending rows per write at most: contacts with identical change kinds share a row (event names
# times idle-time classes make a few dozen sets for a large batch); past this many kind sets,
# the smallest groups share one row with the union of their kinds (a contact is then
# re-evaluated for a little more than it needs, never for less).
MAX_PENDING_ROWS_PER_WRITE = 24
PROCESS_TASK = "segments.tasks.process_contact_changes"


# --- Incremental: contacts changed ------------------------------------------------------------


def contact_changes_record(
    *,
    contact_ids: Iterable[int],
    changes: Iterable[str],
    events: Mapping[int, Sequence[tuple[int, str]]] | None = None,
    activity: Mapping[int, dt.timedelta | None] | None = None,
) -> None:
    """Queue the contacts for re-evaluation (durably, in the caller's transaction), then wake
    a worker once that transaction commits (unless a wake-up is queued already).

    With `events` ({contact id: [(event id, name), ...]}), each contact's "event:" kinds are
    its own events' names, not the write's union: a contact that only logged in is not
    re-evaluated for a segment reading `purchase`. `activity` ({contact id: how long it had
    been idle, None if never active}) names the contacts whose last_activity_at the write
    advanced: each gets its "activity:" kind from that (segments.dependencies). A write of
    events that does not say (None) counts every contact it names as idle for ever:
    re-evaluated more than needed, never less.
    """
    activity_kinds = (
        None
        if activity is None
        else {contact_id: activity_change(idle) for contact_id, idle in activity.items()}
    )
    groups = _group_by_kinds(
        sorted(set(contact_ids)), frozenset(changes), events or {}, activity_kinds
    )
    if not groups:
        return
    PendingContactChange.objects.bulk_create(
        PendingContactChange(contact_ids=ids, contact_count=len(ids), changes=sorted(kinds))
        for kinds, ids in groups
    )
    wake_on_commit(PROCESS_TASK)


def _group_by_kinds(
    contact_ids: list[int],
    changes: frozenset[str],
    events: Mapping[int, Sequence[tuple]],
    activity_kinds: Mapping[int, str] | None,
) -> list[tuple[frozenset[str], list[int]]]:
    if not contact_ids or not changes:
        return []
    if any(kind.startswith("event:") for kind in changes) and activity_kinds is None:
        changes |= {ACTIVITY_UNBOUNDED}  # events whose effect on last_activity_at is unknown
    if not events:
        return [(changes, contact_ids)]
    shared = frozenset(kind for kind in changes if not kind.startswith(("event:", ACTIVITY)))
    by_kinds: dict[frozenset[str], list[int]] = defaultdict(list)
    for contact_id in contact_ids:
        own = events.get(contact_id)
        if not own:
            kinds = changes
        elif activity_kinds is None:
            kinds = shared | {f"event:{name}" for _, name in own} | {ACTIVITY_UNBOUNDED}
        else:
            kinds = shared | {f"event:{name}" for _, name in own}
            if contact_id in activity_kinds:
                kinds |= {activity_kinds[contact_id]}
        by_kinds[kinds].append(contact_id)
    groups = sorted(by_kinds.items(), key=lambda group: -len(group[1]))
    if len(groups) > MAX_PENDING_ROWS_PER_WRITE:
        rest = groups[MAX_PENDING_ROWS_PER_WRITE - 1 :]
        merged_kinds = frozenset().union(*(kinds for kinds, _ in rest))
        merged_ids = sorted(contact_id for _, ids in rest for contact_id in ids)
        groups = [*groups[: MAX_PENDING_ROWS_PER_WRITE - 1], (merged_kinds, merged_ids)]
    return groups


def on_contacts_changed(
    sender, *, contact_ids, changes, events=None, activity=None, **kwargs
) -> None:
    """Receiver of contacts.signals.contacts_changed, inside the writer's transaction: the
    pending rows commit (or roll back) with the change itself."""
    contact_changes_record(
        contact_ids=contact_ids, changes=changes, events=events, activity=activity
    )


_PENDING = PendingContactChange._meta.db_table
# contact_changes_record's row for one stored event (contacts.single_event_writes): its
# contact, its "event:" kind and, when last_activity_at moved, the "activity:" kind of the
# contact's idle time before (activity_change's classes, in SQL), kinds sorted.
_ACTIVITY_KINDS_SQL = "ARRAY[{}]".format(", ".join(f"'{kind}'" for kind in ACTIVITY_KINDS))
_ACTIVITY_BOUNDS_SQL = "ARRAY[{}]".format(", ".join(str(bound) for bound in ACTIVITY_IDLE_BOUNDS))
_SINGLE_EVENT_SQL = f"""
INSERT INTO {_PENDING} (contact_ids, contact_count, changes, created_at)
SELECT jsonb_build_array(contact_id), 1,
    CASE WHEN NOT advanced THEN jsonb_build_array(%(segments_event_kind)s::text)
    ELSE jsonb_build_array(
        CASE WHEN previous_activity IS NULL THEN '{ACTIVITY_UNBOUNDED}'
        ELSE ({_ACTIVITY_KINDS_SQL})[1 + (
            SELECT count(*) FROM unnest({_ACTIVITY_BOUNDS_SQL}) AS bound
            WHERE bound <= extract(epoch FROM %(segments_now)s::timestamptz - previous_activity)
        )::integer] END,
        %(segments_event_kind)s::text)
    END,
    %(segments_now)s
FROM outcome
"""


def single_event_write(*, name: str, now: dt.datetime) -> SingleEventWrite:
    """on_contacts_changed's part when one event is stored (contacts.single_event_writes)."""
    return SingleEventWrite(
        sql=_SINGLE_EVENT_SQL,
        params={"segments_event_kind": f"event:{name}", "segments_now": now},
        wake=PROCESS_TASK,
    )


def contact_changes_process(*, now: dt.datetime, batch_size: int = CHANGE_BATCH_SIZE) -> int:
    """Drain the pending changes batch by batch; returns how many contacts were processed.

    Several workers can drain at once: each claims its own rows (SKIP LOCKED).
    """
    processed = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        claimed = contact_changes_process_batch(now=now, batch_size=batch_size)
        processed += claimed
        if claimed < batch_size:
            break
    else:
        wake_on_commit(PROCESS_TASK)  # more to do: let other workers in
    return processed


def contact_changes_process_batch(*, now: dt.datetime, batch_size: int = CHANGE_BATCH_SIZE) -> int:
    """Claim the oldest pending rows holding about `batch_size` contacts, re-evaluate the
    affected segments for those contacts only, delete the rows: all in one transaction, so a
    crash leaves them pending. Returns how many contacts (with repeats) the rows held."""
    if connection.vendor == "sqlite":
        return _process_batch_sqlite(now=now, batch_size=batch_size)
    with transaction.atomic():
        _batch_turn_wait()
        return _claimed_reevaluate(_claim_pending(batch_size), now=now)


# Transaction-level advisory lock key: one incremental batch evaluates at a time. Batches lock
# the segments they evaluate (most of them, for a batch of events) until they commit, so they
# queue behind each other anyway; waiting here, before claiming, lets the next batch take the
# changes that arrived meanwhile instead of rows it claimed before waiting (latency of the
# mixed live phase, docs/benchmarks.md). Any constant unique within Segflow.
_BATCH_TURN_KEY = 0x5E6F_0002


def _batch_turn_wait() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_BATCH_TURN_KEY])


def _claimed_reevaluate(claimed: list[tuple[int, list[int], list[str]]], *, now) -> int:
    """Re-evaluate the claimed rows' contacts, then delete the rows; returns how many
    contacts (with repeats) they held."""
    if not claimed:
        return 0
    changes_by_contact: dict[int, set[str]] = defaultdict(set)
    for _, contact_ids, changes in claimed:
        for contact_id in contact_ids:
            changes_by_contact[contact_id].update(changes)
    results = contacts_reevaluate(changes_by_contact=changes_by_contact, now=now)
    PendingContactChange.objects.filter(id__in=[row_id for row_id, _, _ in claimed]).delete()
    if any(result.changed for result in results.values()):
        transitions_announce_on_commit()
    return sum(len(contact_ids) for _, contact_ids, _ in claimed)


# One drainer per worker process on SQLite, which has no SKIP LOCKED: the worker's other
# threads leave the queue to it instead of evaluating the same rows at the same time.
_sqlite_drainer = threading.Lock()


def _process_batch_sqlite(*, now: dt.datetime, batch_size: int) -> int:
    """The embedded default's batch: no transaction around it. SQLite has one write lock for
    the whole database, so one transaction over every segment's evaluation kept the web's
    writes waiting for seconds (bench/embedded.py); here each segment's evaluation is a short
    write transaction of its own (segments.evaluation reads who matches before it) and the
    rows are deleted last. A crash in between leaves the rows queued: evaluating them again
    changes nothing."""
    if not _sqlite_drainer.acquire(blocking=False):
        return 0
    try:
        return _claimed_reevaluate(_claim_pending(batch_size), now=now)
    finally:
        _sqlite_drainer.release()


# The first rows in id order up to the one that reaches `batch_size` contacts (at least one
# row), locked; rows another worker holds are skipped, so that batch is just smaller.
_CLAIM_SQL = f"""
SELECT id, contact_ids, changes FROM {PendingContactChange._meta.db_table}
WHERE id IN (
    SELECT id FROM (
        SELECT id, sum(contact_count) OVER (ORDER BY id) - contact_count AS contacts_before
        FROM (
            SELECT id, contact_count FROM {PendingContactChange._meta.db_table}
            ORDER BY id LIMIT %s
        ) AS oldest
    ) AS counted
    WHERE contacts_before < %s
)
ORDER BY id
"""


def _claim_pending(batch_size: int) -> list[tuple[int, list[int], list[str]]]:
    sql = _CLAIM_SQL
    if connection.features.has_select_for_update_skip_locked:
        sql += "FOR UPDATE SKIP LOCKED"
    rows = PendingContactChange.objects.raw(sql, [batch_size, batch_size])
    return [(row.pk, row.contact_ids, row.changes) for row in rows]


def contacts_reevaluate(
    *, changes_by_contact: dict[int, set[str]], now: dt.datetime
) -> dict[int, EvaluationResult]:
    """Re-evaluate the given contacts in every segment whose conditions read what changed,
    in dependency order; a contact that moves in one segment is re-evaluated in the segments
    that read it. Returns the results by segment id.

    On PostgreSQL, a batch's segments that read no other segment are evaluated together in one
    statement (segments.batch_evaluation); the others, and every segment on SQLite or for a
    bulk drain's many contacts, one by one."""
    created_at = dict(
        Contact.objects.filter(pk_in_q(changes_by_contact)).values_list("pk", "created_at")
    )
    by_changes: dict[frozenset[str], list[int]] = defaultdict(list)
    for contact_id, changes in changes_by_contact.items():
        if contact_id in created_at:
            by_changes[frozenset(changes)].append(contact_id)
    graph = DependencyGraph.load()
    ordered = graph.ordered(_incremental_segments())
    earliest = min((segment.last_evaluated_at for segment in ordered), default=now)
    recent = [(pk, at) for pk, at in created_at.items() if at >= earliest - NEW_CONTACT_MARGIN]

    index = AffectedIndex((segment.pk, segment.dependency_keys) for segment in ordered)
    affecting = [(index.affected(changes), ids) for changes, ids in by_changes.items()]

    def affected_contacts(segment: Segment) -> set[int]:
        missed_after = segment.last_evaluated_at - NEW_CONTACT_MARGIN
        contact_ids = {pk for pk, at in recent if at >= missed_after}
        for affected, contact_ids_changed in affecting:
            if segment.pk in affected:
                contact_ids.update(contact_ids_changed)
        return contact_ids

    moved: dict[int, frozenset[int]] = {}
    results: dict[int, EvaluationResult] = {}
    if connection.vendor == "postgresql" and len(created_at) <= BATCHED_MAX_CONTACTS:
        batchable = _batchable(graph, ordered)
        scopes = {
            segment.pk: contact_ids
            for segment in batchable
            if (contact_ids := affected_contacts(segment))
        }
        batched = (
            segments_evaluate_contacts(
                scopes=scopes,
                segments={segment.pk: segment.conditions for segment in batchable},
                now=now,
            )
            if scopes
            else None
        )
        if batched is not None:
            results.update(batched)
            moved.update((pk, result.moved_contact_ids) for pk, result in batched.items())
            ordered = [segment for segment in ordered if segment.pk not in scopes]
    for segment in ordered:
        contact_ids = affected_contacts(segment)
        for read_id in graph.upstream[segment.pk]:
            contact_ids |= moved.get(read_id, frozenset())
        if not contact_ids:
            continue
        # One broken segment must not hold the others back: each evaluation is a savepoint,
        # and a failed one is marked failed in the batch's transaction.
        try:
            result = segment_evaluate_contacts(segment=segment, contact_ids=contact_ids, now=now)
        except (Segment.DoesNotExist, SegmentEvaluationFailed):
            continue  # deleted meanwhile, or failed (logged and skipped from now on)
        except Exception:
            logger.exception("Incremental evaluation of segment %s failed", segment.pk)
            # These pending rows go with the batch; a full evaluation, due now (and retried
            # every interval while it fails), covers the contacts this one missed.
            Segment.objects.filter(pk=segment.pk).update(next_evaluation_at=now)
            continue
        results[segment.pk] = result
        moved[segment.pk] = result.moved_contact_ids
    return results


def _incremental_segments():
    """The segments an incremental batch re-evaluates. Never evaluated yet: its first full
    evaluation, queued already, covers everyone. Failed segments wait for new conditions or
    an explicit evaluation (segments.evaluation)."""
    return Segment.objects.filter(last_evaluated_at__isnull=False, failed_at__isnull=True).only(
        "pk", "dependency_keys", "last_evaluated_at", "size", "conditions"
    )


def _batchable(graph: DependencyGraph, ordered: list[Segment]) -> list[Segment]:
    """Those evaluated together in one statement (segments.batch_evaluation): the segments
    that read no other segment."""
    return [segment for segment in ordered if not graph.upstream[segment.pk]]


def batch_warm_up() -> int:
    """Compile the conditions of the segments a batch evaluates together, before a worker
    process's first batch; the number compiled (none off PostgreSQL, which has no batch)."""
    if connection.vendor != "postgresql":
        return 0
    graph = DependencyGraph.load()
    batchable = _batchable(graph, list(_incremental_segments()))  # any order compiles alike
    return matching_conditions_compile(
        segments={segment.pk: segment.conditions for segment in batchable}
    )


# --- Full evaluation in dependency order -----------------------------------------------------


def segments_refresh(
    *, segments: Iterable[Segment], now: dt.datetime
) -> dict[int, EvaluationResult]:
    """Fully evaluate the segments in dependency order, then (transitively) the segments that
    read one whose membership changed. Each segment is its own transaction."""
    graph = DependencyGraph.load()
    pending = {segment.pk: segment for segment in segments if segment.failed_at is None}
    results: dict[int, EvaluationResult] = {}
    while pending:
        segment = graph.ordered(pending.values())[0]
        del pending[segment.pk]
        try:
            result = segment_evaluate(segment=segment, now=now)
        except (Segment.DoesNotExist, SegmentEvaluationFailed):
            continue  # deleted meanwhile, or failed (logged and skipped from now on)
        except Exception:
            logger.exception("Evaluation of segment %s failed", segment.pk)
            continue
        results[segment.pk] = result
        if result.changed:
            readers = graph.downstream[segment.pk] - set(results) - set(pending)
            pending.update(Segment.objects.filter(failed_at__isnull=True).in_bulk(readers))
    if any(result.changed for result in results.values()):
        transitions_announce_on_commit()
    return results


def segment_queue_refresh(*, segment_ids: Iterable[int]) -> None:
    """Queue a full refresh of these segments once the current transaction commits."""
    ids = sorted(set(segment_ids))
    if ids:
        enqueue_on_commit("segments.tasks.refresh_segments", ids)


def segment_evaluate_now(*, segment: Segment, now: dt.datetime) -> EvaluationResult:
    """Evaluate in the caller's process (on demand); the segments reading it are queued."""
    result = segment_evaluate(segment=segment, now=now)
    if result.changed:
        transitions_announce_on_commit()
        segment_queue_refresh(segment_ids=DependencyGraph.load().downstream[segment.pk])
    return result


# --- Periodic: time-relative segments --------------------------------------------------------


def segments_claim_due(*, now: dt.datetime, limit: int = DUE_BATCH_SIZE) -> list[Segment]:
    """Claim segments whose next evaluation is due by moving it an interval ahead, so no other
    worker takes them; a crash after the claim only delays them by one interval."""
    with transaction.atomic():
        due = list(
            Segment.objects.select_for_update(skip_locked=True)
            .filter(next_evaluation_at__lte=now, failed_at__isnull=True)
            .order_by("next_evaluation_at", "pk")[:limit]
        )
        for segment in due:
            segment.next_evaluation_at = now + dt.timedelta(seconds=segment.refresh_interval)
        Segment.objects.bulk_update(due, ["next_evaluation_at"])
    return due


def segments_evaluate_due(*, now: dt.datetime) -> dict[int, EvaluationResult]:
    return segments_refresh(segments=segments_claim_due(now=now), now=now)
