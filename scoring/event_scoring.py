"""Event rules: stored events become ledger rows, set-based, off the ingest's hot path.

Ingest: the `contacts_changed` receiver below runs inside the ingesting transaction. When no
active rule scores the batch's event names (cached, scoring.rule_watch) it costs no query;
otherwise it writes ONE PendingScoreEvents row holding the ids of the batch's watched events
(so an event is queued if and only if it was stored; replays of an idempotency key are not in
`events`), and wakes the scoring task after the commit.

Worker: `pending_score_events_process` claims rows (SKIP LOCKED) and, in one transaction per
claim: locks the events' contacts in id order, then one INSERT ... SELECT writes the ledger
rows of every matching (rule, event) pair, enforces each rule's daily cap in SQL (a running
sum per rule and contact over the batch, plus what the rule gave since the UTC day began) and
moves lead_score by the inserted rows' sum; then the change is announced ("field:lead_score",
segments follow) and the rows are deleted. (rule, event) is unique in the ledger, so an event
scores once per rule even if a row were processed twice.

Condition rules: a write whose changes can move an active condition rule's matches (its
segments dependency keys, cached with the names) queues a task after the commit that
re-evaluates those rules for the written contacts only (scoring.conditions); the beat sweep
covers a lost message, clock-relative conditions and segment references.

Property filters (`where`) compile through segments' own event filter code
(segments.field_conditions.property_filter_q), so a rule matches exactly what a segment's
event condition with the same filters would count.
"""

import datetime as dt

from django.db import connection, transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from contacts.models import Event
from contacts.signals import notify_contacts_changed
from contacts.single_event_writes import SingleEventWrite
from scoring.event_scoring_portable import events_score_portable
from scoring.ledger import SCORE_CHANGE, contacts_lock
from scoring.models import PendingScoreEvents, RuleKind, ScoreLedgerEntry, ScoringRule
from scoring.rule_watch import watched
from segflow.queue import enqueue_on_commit, task_publish, wake_on_commit
from segments.dependencies import is_affected
from segments.field_conditions import property_filter_q

SCORE_EVENTS_TASK = "scoring.tasks.score_pending_events"
CONDITION_CONTACTS_TASK = "scoring.tasks.evaluate_condition_rules_for_contacts"
# Pending rows claimed per transaction: up to this many ingest batches at once.
CLAIM_ROWS = 5
MAX_CLAIMS_PER_RUN = 50


def rule_reason(rule: ScoringRule) -> str:
    """The ledger reason of a rule's rows: its name when they were written (it stays readable
    after the rule is renamed or deleted)."""
    return f"rule: {rule.name}"[:200]


def on_contacts_changed(sender, *, contact_ids, changes, events=None, **kwargs) -> None:
    """Receiver of contacts.signals.contacts_changed: queue the batch's watched events (one
    INSERT for the batch), and the contacts whose change can move a condition rule (a task
    after the commit); no query when no active rule cares."""
    watch = watched()
    if watch.conditions:
        affected = [rule_id for rule_id, keys in watch.conditions if is_affected(keys, changes)]
        if affected:
            enqueue_on_commit(CONDITION_CONTACTS_TASK, affected, sorted(set(contact_ids)))
    if not events or not watch.names:
        return
    names = watch.names
    if not any(change.startswith("event:") and change[6:] in names for change in changes):
        return
    event_ids = [
        event_id for stored in events.values() for event_id, name in stored if name in names
    ]
    if event_ids:
        PendingScoreEvents.objects.create(event_ids=event_ids)
        wake_on_commit(SCORE_EVENTS_TASK)


_SINGLE_EVENT_SQL = (
    f"INSERT INTO {PendingScoreEvents._meta.db_table} (event_ids, created_at) "
    "SELECT jsonb_build_array(event_id), %(scoring_now)s FROM outcome"
)


def single_event_write(*, name: str, now: dt.datetime) -> SingleEventWrite | None:
    """on_contacts_changed's part when one event is stored (contacts.single_event_writes)."""
    watch = watched()
    affected = [
        rule_id for rule_id, keys in watch.conditions if is_affected(keys, {f"event:{name}"})
    ]
    after_commit = (
        (lambda contact_id: task_publish(CONDITION_CONTACTS_TASK, affected, [contact_id]))
        if affected
        else None
    )
    if name not in watch.names:
        return SingleEventWrite(after_commit=after_commit) if after_commit else None
    return SingleEventWrite(
        sql=_SINGLE_EVENT_SQL,
        params={"scoring_now": now},
        wake=SCORE_EVENTS_TASK,
        after_commit=after_commit,
    )


def pending_score_events_process(*, now: dt.datetime) -> int:
    """Score the queued events, claim by claim; returns how many events were processed.
    Any number of workers may run it at once."""
    processed = 0
    for _ in range(MAX_CLAIMS_PER_RUN):
        with transaction.atomic():
            claimed = list(
                PendingScoreEvents.objects.select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", "event_ids")[:CLAIM_ROWS]
            )
            if not claimed:
                return processed
            event_ids = sorted({event_id for _, ids in claimed for event_id in ids})
            events_score(event_ids=event_ids, now=now)
            PendingScoreEvents.objects.filter(pk__in=[pk for pk, _ in claimed]).delete()
        processed += len(event_ids)
        if len(claimed) < CLAIM_ROWS:
            return processed
    task_publish(SCORE_EVENTS_TASK, wake=True)  # more to do: let other workers in
    return processed


