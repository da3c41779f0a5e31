"""Reads of the contact page that the API does not serve: the contact's current segments and
its activity timeline (newest first, by cursor). Its subscriptions are
contacts.selectors.contact_subscriptions_list's."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q

from contacts.models import (
    Contact,
    Event,
)
from contacts.selectors import event_list
from segments.models import SegmentMembership

TIMELINE_PAGE_SIZE = 25


@dataclass(frozen=True)
class TimelinePage:
    events: list[Event]
    cursor: str | None  # "<occurred_at ISO>|<id>" of the last event when more follow


def contact_current_segments(*, contact: Contact) -> list[SegmentMembership]:
    return list(
        SegmentMembership.objects.current()
        .filter(contact=contact)
        .select_related("segment")
        .order_by("segment__name")
    )


def timeline_cursor_parse(cursor: str | None) -> tuple[dt.datetime, int] | None:
    """None for no cursor; ValueError for a malformed one."""
    if not cursor:
        return None
    when, _, pk = cursor.rpartition("|")
    parsed = dt.datetime.fromisoformat(when)
    if parsed.tzinfo is None:
        raise ValueError("cursor without a time zone")
    return parsed, int(pk)


def contact_timeline(
    *, contact: Contact, before: tuple[dt.datetime, int] | None, size: int = TIMELINE_PAGE_SIZE
) -> TimelinePage:
    events = event_list(contact_id=contact.pk)
    if before is not None:
        occurred_at, pk = before
        events = events.filter(
            Q(occurred_at__lt=occurred_at) | Q(occurred_at=occurred_at, pk__lt=pk)
        )
    rows = list(events[: size + 1])
    page = rows[:size]
    cursor = None
    if len(rows) > size:
        last = page[-1]
        cursor = f"{last.occurred_at.isoformat()}|{last.pk}"
    return TimelinePage(events=page, cursor=cursor)
