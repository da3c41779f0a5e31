"""The transitions feed: every consumer (flows, outgoing webhooks, reports) reads the segment
transitions at its own cursor, a TransitionConsumer row advanced in the consumer's own
transaction.

Why not simply "id greater than the last id read": an id is taken when a row is inserted, not
when its transaction commits. Evaluation A inserts transition 10 and is still running when
evaluation B inserts 11 and commits; a reader then sees 11, moves its cursor past it, and
never sees 10 once A commits. So the feed is ordered by (xact_id, id) — xact_id being the
inserting transaction's id (models.TransactionId) — and on PostgreSQL a reader reads only rows
of transactions older than every transaction still running (in this database; _HORIZON): all
of those have ended, so no row can appear behind the cursor later. A long-running writer
holds the feed back until it ends; it never loses a row. A consumer never reads the
transitions its own transaction wrote. SQLite serializes writers (ids follow commit order):
xact_id is 0 there and the order is the id's.

A new consumer starts after the feed's settled part (the rows of transactions that had ended
when it was created), so a new flow does not replay history; rows of transactions still
running or committed since are delivered.
"""

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL

from segments.models import SegmentTransition, TransitionConsumer

# Every transaction below this id has ended (PostgreSQL): the oldest one still running in the
# statement's snapshot, or the snapshot's xmax. Transaction ids are cluster-wide, so the
# running ones of other databases on the server (seen in pg_stat_activity) are left out: a
# long transaction elsewhere must not hold this feed back. One that cannot be told apart (it
# ended since, or its session is hidden from this role) counts as ours: a delay, never a loss.
_HORIZON = RawSQL(
    """SELECT coalesce(min(running.xid), min(txid_snapshot_xmax(snap.s)))
    FROM (SELECT txid_current_snapshot() AS s) AS snap
    LEFT JOIN LATERAL txid_snapshot_xip(snap.s) AS running(xid)
        ON running.xid %% 4294967296 NOT IN (
            SELECT backend_xid::text::bigint FROM pg_stat_activity
            WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database()
        )""",
    [],
)


def transitions_claim(*, consumer: str, limit: int) -> list[SegmentTransition]:
    """The next transitions for `consumer`, at most `limit`, in feed order; its cursor moves
    past them in the caller's transaction (required): a rollback delivers them again.

    Several workers of one consumer may call this at once: the one holding the cursor row
    gets the rows, the others get [] at once (SKIP LOCKED) and should leave the work to it.
    """
    cursor = _cursor_lock(consumer)
    if cursor is None:
        return []
    after = Q(xact_id__gte=cursor.last_xact_id) & (
        Q(xact_id__gt=cursor.last_xact_id) | Q(id__gt=cursor.last_transition_id)
    )
    rows = SegmentTransition.objects.filter(after)
    if connection.vendor == "postgresql":
        rows = rows.filter(xact_id__lt=_HORIZON)
    claimed = list(rows.order_by("xact_id", "id")[:limit])
    if claimed:
        TransitionConsumer.objects.filter(pk=cursor.pk).update(
            last_xact_id=claimed[-1].xact_id, last_transition_id=claimed[-1].pk
        )
    return claimed


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


def _settled_end() -> tuple[int, int]:
    """The feed position of the last row no running transaction can precede."""
    rows = SegmentTransition.objects.order_by("-xact_id", "-id")
    if connection.vendor == "postgresql":
        rows = rows.filter(xact_id__lt=_HORIZON)
    last = rows.values_list("xact_id", "id").first()
    return last or (0, 0)
