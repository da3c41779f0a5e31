"""Evaluating a segment: full (every contact) or incremental (given contacts), through one
function.

Each evaluation runs in one transaction (a savepoint inside the caller's) that first locks the
segment's row, so two evaluations of one segment queue behind each other and a transition is
never emitted twice; the second one sees the first one's memberships and finds nothing left to
change. The lock is FOR NO KEY UPDATE: another segment's save may still reference this one
(a foreign key check), while a delete (FOR UPDATE) waits for the evaluation to finish.

An evaluation that fails for a reason of the segment's own (its conditions no longer compile
or run) marks the segment failed: background evaluation skips it until its conditions change
or an explicit evaluation succeeds. A transient database failure (a deadlock, a lost
connection) does not: the next run retries.
"""

import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from contacts.models import Contact
from segments.membership_diff import membership_diff_apply
from segments.models import Segment, SegmentDailyStats
from segments.selectors import segment_matching_contacts
from segments.validation import stored_conditions_problem

logger = logging.getLogger(__name__)

FAILURE_REASON_MAX_LENGTH = 500


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    size: int
    entered: int
    left: int
    # The contacts that entered or left, from an incremental evaluation only.
    moved_contact_ids: frozenset[int] = frozenset()

    @property
    def changed(self) -> bool:
        return bool(self.entered or self.left)


class SegmentEvaluationFailed(Exception):
    """The segment could not be evaluated and is now marked failed with `reason`."""

    def __init__(self, *, segment_id: int, reason: str):
        super().__init__(f"Segment {segment_id} failed: {reason}")
        self.segment_id = segment_id
        self.reason = reason


def segment_lock(*, segment_id: int) -> Segment:
    """The segment's row, locked until the end of the transaction (a no-op on SQLite, whose
    write transactions are serialized anyway)."""
    return Segment.objects.select_for_update(no_key=True).get(pk=segment_id)


def segment_evaluate(*, segment: Segment, now: dt.datetime) -> EvaluationResult:
    """Re-evaluate every contact; updates size, schedule and today's stats, and clears a
    failure.

    Raises Segment.DoesNotExist when the segment was deleted meanwhile, and
    SegmentEvaluationFailed when it cannot be evaluated.
    """
    return _evaluate(segment=segment, now=now, contact_ids=None)


def segment_evaluate_contacts(
    *, segment: Segment, contact_ids: Iterable[int], now: dt.datetime
) -> EvaluationResult:
    """Re-evaluate only the given contacts (the incremental path).

    `last_evaluated_at` and the schedule stay as they are: they belong to full evaluations.
    Raises like segment_evaluate.
    """
    return _evaluate(segment=segment, now=now, contact_ids=list(contact_ids))


def _evaluate(
    *, segment: Segment, now: dt.datetime, contact_ids: list[int] | None
) -> EvaluationResult:
    full = contact_ids is None
    try:
        read_first = _matching_read_first(segment_id=segment.pk, now=now, contact_ids=contact_ids)
        with transaction.atomic():
            locked = segment_lock(segment_id=segment.pk)
            matching = segment_matching_contacts(conditions=locked.conditions, now=now)
            if read_first is not None and read_first[0] == locked.conditions:
                matching = read_first[1]
            diff = membership_diff_apply(
                segment_id=locked.pk, matching=matching, now=now, contact_ids=contact_ids
            )
            if full:
                size = diff.matched
                next_evaluation_at = None
                if locked.is_time_relative:
                    next_evaluation_at = now + dt.timedelta(seconds=locked.refresh_interval)
                Segment.objects.filter(pk=locked.pk).update(
                    size=size,
                    last_evaluated_at=now,
                    next_evaluation_at=next_evaluation_at,
                    failed_at=None,
                    failure_reason="",
                )
            else:
                size = locked.size + diff.entered - diff.left
                if diff.entered or diff.left:
                    Segment.objects.filter(pk=locked.pk).update(size=size)
            if full or diff.entered or diff.left:
                daily_stats_add(
                    segment_id=locked.pk, now=now, size=size, entered=diff.entered, left=diff.left
                )
    except (Segment.DoesNotExist, OperationalError, InterfaceError):
        raise  # deleted meanwhile, or transient: a deadlock, a lost connection, a timeout
    except Exception as exc:
        logger.exception("Evaluation of segment %s failed; it is marked failed", segment.pk)
        reason = _segment_mark_failed(segment_id=segment.pk, error=exc, now=now)
        raise SegmentEvaluationFailed(segment_id=segment.pk, reason=reason) from exc
    segment.size = size
    if full:
        segment.last_evaluated_at, segment.next_evaluation_at = now, next_evaluation_at
        segment.failed_at, segment.failure_reason = None, ""
    return EvaluationResult(
        size=size, entered=diff.entered, left=diff.left, moved_contact_ids=diff.moved_contact_ids
    )


