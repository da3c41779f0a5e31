"""Evaluating a segment: full (every contact) or incremental (given contacts).

Each evaluation runs in one transaction that first locks the segment's row, so two
evaluations of one segment queue behind each other and a transition is never emitted twice;
the second one sees the first one's memberships and finds nothing left to change.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction

from segments.membership_diff import membership_diff_apply
from segments.models import Segment, SegmentDailyStats
from segments.selectors import segment_matching_contacts


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


def segment_lock(*, segment_id: int) -> Segment:
    """The segment's row, locked until the end of the transaction (a no-op on SQLite, whose
    write transactions are serialized anyway)."""
    return Segment.objects.select_for_update().get(pk=segment_id)


def segment_evaluate(*, segment: Segment, now: dt.datetime) -> EvaluationResult:
    """Re-evaluate every contact; updates size, schedule and today's stats.

    Raises Segment.DoesNotExist when the segment was deleted meanwhile.
    """
    with transaction.atomic():
        locked = segment_lock(segment_id=segment.pk)
        diff = membership_diff_apply(
            segment_id=locked.pk,
            matching=segment_matching_contacts(conditions=locked.conditions, now=now),
            now=now,
        )
        next_evaluation_at = None
        if locked.is_time_relative:
            next_evaluation_at = now + dt.timedelta(seconds=locked.refresh_interval)
        Segment.objects.filter(pk=locked.pk).update(
            size=diff.matched, last_evaluated_at=now, next_evaluation_at=next_evaluation_at
        )
        _daily_stats_add(
            segment_id=locked.pk, now=now, size=diff.matched, entered=diff.entered, left=diff.left
        )
    segment.size, segment.last_evaluated_at = diff.matched, now
    segment.next_evaluation_at = next_evaluation_at
    return EvaluationResult(size=diff.matched, entered=diff.entered, left=diff.left)


def segment_evaluate_contacts(
    *, segment: Segment, contact_ids: Iterable[int], now: dt.datetime
) -> EvaluationResult:
    """Re-evaluate only the given contacts (the incremental path).

    `last_evaluated_at` and the schedule stay as they are: they belong to full evaluations.
    """
    with transaction.atomic():
        locked = segment_lock(segment_id=segment.pk)
        diff = membership_diff_apply(
            segment_id=locked.pk,
            matching=segment_matching_contacts(conditions=locked.conditions, now=now),
            now=now,
            contact_ids=list(contact_ids),
        )
        size = locked.size + diff.entered - diff.left
        if diff.entered or diff.left:
            Segment.objects.filter(pk=locked.pk).update(size=size)
            _daily_stats_add(
                segment_id=locked.pk, now=now, size=size, entered=diff.entered, left=diff.left
            )
    segment.size = size
    return EvaluationResult(
        size=size, entered=diff.entered, left=diff.left, moved_contact_ids=diff.moved_contact_ids
    )


_STATS = SegmentDailyStats._meta.db_table
# Same SQL on PostgreSQL and SQLite; "left" is a reserved word, hence the quotes.
_STATS_UPSERT_SQL = f"""
INSERT INTO {_STATS} (segment_id, day, size, entered, "left") VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (segment_id, day) DO UPDATE SET
    size = excluded.size,
    entered = {_STATS}.entered + excluded.entered,
    "left" = {_STATS}."left" + excluded."left"
"""


def _daily_stats_add(*, segment_id: int, now: dt.datetime, size: int, entered: int, left: int):
    day = now.astimezone(dt.UTC).date()
    with connection.cursor() as cursor:
        cursor.execute(_STATS_UPSERT_SQL, [segment_id, day, size, entered, left])
