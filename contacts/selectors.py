"""Reads of contacts and events for the API and the UI."""

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass

from django.db.models import F, FilteredRelation, Q, QuerySet

from contacts.models import (
    Contact,
    Event,
    SubscriptionStatus,
    SubscriptionTopic,
)

# Filters of the contact list that other apps own (segments registers "segment": its current
# members), so contacts never reads their tables.
contact_list_filters: dict[str, Callable[[QuerySet[Contact], int], QuerySet[Contact]]] = {}


def contact_list(
    *,
    email: str | None = None,
    search: str | None = None,
    tag: str | None = None,
    external_id: str | None = None,
    segment: int | None = None,
) -> QuerySet[Contact]:
    contacts = Contact.objects.prefetch_related("tags").order_by("id")
    if segment is not None:
        contacts = contact_list_filters["segment"](contacts, segment)
    if email:
        contacts = contacts.filter(email=email.strip().lower())
    if external_id:
        contacts = contacts.filter(external_id=external_id)
    if tag:
        contacts = contacts.filter(tags__name__iexact=tag)
    if search:
        term = search.strip()
        contacts = contacts.filter(
            Q(email__icontains=term)
            | Q(first_name__icontains=term)
            | Q(last_name__icontains=term)
            | Q(external_id=term)
        )
    return contacts


def event_list(
    *, contact_id: int | None = None, name: str | None = None, since: dt.datetime | None = None
) -> QuerySet[Event]:
    events = Event.objects.order_by("-occurred_at", "-id")
    if contact_id is not None:
        events = events.filter(contact_id=contact_id)
    if name:
        events = events.filter(name=name)
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    return events


def contacts_topic_subscribed(
    *, contact_ids: Collection[int], topic_keys: Collection[str]
) -> dict[tuple[int, str], bool]:
    """Whether each contact receives mail of each topic, in one query: {(contact id, topic
    key): subscribed}: the contact's own choice ("pending" is not subscribed), else the
    topic's default. Pairs of a topic that does not exist are absent."""
    choices = FilteredRelation(
        "contactsubscription", condition=Q(contactsubscription__contact_id__in=contact_ids)
    )
    rows = (
        SubscriptionTopic.objects.filter(key__in=topic_keys)
        .annotate(choice=choices)
        .values_list("key", "default_opt_in", "choice__contact_id", "choice__status")
    )
    defaults, subscribed = {}, {}
    for key, default_opt_in, contact_id, status in rows:
        defaults[key] = default_opt_in
        if contact_id is not None:
            subscribed[contact_id, key] = status == SubscriptionStatus.SUBSCRIBED
    for contact_id in contact_ids:
        for key, default_opt_in in defaults.items():
            subscribed.setdefault((contact_id, key), default_opt_in)
    return subscribed


@dataclass(frozen=True)
class TopicSubscription:
    """A contact's status for one topic: its own choice, else the topic's default (source
    "default", no time)."""

    topic: SubscriptionTopic
    status: str  # subscribed | unsubscribed | pending
    source: str
    changed_at: dt.datetime | None
    confirmed_at: dt.datetime | None

    @property
    def subscribed(self) -> bool:
        return self.status == SubscriptionStatus.SUBSCRIBED

    @property
    def by_default(self) -> bool:
        return self.changed_at is None


def contact_subscriptions_list(*, contact_id: int) -> list[TopicSubscription]:
    """Every topic (by key) with the contact's status, in one query."""
    choice = FilteredRelation(
        "contactsubscription", condition=Q(contactsubscription__contact_id=contact_id)
    )
    topics = (
        SubscriptionTopic.objects.annotate(choice=choice)
        .annotate(
            choice_status=F("choice__status"),
            choice_source=F("choice__source"),
            choice_at=F("choice__updated_at"),
            choice_confirmed_at=F("choice__confirmed_at"),
        )
        .order_by("key")
    )
    return [
        TopicSubscription(
            topic=topic,
            status=topic.choice_status
            or (
                SubscriptionStatus.SUBSCRIBED
                if topic.default_opt_in
                else SubscriptionStatus.UNSUBSCRIBED
            ),
            source=topic.choice_source if topic.choice_status else "default",
            changed_at=topic.choice_at if topic.choice_status else None,
            confirmed_at=topic.choice_confirmed_at,
        )
        for topic in topics
    ]