def events_score(*, event_ids: list[int], now: dt.datetime) -> list[int]:
    """Apply the active event rules to these stored events (inside the caller's transaction);
    the ids of the contacts whose score moved. On PostgreSQL three statements whatever the
    batch size; on SQLite (the embedded default) scoring.event_scoring_portable."""
    rules = list(ScoringRule.objects.filter(kind=RuleKind.EVENT, active=True).exclude(event=""))
    if not event_ids or not rules:
        return []
    if connection.vendor != "postgresql":
        contacts_lock(Event.objects.filter(pk__in=event_ids).values_list("contact_id", flat=True))
        moved = events_score_portable(
            rules=rules, event_ids=event_ids, day_start=_day_start(now), now=now
        )
    else:
        contacts_lock(
            Event.objects.filter(
                pk__in=RawSQL("SELECT unnest(%s::bigint[])", (event_ids,))
            ).values_list("contact_id", flat=True)
        )
        sql, params = _score_statement(rules, event_ids=event_ids, now=now)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            moved = [contact_id for (contact_id,) in cursor.fetchall()]
    if moved:
        notify_contacts_changed(moved, [SCORE_CHANGE])
    return moved


def _rule_candidates(rule: ScoringRule) -> tuple[str, list]:
    """SELECT event_id, contact_id of the batch's events this rule scores (segments' SQL for
    the property filters)."""
    # The batch's ids as one array (an init plan): an index scan of the primary key, never
    # a scan of every event with that name.
    in_batch = RawSQL(
        '"contacts_event"."id" = ANY((SELECT ids FROM batch)::bigint[])', (), BooleanField()
    )
    events = Event.objects.filter(in_batch, name=rule.event)
    for item in rule.where or ():
        events = events.filter(property_filter_q(item))
    sql, params = events.order_by().values_list("pk", "contact_id").query.sql_with_params()
    return (
        f"SELECT c.event_id, c.contact_id, %s::bigint AS rule_id, %s::integer AS points, "
        f"%s::integer AS cap, %s::text AS reason FROM ({sql}) AS c(event_id, contact_id)",
        [rule.pk, rule.points, rule.daily_cap, rule_reason(rule), *params],
    )


_LEDGER = ScoreLedgerEntry._meta.db_table

_SCORE_SQL = f"""
WITH batch AS (SELECT %s::bigint[] AS ids),
candidates AS MATERIALIZED ({{candidates}}),
fresh AS MATERIALIZED (
    SELECT c.* FROM candidates c
    WHERE NOT EXISTS (
        SELECT 1 FROM {_LEDGER} l WHERE l.rule_id = c.rule_id AND l.event_id = c.event_id
    )
),
ranked AS (
    SELECT f.*, sum(abs(f.points)) OVER (
        PARTITION BY f.rule_id, f.contact_id ORDER BY f.event_id
    ) AS running
    FROM fresh f
),
kept AS (
    -- What the rule gave the contact since the UTC day began: one probe of the cap index
    -- per capped row.
    SELECT r.event_id, r.contact_id, r.rule_id, r.points, r.reason
    FROM ranked r
    WHERE r.cap IS NULL OR r.running + coalesce((
        SELECT sum(abs(l.delta)) FROM {_LEDGER} l
        WHERE l.rule_id = r.rule_id AND l.contact_id = r.contact_id AND l.created_at >= %s
    ), 0) <= r.cap
),
inserted AS (
    INSERT INTO {_LEDGER} (contact_id, rule_id, delta, reason, event_id, key, created_at)
    SELECT contact_id, rule_id, points, reason, event_id, NULL, %s
    FROM kept ORDER BY rule_id, event_id
    ON CONFLICT (rule_id, event_id) DO NOTHING
    RETURNING contact_id, delta
),
totals AS (
    SELECT contact_id, sum(delta) AS delta FROM inserted GROUP BY contact_id
),
updated AS (
    UPDATE contacts_contact AS c SET lead_score = c.lead_score + t.delta
    FROM totals t
    WHERE c.id = t.contact_id AND t.delta <> 0
)
SELECT contact_id FROM totals WHERE delta <> 0 ORDER BY contact_id
"""


def _score_statement(
    rules: list[ScoringRule], *, event_ids: list[int], now: dt.datetime
) -> tuple[str, list]:
    parts, candidate_params = [], []
    for rule in rules:
        sql, params = _rule_candidates(rule)
        parts.append(sql)
        candidate_params.extend(params)
    sql = _SCORE_SQL.format(candidates=" UNION ALL ".join(parts))
    return sql, [event_ids, *candidate_params, _day_start(now), now]


def _day_start(now: dt.datetime) -> dt.datetime:
    """The start of now's UTC day: daily caps count what a rule gave since then."""
    return now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
