"""Scoring rule services: validation (every error at once, with its JSON path; `where` and
`condition` through segments' own validation), create, update, delete.

Saving a condition rule applies it at once after the commit (scoring.tasks); deleting or
deactivating one reverses the points it gave, in the same transaction.
"""

import datetime as dt
from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone

from contacts.event_input import EVENT_NAME_MAX_LENGTH
from scoring.conditions import condition_rule_evaluate
from scoring.models import RuleKind, ScoringRule
from segflow.errors import ErrorCollector
from segflow.queue import enqueue_on_commit
from segments.tree import dependencies
from segments.validation import validate_conditions

EVALUATE_TASK = "scoring.tasks.evaluate_condition_rule"
MAX_POINTS = 1_000_000
FIELDS = ("name", "kind", "event", "where", "condition", "points", "daily_cap", "active")


def rule_clean(data: object, *, rule: ScoringRule | None = None) -> dict:
    """The rule's values after applying `data` (all of them on create, a PATCH's subset on
    update), validated together; raises InvalidInput with every error."""
    errors = ErrorCollector()
    if not isinstance(data, Mapping):
        errors.add("", "Must be a JSON object.")
        errors.raise_if_any()
    for key in sorted(set(data) - set(FIELDS), key=str):
        errors.add(str(key), "Unknown key.")
    current = {
        "name": "",
        "kind": RuleKind.EVENT.value,
        "event": "",
        "where": [],
        "condition": None,
        "points": None,
        "daily_cap": None,
        "active": True,
    }
    if rule is not None:
        current = {key: getattr(rule, key) for key in FIELDS}
    values = {**current, **{key: data[key] for key in FIELDS if key in data}}
    if values["where"] is None:
        values["where"] = []
    _check_scalars(values, errors)
    if values["kind"] == RuleKind.EVENT:
        _check_event(values, errors)
    elif values["kind"] == RuleKind.CONDITION:
        _check_condition(values, errors)
    errors.raise_if_any()
    values["name"] = values["name"].strip()
    return values


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_scalars(values: dict, errors: ErrorCollector) -> None:
    name = values["name"]
    if not isinstance(name, str) or not name.strip():
        errors.add("name", "Required: a name for the rule.")
    elif len(name) > 200:
        errors.add("name", "Must be at most 200 characters.")
    if values["kind"] not in RuleKind.values:
        errors.add("kind", f"Must be one of: {', '.join(RuleKind.values)}.")
    points = values["points"]
    if not _is_int(points) or points == 0:
        errors.add("points", "Required: a whole number of points, positive or negative, not 0.")
    elif abs(points) > MAX_POINTS:
        errors.add("points", f"Must be between -{MAX_POINTS:,} and {MAX_POINTS:,}.")
    cap = values["daily_cap"]
    if cap is not None and (not _is_int(cap) or cap < 1 or cap > MAX_POINTS):
        errors.add("daily_cap", f"Must be null or a whole number from 1 to {MAX_POINTS:,}.")
    if not isinstance(values["active"], bool):
        errors.add("active", "Must be true or false.")


def _check_event(values: dict, errors: ErrorCollector) -> None:
    if values["condition"] is not None:
        errors.add("condition", "Only condition rules have a condition.")
    name, where = values["event"], values["where"]
    if not isinstance(name, str) or not name.strip():
        errors.add("event", "Required for an event rule: the event name, e.g. 'email.opened'.")
        return
    if len(name) > EVENT_NAME_MAX_LENGTH:
        errors.add("event", f"Must be at most {EVENT_NAME_MAX_LENGTH} characters.")
        return
    # The same checks as a segment's event condition with these filters, paths remapped.
    node = {"type": "event", "event": name, "op": "performed", "where": where}
    for error in validate_conditions(node, path="rule"):
        errors.add(error.path.removeprefix("rule."), error.message)


def _check_condition(values: dict, errors: ErrorCollector) -> None:
    if values["event"]:
        errors.add("event", "Only event rules have an event; use 'condition'.")
    if values["where"]:
        errors.add("where", "Only event rules have property filters.")
    if values["daily_cap"] is not None:
        errors.add("daily_cap", "Condition rules give their points once: no daily cap.")
    condition = values["condition"]
    if condition is None:
        errors.add("condition", "Required for a condition rule: a condition tree.")
        return
    problems = validate_conditions(condition, path="condition")
    for error in problems:
        errors.add(error.path, error.message)
    if not problems and "lead_score" in dependencies(condition).builtin_fields:
        # Its own points would make it match and unmatch in turn.
        errors.add("condition", "A scoring rule cannot read lead_score.")


@transaction.atomic
def rule_create(*, data: object) -> ScoringRule:
    values = rule_clean(data)
    now = timezone.now()
    rule = ScoringRule.objects.create(**values, created_at=now, updated_at=now)
    _apply_on_commit(rule)
    return rule


@transaction.atomic
def rule_update(*, rule: ScoringRule, data: object, now: dt.datetime | None = None) -> ScoringRule:
    """Change a rule. A condition rule whose condition or points changed gives back what it
    gave and is applied again (after the commit); a deactivated one gives back at once."""
    now = now or timezone.now()
    rule = ScoringRule.objects.select_for_update().get(pk=rule.pk)
    values = rule_clean(data, rule=rule)
    was_condition = rule.kind == RuleKind.CONDITION
    changed_rule = any(values[key] != getattr(rule, key) for key in ("condition", "points", "kind"))
    if was_condition and (changed_rule or not values["active"]):
        condition_rule_evaluate(rule=rule, now=now, reverse=True)
    for key, value in values.items():
        setattr(rule, key, value)
    rule.updated_at = now
    rule.save()
    _apply_on_commit(rule)
    return rule


@transaction.atomic
def rule_delete(*, rule: ScoringRule, now: dt.datetime | None = None) -> None:
    """Delete a rule; a condition rule first gives back the points it gave. Ledger rows of
    past events stay (their rule becomes null): the scores they made stay."""
    rule = ScoringRule.objects.select_for_update().filter(pk=rule.pk).first()
    if rule is None:
        return
    if rule.kind == RuleKind.CONDITION:
        condition_rule_evaluate(rule=rule, now=now or timezone.now(), reverse=True)
    rule.delete()


def _apply_on_commit(rule: ScoringRule) -> None:
    if rule.kind == RuleKind.CONDITION and rule.active:
        enqueue_on_commit(EVALUATE_TASK, rule.pk)
