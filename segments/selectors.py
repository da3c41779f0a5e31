"""Reads of segments: matching contacts, members, preview and history."""

import datetime as dt

from django.db.models import QuerySet

from contacts.models import Contact
from contacts.selectors import contact_list
from segments.compiler import compile_conditions
from segments.models import Segment, SegmentDailyStats, SegmentMembership

PREVIEW_SAMPLE_SIZE = 10


def segment_matching_contacts(*, conditions: object, now: dt.datetime) -> QuerySet[Contact]:
    """Contacts the (validated) tree matches at `now`, as one query."""
    return Contact.objects.filter(compile_conditions(conditions, now=now))


def contacts_in_segment(contacts: QuerySet[Contact], segment_id: int) -> QuerySet[Contact]:
    """`contacts` narrowed to the segment's current members (the contact list's `segment`
    filter, registered in SegmentsConfig.ready)."""
    current = SegmentMembership.objects.current().filter(segment_id=segment_id)
    return contacts.filter(pk__in=current.values("contact_id"))


def segment_members(*, segment: Segment) -> QuerySet[Contact]:
    """Current members, in the order and shape of the contacts list."""
    return contact_list(segment=segment.pk)


def segment_preview(
    *, conditions: object, now: dt.datetime, sample_size: int = PREVIEW_SAMPLE_SIZE
) -> tuple[int, list[Contact]]:
    """(count, first contacts by id) for an unsaved tree."""
    matching = segment_matching_contacts(conditions=conditions, now=now)
    sample = list(matching.prefetch_related("tags").order_by("id")[:sample_size])
    count = len(sample) if len(sample) < sample_size else matching.count()
    return count, sample


def segment_history(
    *, segment: Segment, since: dt.date | None = None, until: dt.date | None = None
) -> QuerySet[SegmentDailyStats]:
    stats = SegmentDailyStats.objects.filter(segment=segment).order_by("day")
    if since is not None:
        stats = stats.filter(day__gte=since)
    if until is not None:
        stats = stats.filter(day__lte=until)
    return stats
