"""A deleted contact leaves its segments: `left` transitions for its current stays, sizes and
today's stats moved, in the deleting transaction (contacts.signals.contacts_deleting).

The stays themselves go with the contact (CASCADE); the transitions outlive it (no database
constraint on their contact), so the feed's consumers hear that it left.

Every segment is locked first, in dependency order: the order in which evaluations lock
segments, so a deletion and an evaluation queue instead of deadlocking. All of them, not only
those the contact is in: an incremental batch holds the locks of the segments it evaluated
until it commits, and its new stays check the contact's row at commit (deferred foreign key);
a deletion holding a later segment while waiting for that contact row would deadlock with it.
Once every lock is held, no evaluation is midway, and the stays read are the final ones.
"""

import datetime as dt
from collections.abc import Sequence

from django.db import connection
from django.db.models import Count, F
from django.utils import timezone

from segments.dependencies import DependencyGraph
from segments.evaluation import daily_stats_add
from segments.models import Segment, SegmentMembership, SegmentTransition, TransitionKind
from segments.signals import transitions_announce_on_commit

_SEGMENT = Segment._meta.db_table
_MEMBERSHIP = SegmentMembership._meta.db_table
_TRANSITION = SegmentTransition._meta.db_table


def contacts_leave_segments(*, contact_ids: Sequence[int], now: dt.datetime) -> int:
    """Write the `left` transitions of these contacts' current stays and move the segments'
    sizes and stats; call it in the deleting transaction, before the delete. Returns how many
    stays ended."""
    ids = sorted(set(contact_ids))
    stays = SegmentMembership.objects.current().filter(contact_id__in=ids)
    if not ids or not stays.exists():
        return 0
    _segments_lock_all()
    left_by_segment = dict(
        stays.order_by().values("segment").annotate(n=Count("pk")).values_list("segment", "n")
    )
    in_ids = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_TRANSITION} (segment_id, contact_id, kind, occurred_at) "
            f"SELECT segment_id, contact_id, %s, %s FROM {_MEMBERSHIP} "
            f"WHERE left_at IS NULL AND contact_id IN ({in_ids}) ORDER BY segment_id, contact_id",
            [TransitionKind.LEFT.value, now, *ids],
        )
    for segment_id, left in sorted(left_by_segment.items()):
        Segment.objects.filter(pk=segment_id).update(size=F("size") - left)
        size = Segment.objects.filter(pk=segment_id).values_list("size", flat=True).get()
        daily_stats_add(segment_id=segment_id, now=now, size=size, entered=0, left=left)
    transitions_announce_on_commit()
    return sum(left_by_segment.values())


def _segments_lock_all() -> None:
    """Every segment's row, locked as an evaluation locks it (FOR NO KEY UPDATE), in
    dependency order: one statement, whose rows are locked in its ORDER BY order. A no-op on
    SQLite (one writer at a time)."""
    if connection.vendor != "postgresql":
        return
    ordered = [s.pk for s in DependencyGraph.load().ordered(Segment.objects.only("pk"))]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {_SEGMENT} WHERE id = ANY(%s::bigint[]) "
            f"ORDER BY array_position(%s::bigint[], id) FOR NO KEY UPDATE",
            [ordered, ordered],
        )


def on_contacts_deleting(sender, *, contact_ids, **kwargs) -> None:
    """Receiver of contacts.signals.contacts_deleting."""
    contacts_leave_segments(contact_ids=contact_ids, now=timezone.now())