def _matching_read_first(
    *, segment_id: int, now: dt.datetime, contact_ids: list[int] | None
) -> tuple[object, QuerySet[Contact]] | None:
    """SQLite only, outside any transaction: (conditions, the contacts they match) computed
    by a plain read, so the write transaction that follows only applies the diff.

    SQLite has one write lock for the whole database, taken at BEGIN (IMMEDIATE): evaluating
    the conditions inside the write transaction kept the web's writes waiting for seconds
    while the worker drained (bench/embedded.py). WAL readers block no one. A change that
    commits between this read and the write announces itself with a pending row of its own,
    evaluated next. None on PostgreSQL (row locks there, no database-wide one) or inside a
    caller's transaction (the lock is held already).
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return None
    conditions = Segment.objects.filter(pk=segment_id).values_list("conditions", flat=True)
    if not conditions:
        return None
    matching = segment_matching_contacts(conditions=conditions[0], now=now)
    if contact_ids is not None:
        matching = matching.filter(pk__in=_json_ids(contact_ids))
    ids = list(matching.order_by().values_list("pk", flat=True).distinct())
    return conditions[0], Contact.objects.filter(pk__in=_json_ids(ids))


def _json_ids(ids: list[int]) -> RawSQL:
    """An id list as one JSON parameter: SQLite caps the parameters of a statement."""
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(ids)])


def _segment_mark_failed(*, segment_id: int, error: Exception, now: dt.datetime) -> str:
    """Record the failure on the segment; returns its reason. Raises Segment.DoesNotExist
    when the segment is gone (deleted while it failed)."""
    conditions = Segment.objects.filter(pk=segment_id).values_list("conditions", flat=True)
    if not conditions:
        raise Segment.DoesNotExist(f"Segment {segment_id} does not exist.") from error
    # The stored conditions checked again say best what broke (a field deleted or retyped
    # behind the segment's back); otherwise the error itself, on one line.
    reason = stored_conditions_problem(conditions[0], segment_id=segment_id)
    if not reason:
        first_line = (str(error).strip().splitlines() or [""])[0]
        reason = f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__
    reason = reason[:FAILURE_REASON_MAX_LENGTH]
    Segment.objects.filter(pk=segment_id).update(failed_at=now, failure_reason=reason)
    return reason


_STATS = SegmentDailyStats._meta.db_table
# Same SQL on PostgreSQL and SQLite; "left" is a reserved word, hence the quotes.
_STATS_UPSERT_SQL = f"""
INSERT INTO {_STATS} (segment_id, day, size, entered, "left") VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (segment_id, day) DO UPDATE SET
    size = excluded.size,
    entered = {_STATS}.entered + excluded.entered,
    "left" = {_STATS}."left" + excluded."left"
"""


def daily_stats_add(*, segment_id: int, now: dt.datetime, size: int, entered: int, left: int):
    """Add to today's (UTC) entered / left counts of the segment and set its size."""
    day = now.astimezone(dt.UTC).date()
    with connection.cursor() as cursor:
        cursor.execute(_STATS_UPSERT_SQL, [segment_id, day, size, entered, left])
