"""Celery tasks: thin wrappers that take ids and call segments.scheduler."""

import logging

from celery import shared_task
from celery.signals import worker_init
from django.db import connections
from django.utils import timezone

from segflow.queue import wake_clear
from segments import drain, scheduler
from segments.models import Segment
from segments.signals import transitions_announce

logger = logging.getLogger(__name__)


@worker_init.connect(dispatch_uid="segments.batch_warm_up")
def batch_warm_up(**kwargs) -> None:
    """When a worker starts, before its first task: compile the segments a batch evaluates,
    so that the first batch after a start or a deploy does not pay for it. A prefork worker
    does it before forking its pool processes, which inherit the result. Never fatal: a
    worker that cannot warm up starts cold."""
    try:
        compiled = scheduler.batch_warm_up()
    except Exception:
        logger.warning("Segments warm-up failed; the first batch compiles them", exc_info=True)
        return
    finally:
        # A prefork worker's main process runs no task: it keeps no connection open.
        connections.close_all()
    if compiled:  # none on SQLite, which evaluates segments one by one
        logger.info("Compiled the conditions of %d segments before the first batch", compiled)


@shared_task
def refresh_segments(segment_ids: list[int]) -> None:
    """Full evaluation of these segments, then of the segments that read them."""
    segments = Segment.objects.filter(pk__in=segment_ids)
    scheduler.segments_refresh(segments=segments, now=timezone.now())


@shared_task
def process_contact_changes() -> None:
    """Drain the pending contact changes (woken by contacts_changed). The wake-up flag is
    cleared first, so a change committed from now on wakes a worker again (segflow.queue)."""
    wake_clear(scheduler.PROCESS_TASK)
    drain.contact_changes_drain(now=timezone.now())


@shared_task
def sweep_contact_changes() -> None:
    """Beat, every minute: drain contact changes whose queued run was lost."""
    drain.contact_changes_drain(now=timezone.now())


@shared_task
def evaluate_due_segments() -> None:
    """Re-evaluate time-relative segments whose next evaluation is due (beat, every minute)."""
    scheduler.segments_evaluate_due(now=timezone.now())


@shared_task
def wake_transition_consumers() -> None:
    """Beat, every minute: wake the transitions feed's consumers (segments.feed), in case a
    wake-up after a commit was lost."""
    transitions_announce()
