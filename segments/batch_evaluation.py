"""Incremental evaluation of many segments for one batch of contacts in one statement
(PostgreSQL).

The incremental path re-evaluates ~500 changed contacts in every segment their changes can
move. One statement per segment (lock, diff, size, stats) cost a few milliseconds each, so a
hundred segments held a batch for most of a second, and at 1,000 events/s the queue grew
(docs/benchmarks.md, mixed live phase). Here each batch contact's row is read once, beside
its event facts (segments.event_facts), every segment's tree is one boolean over that row
(evaluated only where the contact is in the segment's scope), and a single diff brings every
(segment, contact) pair in line: the same result as segments.evaluation one segment at a
time, in a fixed number of round trips.

Segments are locked first, in id order (the order every incremental batch takes them in),
like each per-segment evaluation locks its own. When the statement fails (a segment whose
conditions no longer run), nothing of it is kept and the caller evaluates the segments one by
one, which marks the broken one failed.
"""

import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Mapping

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connection, transaction

from contacts.field_types import field_definitions
from contacts.models import Contact
from segflow.postgresql import native_cursor, native_placeholders, prepared_at_once
from segments.compiler import compile_conditions
from segments.evaluation import EvaluationResult
from segments.event_facts import FACTS_ALIAS, EventFact, facts_sql
from segments.membership_diff import ENTERED, LEFT, MEMBERSHIP, TRANSITION
from segments.models import Segment, SegmentDailyStats

logger = logging.getLogger(__name__)

# `matched`: per batch contact, its row, its facts and a bit per segment saying whether the
# contact is in that segment's scope; one condition per segment (in `segment ids` order),
# unnested into the matching (segment, contact) pairs.
# Who moves, for every (segment, contact) pair in scope: the matches, the batch contacts'
# current stays and the pairs in scope, grouped by pair. The stays are read by contact from
# the current-by-contact index alone (an index-only scan where the pages are all-visible):
# one probe per contact instead of one per pair (a contact is in scope of about half the
# segments), and no read of the table's scattered pages. A grouping rather than joins: the
# statement runs on a generic plan (prepared, see _evaluate), whose default row estimates
# could otherwise pick a nested loop over the CTEs.
_CONTACT = f'"{Contact._meta.db_table}"'
_DIFF_SQL = f"""
WITH facts AS MATERIALIZED ({{facts}}),
matched AS MATERIALIZED (
    SELECT pair.segment_id, scope.contact_id
    FROM unnest(%s::bigint[], %s::varbit[]) AS scope(contact_id, segments)
    JOIN {_CONTACT} ON {_CONTACT}.id = scope.contact_id
    JOIN facts AS {FACTS_ALIAS} ON {FACTS_ALIAS}.contact_id = scope.contact_id
    CROSS JOIN LATERAL unnest(%s::bigint[], ARRAY[{{conditions}}]::boolean[])
        AS pair(segment_id, matches)
    WHERE pair.matches
),
rows AS (
    SELECT segment_id, contact_id, true AS matches, false AS stays, true AS in_scope
    FROM matched
    UNION ALL
    SELECT segment_id, contact_id, false, true, false FROM {MEMBERSHIP}
    WHERE contact_id = ANY(%s::bigint[]) AND left_at IS NULL
    UNION ALL
    SELECT segment_id, contact_id, false, false, true
    FROM unnest(%s::bigint[], %s::bigint[]) AS pair(segment_id, contact_id)
),
diff AS MATERIALIZED (
    SELECT segment_id, contact_id, bool_or(matches) AS matches
    FROM rows
    GROUP BY segment_id, contact_id
    HAVING bool_or(in_scope) AND bool_or(matches) <> bool_or(stays)
),
entered AS (
    INSERT INTO {MEMBERSHIP} (segment_id, contact_id, entered_at)
    SELECT segment_id, contact_id, %s FROM diff WHERE matches
    ON CONFLICT (segment_id, contact_id) WHERE left_at IS NULL DO NOTHING
    RETURNING segment_id, contact_id
),
departed AS (
    UPDATE {MEMBERSHIP} SET left_at = %s
    WHERE (segment_id, contact_id) IN (SELECT segment_id, contact_id FROM diff WHERE NOT matches)
        AND left_at IS NULL
    RETURNING segment_id, contact_id
),
outbox AS (
    INSERT INTO {TRANSITION} (segment_id, contact_id, kind, occurred_at)
    SELECT segment_id, contact_id, '{ENTERED}', %s FROM entered
    UNION ALL
    SELECT segment_id, contact_id, '{LEFT}', %s FROM departed
    RETURNING segment_id, contact_id, kind
)
SELECT segment_id, contact_id, kind FROM outbox
"""

_SIZES_SQL = f"""
UPDATE {Segment._meta.db_table} AS segment SET size = sized.size
FROM unnest(%s::bigint[], %s::integer[]) AS sized(id, size) WHERE segment.id = sized.id
"""


