"""Celery tasks: thin wrappers around automation.scheduler and automation.triggers."""

from celery import shared_task
from django.utils import timezone

from automation import scheduler, triggers
from segflow.queue import wake_clear

RUN_DUE_TASK = "automation.tasks.run_due_enrollments"
FLOW_EVENTS_TASK = "automation.tasks.process_flow_events"
TRANSITIONS_TASK = "automation.tasks.consume_segment_transitions"


@shared_task
def run_due_enrollments() -> None:
    """Advance the enrollments that are due (beat every few seconds, and woken on commit)."""
    wake_clear(RUN_DUE_TASK)
    scheduler.scheduler_tick(now=timezone.now())


@shared_task
def process_flow_events() -> None:
    """Enroll on / resume with the stored events flows listen to (woken on commit; beat)."""
    wake_clear(FLOW_EVENTS_TASK)
    triggers.flow_events_process(now=timezone.now())


@shared_task
def consume_segment_transitions() -> None:
    """Enroll on segment entered / left, read from the transitions feed (woken on commit)."""
    wake_clear(TRANSITIONS_TASK)
    triggers.segment_transitions_consume(now=timezone.now())


@shared_task
def reset_stuck_steps() -> None:
    """Beat: settle leased steps whose worker died (docs/flow-engine.md)."""
    scheduler.steps_reset_stuck(now=timezone.now())
