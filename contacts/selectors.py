"""Reads of contacts and events for the API and the UI."""

import datetime as dt
from collections.abc import Callable

from django.db.models import Q, QuerySet

from contacts.models import Contact, Event

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