_STATS = SegmentDailyStats._meta.db_table
# segments.evaluation.daily_stats_add for many segments at once.
_STATS_SQL = f"""
INSERT INTO {_STATS} (segment_id, day, size, entered, "left")
SELECT id, %s, size, entered, "left"
FROM unnest(%s::bigint[], %s::integer[], %s::integer[], %s::integer[])
    AS counts(id, size, entered, "left")
ON CONFLICT (segment_id, day) DO UPDATE SET
    size = excluded.size,
    entered = {_STATS}.entered + excluded.entered,
    "left" = {_STATS}."left" + excluded."left"
"""


# Compiled conditions by (conditions, custom field types): a boolean SQL expression over the
# contacts row and the facts row, its params at _BASE, per param its offset from `now` when it
# is `now` shifted by a constant (else None), and the facts it reads. None when the params
# move otherwise with `now` (e.g. a date field's window, whose bound is a day): compiled afresh
# for each batch then. Compiling a tree through the ORM costs 1-3 ms, most of a batch's time
# over 100 segments.
_TEMPLATES: dict[tuple[str, tuple], tuple[str, list, list, tuple[EventFact, ...]] | None] = {}
_TEMPLATES_MAX = 2_000
_BASE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_SHIFT = dt.timedelta(days=1, hours=1, seconds=1, microseconds=1)


def matching_condition(
    conditions, *, now: dt.datetime, fields: Mapping, fields_key: tuple
) -> tuple[str, list, tuple[EventFact, ...]]:
    """(SQL, params, facts read) of the tree as a condition on the contacts row beside its
    facts row: compiled once per tree and reused with the params moved to `now` when the
    tree's only clock-dependent params are instants at a fixed distance from it."""
    key = (json.dumps(conditions, sort_keys=True), fields_key)
    if key not in _TEMPLATES:
        if len(_TEMPLATES) >= _TEMPLATES_MAX:
            _TEMPLATES.clear()
        _TEMPLATES[key] = _template(conditions, fields)
    template = _TEMPLATES[key]
    if template is None:
        return _compiled(conditions, now=now, fields=fields)
    sql, params, offsets, facts = template
    moved = [
        param if offset is None else now + offset
        for param, offset in zip(params, offsets, strict=True)
    ]
    return sql, moved, facts


def matching_conditions_compile(*, segments: Mapping[int, dict]) -> int:
    """Compile each segment's conditions as matching_condition will want them (a worker
    process does this before its first batch: compiling a hundred trees cost that batch about
    0.3 s, docs/benchmarks.md). Segments whose conditions do not compile are left for their
    batch to fail on. The number compiled."""
    fields = field_definitions()
    fields_key = _fields_key(fields)
    now = dt.datetime.now(dt.UTC)
    compiled = 0
    for conditions in segments.values():
        try:
            matching_condition(conditions, now=now, fields=fields, fields_key=fields_key)
        except Exception:
            continue
        compiled += 1
    return compiled


def _fields_key(fields: Mapping) -> tuple:
    """The custom fields' types, as part of a compiled tree's cache key."""
    return tuple(sorted((key, field.type) for key, field in fields.items()))


def _compiled(
    conditions, *, now: dt.datetime, fields: Mapping
) -> tuple[str, list, tuple[EventFact, ...]]:
    facts: dict[str, EventFact] = {}
    query = Contact.objects.filter(
        compile_conditions(conditions, now=now, fields=fields, facts=facts)
    ).query
    compiler = query.get_compiler(connection=connection)
    compiler.pre_sql_setup()
    if len(query.alias_map) == 1:  # a plain filter of the contacts row: its WHERE
        try:
            sql, params = compiler.compile(compiler.where)
        except EmptyResultSet:
            return "false", [], ()
        except FullResultSet:
            return "true", [], ()
        return f"({sql})", list(params), tuple(facts.values())
    # No condition joins today (they read other tables through EXISTS); one that did could
    # not be a condition on the contacts row alone: the batch then runs one by one.
    raise ValueError("Conditions that join other tables cannot be batched.")


def _template(conditions, fields: Mapping) -> tuple[str, list, list, tuple] | None:
    sql, params, facts = _compiled(conditions, now=_BASE, fields=fields)
    shifted_sql, shifted, _ = _compiled(conditions, now=_BASE + _SHIFT, fields=fields)
    if shifted_sql != sql or len(shifted) != len(params):
        return None
    offsets = []
    for param, moved in zip(params, shifted, strict=True):
        if param == moved:
            offsets.append(None)
        elif isinstance(param, dt.datetime) and moved - param == _SHIFT:
            offsets.append(param - _BASE)
        else:
            return None
    return sql, params, offsets, facts


def _array_literal(ids: list[int]) -> str:
    """An id array as PostgreSQL's text form ('{1,2,3}', cast to bigint[] in the SQL): the
    driver adapts a list element by element, tens of milliseconds for a batch's pairs."""
    return "{" + ",".join(map(str, map(int, ids))) + "}"


