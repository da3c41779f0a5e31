"""The membership diff of one segment, computed by the database.

Given the SQL of "which contacts match now", close the current stays of contacts that no
longer match, open stays for contacts that newly match, and write one outbox row per change.
Rows stream through the database: Python holds only counts (and, for a bounded set of
contacts, the ids that moved), whatever the segment's size.

Callers hold the segment's lock (segments.evaluation) so two diffs of one segment never run
at once.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

from segments.models import SegmentMembership, SegmentTransition, TransitionKind
from segments.sql import pk_in_q

MEMBERSHIP = SegmentMembership._meta.db_table
TRANSITION = SegmentTransition._meta.db_table
ENTERED, LEFT = TransitionKind.ENTERED.value, TransitionKind.LEFT.value


@dataclass(frozen=True, slots=True)
class MembershipDiff:
    entered: int
    left: int
    # How many contacts match: for a full diff only (a restricted one moves the size by
    # entered - left instead).
    matched: int | None = None
    # Which contacts entered or left: for a diff restricted to given contacts only (bounded
    # by their number), so dependents can be re-evaluated for just them.
    moved_contact_ids: frozenset[int] = frozenset()


def membership_diff_apply(
    *,
    segment_id: int,
    matching: QuerySet,
    now: dt.datetime,
    contact_ids: Sequence[int] | None = None,
) -> MembershipDiff:
    """Bring the segment's memberships in line with `matching` (a queryset of contacts).

    With `contact_ids`, only those contacts are looked at (the incremental path).
    """
    if contact_ids is not None:
        contact_ids = sorted(set(contact_ids))
        if not contact_ids:
            return MembershipDiff(entered=0, left=0)
        matching = matching.filter(pk_in_q(contact_ids))
    ids = matching.order_by().values("id")
    if len(ids.query.alias_map) > 1:
        ids = ids.distinct()  # a join could repeat a contact
    matched_sql, matched_params = ids.query.sql_with_params()
    if connection.vendor == "postgresql":
        return _diff_postgresql(segment_id, matched_sql, list(matched_params), now, contact_ids)
    return _diff_portable(segment_id, matched_sql, list(matched_params), now, contact_ids)


# One statement: the data-modifying CTEs share one snapshot, so "entered" and "left" are
# computed against the same memberships and the same matching set. The diff is an aggregate
# over both sets (hashed, spilling to disk if need be, or sorted), never a join, so a bad row
# estimate of the compiled conditions (JSON casts, event counts) cannot make it quadratic;
# stays are then closed by primary key.
_DIFF_SQL = f"""
WITH matched AS MATERIALIZED ({{matched}}),
diff AS MATERIALIZED (
    SELECT contact_id, max(stay_id) AS stay_id, bool_or(matches) AS matches
    FROM (
        SELECT id AS contact_id, NULL::bigint AS stay_id, true AS matches FROM matched
        UNION ALL
        SELECT contact_id, id, false FROM {MEMBERSHIP} AS stay
        WHERE stay.segment_id = %s AND stay.left_at IS NULL {{scope}}
    ) AS both_sets
    GROUP BY contact_id
),
entered AS (
    INSERT INTO {MEMBERSHIP} (segment_id, contact_id, entered_at)
    SELECT %s, contact_id, %s FROM diff WHERE matches AND stay_id IS NULL
    ON CONFLICT (segment_id, contact_id) WHERE left_at IS NULL DO NOTHING
    RETURNING contact_id
),
departed AS (
    UPDATE {MEMBERSHIP} SET left_at = %s
    WHERE id IN (SELECT stay_id FROM diff WHERE NOT matches) AND left_at IS NULL
    RETURNING contact_id
),
outbox AS (
    INSERT INTO {TRANSITION} (segment_id, contact_id, kind, occurred_at)
    SELECT %s, contact_id, '{ENTERED}', %s FROM entered
    UNION ALL
    SELECT %s, contact_id, '{LEFT}', %s FROM departed
    RETURNING contact_id, kind
)
"""
_COUNTS_SQL = f"""
SELECT (SELECT count(*) FROM matched),
       count(*) FILTER (WHERE kind = '{ENTERED}'),
       count(*) FILTER (WHERE kind = '{LEFT}')
