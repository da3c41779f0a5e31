"""Writes of a contact's own choices per subscription topic (the preference center, and the
subscriptions API when it lands). Each change is announced, so segments on subscriptions
follow."""

import datetime as dt
from collections.abc import Mapping

from django.db import transaction

from contacts.models import ContactSubscription, SubscriptionStatus, SubscriptionTopic
from contacts.signals import notify_contacts_changed


def contact_subscriptions_set(
    *, contact_id: int, statuses: Mapping[str, str], source: str, now: dt.datetime
) -> list[str]:
    """Record `statuses` (topic key -> "subscribed" | "unsubscribed") for the contact; keys
    of no topic are ignored. Returns the keys whose status changed."""
    if not set(statuses.values()) <= set(SubscriptionStatus.values):
        raise ValueError(f"Statuses are {', '.join(SubscriptionStatus.values)}.")
    with transaction.atomic():
        topics = {t.key: t for t in SubscriptionTopic.objects.filter(key__in=list(statuses))}
        current = dict(
            ContactSubscription.objects.select_for_update()
            .filter(contact_id=contact_id, topic__in=topics.values())
            .values_list("topic__key", "status")
        )
        changed = [key for key in topics if current.get(key) != statuses[key]]
        for key in changed:
            ContactSubscription.objects.update_or_create(
                contact_id=contact_id,
                topic=topics[key],
                defaults={"status": statuses[key], "source": source, "updated_at": now},
            )
        if changed:
            notify_contacts_changed([contact_id], {"subscriptions"})
    return changed