def segments_evaluate_contacts(
    *, scopes: Mapping[int, set[int]], segments: Mapping[int, dict], now: dt.datetime
) -> dict[int, EvaluationResult] | None:
    """Re-evaluate each segment of `scopes` (by id) for its contacts, all in one statement.

    `segments` maps every segment that may take part in a batch (id -> conditions), the
    scoped ones included: the statement holds a branch for each, the others with no contacts,
    so its text stays the same from batch to batch and its plan is made once per connection
    (planning a hundred branches cost more than running them). Segments deleted meanwhile are
    left out of the results. None when the evaluation failed and left nothing behind: the
    caller then evaluates the segments one by one.
    """
    try:
        with transaction.atomic():
            return _evaluate(scopes, segments, now)
    except Exception:
        logger.warning("Batched evaluation of %d segments failed", len(scopes), exc_info=True)
        return None


def _evaluate(
    scopes: Mapping[int, set[int]], segments: Mapping[int, dict], now: dt.datetime
) -> dict[int, EvaluationResult]:
    locked = list(
        Segment.objects.select_for_update(no_key=True)
        .filter(pk__in=list(scopes))
        .order_by("pk")
        .only("pk", "conditions", "size")
    )
    if not locked:
        return {}
    # The locked rows' conditions are the current ones; the others' only shape the text (a
    # segment deleted meanwhile keeps its branch, with no contacts).
    conditions = {**segments, **{segment.pk: segment.conditions for segment in locked}}
    evaluated = {segment.pk for segment in locked}
    fields = field_definitions()
    fields_key = _fields_key(fields)
    segment_ids, conditions_sql, conditions_params = [], [], []
    pair_segments, pair_contacts = [], []
    facts: dict[str, EventFact] = {}
    for segment_id in sorted(conditions):
        contact_ids = sorted(scopes[segment_id]) if segment_id in evaluated else []
        try:
            sql, params, read = matching_condition(
                conditions[segment_id], now=now, fields=fields, fields_key=fields_key
            )
        except Exception:
            if contact_ids:
                raise  # evaluated one by one, a broken segment is marked failed
            continue  # not this batch's to evaluate: its failure must not fail the batch
        # The scope first, one bit of the contact's (an array lookup): SQL evaluates AND's
        # operands in order and stops at the first false, so a contact out of the segment's
        # scope costs nothing more.
        conditions_sql.append(f"(get_bit(scope.segments, {len(segment_ids)}) = 1 AND {sql})")
        segment_ids.append(segment_id)
        conditions_params += params
        facts.update((fact.column, fact) for fact in read)
        pair_segments += [segment_id] * len(contact_ids)
        pair_contacts += contact_ids
    batch = sorted(set(pair_contacts))
    in_scope = {contact_id: ["0"] * len(segment_ids) for contact_id in batch}
    position = {segment_id: index for index, segment_id in enumerate(segment_ids)}
    for segment_id, contact_id in zip(pair_segments, pair_contacts, strict=True):
        in_scope[contact_id][position[segment_id]] = "1"
    batch_contacts = _array_literal(batch)
    ordered_facts = [facts[column] for column in sorted(facts)]  # the same text every batch
    facts_select, facts_params = facts_sql(ordered_facts, now=now, batch=batch_contacts)
    sql = _DIFF_SQL.format(facts=facts_select, conditions=",\n".join(conditions_sql))
    pairs = [_array_literal(pair_segments), _array_literal(pair_contacts)]
    params = [
        *facts_params,
        batch_contacts,
        "{" + ",".join("".join(in_scope[contact_id]) for contact_id in batch) + "}",
        _array_literal(segment_ids),
        *conditions_params,
        batch_contacts,
        *pairs,
        now,
        now,
        now,
        now,
    ]
    with native_cursor() as cursor, prepared_at_once():
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(native_placeholders(sql), params)
        moves = cursor.fetchall()
        cursor.execute("SET LOCAL plan_cache_mode = DEFAULT")

    moved: dict[int, dict[str, set[int]]] = defaultdict(lambda: {ENTERED: set(), LEFT: set()})
    for segment_id, contact_id, kind in moves:
        moved[segment_id][kind].add(contact_id)
    results: dict[int, EvaluationResult] = {}
    for segment in locked:
        entered, left = (len(moved[segment.pk][kind]) for kind in (ENTERED, LEFT))
        results[segment.pk] = EvaluationResult(
            size=segment.size + entered - left,
            entered=entered,
            left=left,
            moved_contact_ids=frozenset(moved[segment.pk][ENTERED] | moved[segment.pk][LEFT]),
        )
    changed = {pk: result for pk, result in results.items() if result.changed}
    if changed:
        with connection.cursor() as cursor:
            cursor.execute(
                _SIZES_SQL, [list(changed), [result.size for result in changed.values()]]
            )
            cursor.execute(
                _STATS_SQL,
                [
                    now.astimezone(dt.UTC).date(),
                    list(changed),
                    [result.size for result in changed.values()],
                    [result.entered for result in changed.values()],
                    [result.left for result in changed.values()],
                ],
            )
    return results
