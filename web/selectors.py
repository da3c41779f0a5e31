"""Reads of the contact page that the API does not serve: the contact's current segments,
its subscription status per topic and its activity timeline (newest first, by cursor)."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import OuterRef, Q, Subquery

from contacts.models import (
    Contact,
    ContactSubscription,
    Event,
    SubscriptionStatus,
    SubscriptionTopic,
)
from contacts.selectors import event_list
from segments.models import SegmentMembership

TIMELINE_PAGE_SIZE = 25


@dataclass(frozen=True)
class TopicStatus:
    topic: SubscriptionTopic
    subscribed: bool
    by_default: bool  # no choice of the contact's own: the topic's default applies


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


def contact_topic_statuses(*, contact: Contact) -> list[TopicStatus]:
    """Every topic with the contact's status: its own choice, else the topic's default."""
    choice = ContactSubscription.objects.filter(contact=contact, topic=OuterRef("pk"))
    topics = SubscriptionTopic.objects.annotate(choice=Subquery(choice.values("status")[:1]))
    return [
        TopicStatus(
            topic=topic,
            subscribed=topic.default_opt_in
            if topic.choice is None
            else topic.choice == SubscriptionStatus.SUBSCRIBED,
            by_default=topic.choice is None,
        )
        for topic in topics
    ]


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
