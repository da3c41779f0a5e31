"""Celery tasks of scoring: thin wrappers calling scoring's services."""

from celery import shared_task
from django.utils import timezone

from scoring import conditions, decay, event_scoring
from segflow.queue import wake_clear


@shared_task
def score_pending_events() -> None:
    """Score the events queued by ingest (woken after their commit)."""
    wake_clear(event_scoring.SCORE_EVENTS_TASK)
    event_scoring.pending_score_events_process(now=timezone.now())


@shared_task
def evaluate_condition_rule(rule_id: int) -> None:
    """Apply or reverse one condition rule's points now (after the rule was saved)."""
    conditions.condition_rule_evaluate_by_id(rule_id=rule_id, now=timezone.now())


@shared_task
def evaluate_condition_rules_for_contacts(rule_ids: list[int], contact_ids: list[int]) -> None:
    """Condition rules for the contacts a write changed (queued after its commit)."""
    conditions.condition_rules_evaluate_for_contacts(
        rule_ids=rule_ids, contact_ids=contact_ids, now=timezone.now()
    )


@shared_task
def scoring_periodic() -> None:
    """Beat: queued events whose wake-up was lost, condition rules, then decay."""
    now = timezone.now()
    event_scoring.pending_score_events_process(now=now)
    conditions.condition_rules_evaluate(now=now)
    decay.scores_decay(now=now)
