"""Writes to segments: create, update, delete. Each save derives what the segment depends on
and queues a full evaluation once the transaction commits."""

import datetime as dt

from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from segflow.errors import InvalidInput
from segments.dependencies import dependency_keys
from segments.models import Segment
from segments.scheduler import segment_queue_refresh
from segments.validation import is_time_relative, segment_references, validate_conditions_or_raise

# If the queued first evaluation is lost (broker down), the periodic task runs it instead.
FIRST_EVALUATION_GRACE = dt.timedelta(minutes=2)
EDITABLE = ("name", "description", "conditions", "refresh_interval")


def _derive_from_conditions(segment: Segment) -> None:
    segment.dependency_keys = dependency_keys(segment.conditions)
    segment.is_time_relative = is_time_relative(segment.conditions)


def segment_create(
    *,
    name: str,
    conditions: object,
    description: str = "",
    refresh_interval: int | None = None,
    now: dt.datetime | None = None,
) -> Segment:
    validate_conditions_or_raise(conditions)
    now = now or timezone.now()
    segment = Segment(name=name, description=description, conditions=conditions)
    if refresh_interval is not None:
        segment.refresh_interval = refresh_interval
    _derive_from_conditions(segment)
    segment.next_evaluation_at = now + FIRST_EVALUATION_GRACE
    with transaction.atomic():
        segment.save()
        segment.depends_on.set(segment_references(conditions))
        segment_queue_refresh(segment_ids=[segment.pk])
    return segment


def segment_update(*, segment: Segment, now: dt.datetime | None = None, **changes) -> Segment:
    """Change any of name, description, conditions, refresh_interval. New conditions are
    re-validated (cycles included) and re-evaluated."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise TypeError(f"segment_update() got unexpected fields {sorted(unknown)}")
    now = now or timezone.now()
    new_conditions = "conditions" in changes and changes["conditions"] != segment.conditions
    if new_conditions:
        validate_conditions_or_raise(changes["conditions"], segment_id=segment.pk)
    with transaction.atomic():
        segment = Segment.objects.select_for_update().get(pk=segment.pk)
        for name, value in changes.items():
            setattr(segment, name, value)
        if new_conditions:
            _derive_from_conditions(segment)
        if segment.is_time_relative:
            # Next run: an interval after the last one (or soon, for a fresh schedule).
            last = segment.last_evaluated_at or now
            segment.next_evaluation_at = last + dt.timedelta(seconds=segment.refresh_interval)
        segment.save()
        if new_conditions:
            segment.depends_on.set(segment_references(segment.conditions))
            segment_queue_refresh(segment_ids=[segment.pk])
    return segment


def segment_delete(*, segment: Segment) -> None:
    """Refused while other segments (or flows) use it: their conditions would break."""
    readers = list(segment.dependents.order_by("pk").values_list("pk", "name"))
    if readers:
        names = ", ".join(f"{name!r} (#{pk})" for pk, name in readers)
        raise InvalidInput.single(
            "segment", f"Segments {names} use this segment; change their conditions first."
        )
    try:
        with transaction.atomic():
            segment.delete()
    except ProtectedError as exc:
        users = sorted({f"{obj._meta.verbose_name} #{obj.pk}" for obj in exc.protected_objects})
        raise InvalidInput.single(
            "segment", f"In use by {', '.join(users[:10])}; remove those first."
        ) from None
