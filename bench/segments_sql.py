"""The bench segment, hand-written SQL for the same predicate, and how both are timed.

The hand-written variants rely on what every write path guarantees (country stored upper-case,
a choice stored as its canonical spelling), as someone writing SQL against this schema by
hand would; the bench checks that each returns the same number of contacts as the compiler.
"""

import datetime as dt
import statistics
from dataclasses import dataclass

from django.db import connection, transaction

SEGMENT_TREE = {
    "all": [
        {"type": "field", "field": "country", "op": "in", "value": ["FR", "DE"]},
        {"type": "field", "field": "plan", "op": "eq", "value": "pro"},
        {
            "type": "event",
            "event": "login",
            "op": "performed",
            "count": {"op": "gte", "value": 5},
            "within": {"days": 30},
        },
        {"type": "event", "event": "purchase", "op": "not_performed", "within": {"days": 7}},
    ]
}
SEGMENT_TEXT = (
    'country in (FR, DE) AND plan = "pro" AND performed "login" >= 5 times in last 30 days '
    'AND not performed "purchase" in last 7 days'
)
_FIELDS = "c.country IN ('FR', 'DE') AND c.fields ->> 'plan' = 'pro'"
_NO_PURCHASE = (
    "NOT EXISTS (SELECT 1 FROM contacts_event AS p WHERE p.contact_id = c.id "
    "AND p.name = 'purchase' AND p.occurred_at >= %(week_ago)s)"
)
# Three shapes a person would try; the fastest on the run is "the best hand-written SQL".
HAND_WRITTEN = {
    "aggregate logins, join": f"""
        SELECT c.id FROM contacts_contact AS c
        JOIN (SELECT contact_id FROM contacts_event
              WHERE name = 'login' AND occurred_at >= %(month_ago)s
              GROUP BY contact_id HAVING count(*) >= 5) AS l ON l.contact_id = c.id
        WHERE {_FIELDS} AND {_NO_PURCHASE}""",
    "count per contact": f"""
        SELECT c.id FROM contacts_contact AS c
        WHERE {_FIELDS}
          AND (SELECT count(*) FROM contacts_event AS e WHERE e.contact_id = c.id
               AND e.name = 'login' AND e.occurred_at >= %(month_ago)s) >= 5
          AND {_NO_PURCHASE}""",
    "fifth login exists": f"""
        SELECT c.id FROM contacts_contact AS c
        WHERE {_FIELDS}
          AND EXISTS (SELECT 1 FROM contacts_event AS e WHERE e.contact_id = c.id
                      AND e.name = 'login' AND e.occurred_at >= %(month_ago)s OFFSET 4)
          AND {_NO_PURCHASE}""",
}


def hand_written_params(now: dt.datetime) -> dict:
    return {"month_ago": now - dt.timedelta(days=30), "week_ago": now - dt.timedelta(days=7)}


@dataclass(frozen=True, slots=True)
class Timing:
    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)


def count_of(sql: str, params) -> int:
    """Runs the whole SELECT (every row is produced), returns how many rows."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) AS matching", params)
        return cursor.fetchone()[0]


def explain(sql: str, params) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def compiled_select(now: dt.datetime) -> tuple[str, list]:
    """The SQL our compiler emits for the bench segment: what membership_diff_apply runs."""
    from segments.selectors import segment_matching_contacts

    matching = segment_matching_contacts(conditions=SEGMENT_TREE, now=now)
    sql, params = matching.order_by().values("id").query.sql_with_params()
    return sql, list(params)


def memberships_clear() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE segments_segmentmembership, segments_segmenttransition, "
            "segments_segmentdailystats"
        )


def hand_written_evaluate(*, segment_id: int, sql: str, params: dict, now: dt.datetime):
    """The hand-written SELECT through the very same diff statement as segment_evaluate, in
    one transaction holding the segment's lock, with the size stored: the same work."""
    from segments.evaluation import segment_lock
    from segments.membership_diff import _diff_postgresql
    from segments.models import Segment

    with connection.cursor() as cursor:
        # The diff takes positional parameters: inline ours as such.
        matched_sql = cursor.mogrify(sql, params)
    with transaction.atomic():
        locked = segment_lock(segment_id=segment_id)
        diff = _diff_postgresql(locked.pk, matched_sql.replace("%", "%%"), [], now, None)
        Segment.objects.filter(pk=locked.pk).update(size=diff.matched, last_evaluated_at=now)
    return diff
