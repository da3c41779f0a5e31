"""The transitions feed: every consumer (flows, outgoing webhooks, reports) reads the segment
transitions at its own cursor, a TransitionConsumer row advanced in the consumer's own
transaction.

Why not simply "id greater than the last id read": an id is taken when a row is inserted, not
when its transaction commits. Evaluation A inserts transition 10 and is still running when
evaluation B inserts 11 and commits; a reader then sees 11, moves its cursor past it, and
never sees 10 once A commits. So the feed is ordered by (xact_id, id) — xact_id being the
inserting transaction's id (models.TransactionId) — and on PostgreSQL a reader reads only rows
of transactions older than every transaction still running (in this database; _HORIZON_SQL): all
of those have ended, so no row can appear behind the cursor later. A long-running writer
holds the feed back until it ends; it never loses a row. A consumer never reads the
transitions its own transaction wrote. SQLite serializes writers (ids follow commit order):
xact_id is 0 there and the order is the id's.

A new consumer starts after the feed's settled part (the rows of transactions that had ended
when it was created), so a new flow does not replay history; rows of transactions still
running or committed since are delivered.
"""

from collections.abc import Callable, Collection

from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q

from segments.models import SegmentTransition, TransitionConsumer

# Every transaction below this id has ended (PostgreSQL): the oldest one still running in the
# statement's snapshot, or the snapshot's xmax. Transaction ids are cluster-wide, so the
# running ones of other databases on the server (seen in pg_stat_activity) are left out: a
# long transaction elsewhere must not hold this feed back. One that cannot be told apart (it
# ended since, or its session is hidden from this role) counts as ours: a delay, never a loss.
# A snapshot does not list its own transaction as running, so once a later transaction has
# ended the bound passes the claimer's own id: that id, once it has one, caps the horizon, so
# its own transitions are neither read nor skipped before it commits.
_HORIZON_SQL = """SELECT least(
        coalesce(min(running.xid), min(txid_snapshot_xmax(snap.s))),
        txid_current_if_assigned())
    FROM (SELECT txid_current_snapshot() AS s) AS snap
    LEFT JOIN LATERAL txid_snapshot_xip(snap.s) AS running(xid)
        ON running.xid % 4294967296 NOT IN (
            SELECT backend_xid::text::bigint FROM pg_stat_activity
            WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database()
        )"""
# A transition id above every real one: a cursor there has read all of its transaction's.
_PAST_EVERY_ID = 2**63 - 1


def transitions_claim(
    *,
    consumer: str,
    limit: int,
    segment_ids: Collection[int] | Callable[[], Collection[int]] | None = None,
) -> list[SegmentTransition]:
    """The next transitions for `consumer`, at most `limit`, in feed order; its cursor moves
    past them in the caller's transaction (required): a rollback delivers them again.

    With `segment_ids`, only those segments' transitions are delivered, and the cursor also
    moves past the others: when fewer than `limit` come back, to the end of the feed's
    settled part. A consumer that cares about a few segments (flows: the segments some
    active flow is triggered by) then neither reads nor loads the rest; with none, a claim
    is a few short statements however far behind the cursor is. A callable is called once
    the cursor is locked and the settled part fixed, so the segments it reads are at least
    as recent as the transitions skipped.

    Several workers of one consumer may call this at once: the one holding the cursor row
    gets the rows, the others get [] at once (SKIP LOCKED) and should leave the work to it.
    """
    cursor = _cursor_lock(consumer)
    if cursor is None:
        return []
    horizon = _horizon()
    if callable(segment_ids):
        segment_ids = segment_ids()
    claimed = []
    if segment_ids is None or segment_ids:
        after = Q(xact_id__gte=cursor.last_xact_id) & (
            Q(xact_id__gt=cursor.last_xact_id) | Q(id__gt=cursor.last_transition_id)
        )
        rows = SegmentTransition.objects.filter(after)
        if horizon is not None:
            rows = rows.filter(xact_id__lt=horizon)
        if segment_ids is not None:
            rows = rows.filter(segment_id__in=sorted(segment_ids))
        claimed = list(rows.order_by("xact_id", "id")[:limit])
    if len(claimed) == limit or segment_ids is None:
        position = (claimed[-1].xact_id, claimed[-1].pk) if claimed else None
    else:  # every transition of those segments was read: skip to the settled end
        position = _settled_end(horizon)
    if position is not None and position > (cursor.last_xact_id, cursor.last_transition_id):
        TransitionConsumer.objects.filter(pk=cursor.pk).update(
            last_xact_id=position[0], last_transition_id=position[1]
        )
    return claimed


def _horizon() -> int | None:
    """Every transaction below this id has ended (PostgreSQL; None on SQLite): all their
    transitions are visible to any later statement, so reading below it in a second
    statement misses none of them."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(_HORIZON_SQL)
        return cursor.fetchone()[0]


def _cursor_lock(name: str) -> TransitionConsumer | None:
    """The consumer's row, locked until the transaction ends (created on first use); None
    when another transaction holds it."""
    locked = TransitionConsumer.objects.select_for_update(skip_locked=True)
    cursor = locked.filter(name=name).first()
    if cursor is not None or TransitionConsumer.objects.filter(name=name).exists():
        return cursor
    last_xact_id, last_transition_id = _settled_end()
    try:
        with transaction.atomic():
            return TransitionConsumer.objects.create(
                name=name, last_xact_id=last_xact_id, last_transition_id=last_transition_id
            )
    except IntegrityError:
        return None  # created by a concurrent first claim, which holds it


def _settled_end(horizon: int | None = None) -> tuple[int, int]:
    """The feed position no transition of a running transaction can precede: past every
    transaction below `horizon` (PostgreSQL, taken now if not given). On SQLite (writers
    serialized, xact_id 0) the last transition this transaction sees."""
    if connection.vendor == "postgresql":
        horizon = _horizon() if horizon is None else horizon
        return horizon - 1, _PAST_EVERY_ID
    return 0, SegmentTransition.objects.aggregate(last=Max("id"))["last"] or 0
