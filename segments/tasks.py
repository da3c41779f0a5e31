"""Celery tasks: thin wrappers that take ids and call segments.scheduler."""

from celery import shared_task
from django.utils import timezone

from segments import drain, scheduler
from segments.models import Segment


@shared_task
def refresh_segments(segment_ids: list[int]) -> None:
    """Full evaluation of these segments, then of the segments that read them."""
    segments = Segment.objects.filter(pk__in=segment_ids)
    scheduler.segments_refresh(segments=segments, now=timezone.now())


@shared_task
def process_contact_changes() -> None:
    """Drain the pending contact changes (queued by every contacts_changed)."""
    drain.contact_changes_drain(now=timezone.now())


@shared_task
def sweep_contact_changes() -> None:
    """Beat, every minute: drain contact changes whose queued run was lost."""
    drain.contact_changes_drain(now=timezone.now())


@shared_task
def evaluate_due_segments() -> None:
    """Re-evaluate time-relative segments whose next evaluation is due (beat, every minute)."""
    scheduler.segments_evaluate_due(now=timezone.now())
