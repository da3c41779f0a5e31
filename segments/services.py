"""Writes to segments: create, update, delete.

Every write that changes what a segment reads (create, new conditions, delete) takes the
graph lock (segments.graph_lock) first, then validates and saves in the same transaction, so
concurrent writes can neither close a cycle nor leave a segment reading a deleted segment or
custom field. Each save derives what the segment depends on and queues a full evaluation once
the transaction commits.
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from segflow.errors import InvalidInput
from segments.dependencies import dependency_keys
from segments.graph_lock import segment_graph_lock
from segments.models import Segment
from segments.scheduler import segment_queue_refresh
from segments.validation import is_time_relative, segment_references, validate_conditions_or_raise

# The queued evaluation of new conditions can be lost (broker down, worker crash): the
# periodic task of due segments runs it this long after the save instead.
REFRESH_GRACE = dt.timedelta(minutes=2)
EDITABLE = ("name", "description", "conditions", "refresh_interval")


def _derive_from_conditions(segment: Segment, *, now: dt.datetime) -> None:
    """Dependencies and schedule of new conditions; a failure of the old ones is forgotten."""
    segment.dependency_keys = dependency_keys(segment.conditions)
    segment.is_time_relative = is_time_relative(segment.conditions)
    segment.next_evaluation_at = now + REFRESH_GRACE
    segment.failed_at = None
    segment.failure_reason = ""


def segment_create(
    *,
    name: str,
    conditions: object,
    description: str = "",
    refresh_interval: int | None = None,
    now: dt.datetime | None = None,
) -> Segment:
    now = now or timezone.now()
    segment = Segment(name=name, description=description, conditions=conditions)
    if refresh_interval is not None:
        segment.refresh_interval = refresh_interval
    with transaction.atomic():
        segment_graph_lock()
        validate_conditions_or_raise(conditions)
        _derive_from_conditions(segment, now=now)
        segment.save()
        segment.depends_on.set(segment_references(conditions))
        segment_queue_refresh(segment_ids=[segment.pk])
    return segment


def segment_update(*, segment: Segment, now: dt.datetime | None = None, **changes) -> Segment:
    """Change any of name, description, conditions, refresh_interval. New conditions are
    re-validated (cycles included), clear a failure and are re-evaluated.

    Raises Segment.DoesNotExist when the segment was deleted meanwhile.
    """
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise TypeError(f"segment_update() got unexpected fields {sorted(unknown)}")
    now = now or timezone.now()
    with transaction.atomic():
        if "conditions" in changes:
            segment_graph_lock()
        segment = Segment.objects.select_for_update(no_key=True).get(pk=segment.pk)
        new_conditions = "conditions" in changes and changes["conditions"] != segment.conditions
        if new_conditions:
            validate_conditions_or_raise(changes["conditions"], segment_id=segment.pk)
        for name, value in changes.items():
            setattr(segment, name, value)
        if new_conditions:
            _derive_from_conditions(segment, now=now)
        elif segment.is_time_relative:
            # Next run: an interval after the last one (or soon, for a fresh schedule).
            last = segment.last_evaluated_at or now
            segment.next_evaluation_at = last + dt.timedelta(seconds=segment.refresh_interval)
        segment.save()
        if new_conditions:
            segment.depends_on.set(segment_references(segment.conditions))
            segment_queue_refresh(segment_ids=[segment.pk])
    return segment


def segment_delete(*, segment: Segment) -> None:
    """Refused while other segments use it: their conditions would break.

    The row is locked before anything is deleted, so an evaluation in flight finishes first
    (its memberships and stats go with the segment) and one starting later finds it gone.
    Raises Segment.DoesNotExist when it was deleted meanwhile.
    """
    with transaction.atomic():
        segment_graph_lock()
        segment = Segment.objects.select_for_update().get(pk=segment.pk)
        readers = list(segment.dependents.order_by("pk").values_list("pk", "name"))
        if readers:
            names = ", ".join(f"{name!r} (#{pk})" for pk, name in readers)
            raise InvalidInput.single(
                "segment", f"Segments {names} use this segment; change their conditions first."
            )
        segment.delete()
