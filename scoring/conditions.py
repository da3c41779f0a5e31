"""Condition rules: points given once while a contact matches the rule's condition, reversed
when it stops matching (or when the rule is deactivated or deleted).

Evaluated for the written contacts after a write that can move the rule's matches (its
segments dependency keys; scoring.event_scoring's receiver queues the task), periodically
for everyone (beat, scoring.tasks.scoring_periodic: clock-relative conditions, segment
references, lost messages) and at once after a rule is saved, through segments' compiler
(segments.selectors.segment_matching_contacts), set-based: one statement finds who entered
and who left (matching contacts against the rule's hits), one locks those contacts in id
order, one writes hits, ledger rows and scores together.
The write path itself only queues a task (no query when no condition rule is active).
"""

import datetime as dt

from django.db import connection, transaction

from contacts.signals import notify_contacts_changed
from scoring.ledger import SCORE_CHANGE, contacts_lock
from scoring.models import ConditionRuleHit, RuleKind, ScoreLedgerEntry, ScoringRule
from segments.selectors import segment_matching_contacts

MATCHED_REASON = "condition matched"
UNMATCHED_REASON = "condition no longer matched"

_HITS = ConditionRuleHit._meta.db_table
_LEDGER = ScoreLedgerEntry._meta.db_table

_DIFF_SQL = f"""
WITH matching(id) AS MATERIALIZED ({{matching}})
SELECT m.id, TRUE, %s::integer FROM matching m
WHERE NOT EXISTS (SELECT 1 FROM {_HITS} h WHERE h.rule_id = %s AND h.contact_id = m.id)
UNION ALL
SELECT h.contact_id, FALSE, -h.points FROM {_HITS} h
WHERE h.rule_id = %s AND NOT EXISTS (SELECT 1 FROM matching m WHERE m.id = h.contact_id)
    {{only_hits}}
"""

_NOBODY = "SELECT NULL::bigint AS id WHERE FALSE"

_APPLY_SQL = f"""
WITH changes AS (
    SELECT * FROM unnest(%s::bigint[], %s::boolean[], %s::integer[])
        AS ch(contact_id, entering, delta)
),
hits_added AS (
    INSERT INTO {_HITS} (rule_id, contact_id, points, created_at)
    SELECT %s, contact_id, delta, %s FROM changes WHERE entering
    ON CONFLICT (rule_id, contact_id) DO NOTHING
),
hits_removed AS (
    DELETE FROM {_HITS} h USING changes ch
    WHERE h.rule_id = %s AND h.contact_id = ch.contact_id AND NOT ch.entering
),
ledger AS (
    INSERT INTO {_LEDGER} (contact_id, rule_id, delta, reason, event_id, key, created_at)
    SELECT contact_id, %s, delta, CASE WHEN entering THEN %s ELSE %s END, NULL, NULL, %s
    FROM changes WHERE delta <> 0
)
UPDATE contacts_contact AS c SET lead_score = c.lead_score + ch.delta
FROM changes ch WHERE c.id = ch.contact_id AND ch.delta <> 0
"""


def condition_rules_evaluate(*, now: dt.datetime) -> int:
    """Every condition rule (inactive ones reverse what they gave); how many contacts moved."""
    moved = 0
    for rule_id in ScoringRule.objects.filter(kind=RuleKind.CONDITION).values_list("pk", flat=True):
        moved += condition_rule_evaluate_by_id(rule_id=rule_id, now=now)
    return moved


def condition_rule_evaluate_by_id(
    *, rule_id: int, now: dt.datetime, contact_ids: list[int] | None = None
) -> int:
    with transaction.atomic():
        rule = ScoringRule.objects.select_for_update().filter(pk=rule_id).first()
        if rule is None:
            return 0
        return condition_rule_evaluate(rule=rule, now=now, contact_ids=contact_ids)


def condition_rules_evaluate_for_contacts(
    *, rule_ids: list[int], contact_ids: list[int], now: dt.datetime
) -> int:
    """These rules for these contacts only (after a write that can move their matches)."""
    return sum(
        condition_rule_evaluate_by_id(rule_id=rule_id, now=now, contact_ids=contact_ids)
        for rule_id in rule_ids
    )


def condition_rule_evaluate(
    *,
    rule: ScoringRule,
    now: dt.datetime,
    reverse: bool = False,
    contact_ids: list[int] | None = None,
) -> int:
    """Bring the rule's hits in line with who matches now (nobody when the rule is inactive,
    not a condition rule, or `reverse`): +points for those entering, minus what was given for
    those leaving. Call it with the rule row locked (condition_rule_evaluate_by_id, or the
    rule services); `contact_ids` limits it to those contacts. Returns how many contacts'
    scores moved."""
    if connection.vendor != "postgresql":
        return 0
    applies = (
        not reverse and rule.active and rule.kind == RuleKind.CONDITION and bool(rule.condition)
    )
    matching, matching_params = _NOBODY, []
    if applies:
        query = segment_matching_contacts(conditions=rule.condition, now=now)
        if contact_ids is not None:
            query = query.filter(pk__in=contact_ids)
        sql = query.values_list("pk").order_by().query.sql_with_params()
        matching, matching_params = sql
    only_hits, only_params = "", []
    if contact_ids is not None:
        only_hits, only_params = "AND h.contact_id = ANY(%s)", [list(contact_ids)]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _DIFF_SQL.format(matching=matching, only_hits=only_hits),
            [*matching_params, rule.points, rule.pk, rule.pk, *only_params],
        )
        changes = {contact_id: (entering, delta) for contact_id, entering, delta in cursor}
        if not changes:
            return 0
        ids = contacts_lock(changes)
        if not ids:
            return 0
        cursor.execute(
            _APPLY_SQL,
            [
                ids,
                [changes[pk][0] for pk in ids],
                [changes[pk][1] for pk in ids],
                rule.pk,
                now,
                rule.pk,
                rule.pk,
                MATCHED_REASON,
                UNMATCHED_REASON,
                now,
            ],
        )
        moved = [pk for pk in ids if changes[pk][1]]
        notify_contacts_changed(moved, [SCORE_CHANGE])
    return len(moved)