FROM outbox
"""
_MOVED_SQL = "SELECT contact_id, kind FROM outbox"


def _diff_postgresql(segment_id, matched_sql, matched_params, now, contact_ids):
    scope, scope_params = "", []
    if contact_ids is not None:
        scope, scope_params = "AND stay.contact_id = ANY(%s::bigint[])", [contact_ids]
    sql = _DIFF_SQL.format(matched=matched_sql, scope=scope)
    params = [
        *matched_params,
        *(segment_id, *scope_params),
        *(segment_id, now),
        now,
        *(segment_id, now, segment_id, now),
    ]
    with connection.cursor() as cursor:
        if contact_ids is None:
            cursor.execute(sql + _COUNTS_SQL, params)
            matched, entered, left = cursor.fetchone()
            return MembershipDiff(matched=matched, entered=entered, left=left)
        cursor.execute(sql + _MOVED_SQL, params)
        rows = cursor.fetchall()
    return MembershipDiff(
        entered=sum(1 for _, kind in rows if kind == ENTERED),
        left=sum(1 for _, kind in rows if kind == LEFT),
        moved_contact_ids=frozenset(contact_id for contact_id, _ in rows),
    )


def _diff_portable(segment_id, matched_sql, matched_params, now, contact_ids):
    """Set-based statements for SQLite (the embedded default), whose write transactions are
    serialized, so the four statements see one state."""
    scope, scope_params = "", []
    if contact_ids is not None:
        scope = f"AND contact_id IN ({', '.join(['%s'] * len(contact_ids))})"
        scope_params = list(contact_ids)
    gone = (
        f"segment_id = %s AND left_at IS NULL {scope} "
        f"AND contact_id NOT IN (SELECT id FROM ({matched_sql}) AS matched)"
    )
    gone_params = [segment_id, *scope_params, *matched_params]
    new = (
        f"FROM ({matched_sql}) AS matched WHERE matched.id NOT IN "
        f"(SELECT contact_id FROM {MEMBERSHIP} WHERE segment_id = %s AND left_at IS NULL)"
    )
    new_params = [*matched_params, segment_id]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {TRANSITION}")
        last_transition_id = cursor.fetchone()[0]
        cursor.execute(
            f"INSERT INTO {TRANSITION} (segment_id, contact_id, kind, occurred_at) "
            f"SELECT %s, contact_id, '{LEFT}', %s FROM {MEMBERSHIP} WHERE {gone}",
            [segment_id, now, *gone_params],
        )
        left = cursor.rowcount
        cursor.execute(f"UPDATE {MEMBERSHIP} SET left_at = %s WHERE {gone}", [now, *gone_params])
        cursor.execute(
            f"INSERT INTO {TRANSITION} (segment_id, contact_id, kind, occurred_at) "
            f"SELECT %s, matched.id, '{ENTERED}', %s {new}",
            [segment_id, now, *new_params],
        )
        entered = cursor.rowcount
        cursor.execute(
            f"INSERT INTO {MEMBERSHIP} (segment_id, contact_id, entered_at) "
            f"SELECT %s, matched.id, %s {new}",
            [segment_id, now, *new_params],
        )
        if contact_ids is None:
            cursor.execute(f"SELECT count(*) FROM ({matched_sql}) AS matched", matched_params)
            return MembershipDiff(entered=entered, left=left, matched=cursor.fetchone()[0])
    moved = SegmentTransition.objects.filter(segment_id=segment_id, id__gt=last_transition_id)
    return MembershipDiff(
        entered=entered,
        left=left,
        moved_contact_ids=frozenset(moved.values_list("contact_id", flat=True)),
    )
