"""Writes of a contact's own choices per subscription topic (the subscriptions API, the
preference center). Each change is recorded with its source and time and announced, so
segments on subscriptions follow.

Double opt-in: asking for "subscribed" to a topic with `double_opt_in` records "pending" and,
once the transaction commits, queues the confirmation email
(contacts.subscription_confirmation); its link makes the status "subscribed". Pending counts as
not subscribed everywhere (sends, segments). Asking again while pending re-sends the email,
at most once per CONFIRMATION_RESEND_AFTER. A caller that holds its own proof of consent
passes `double_opt_in=False` (the API's `"confirmed": true`).
"""

import datetime as dt
from collections.abc import Mapping

from django.db import transaction

from contacts.models import Contact, ContactSubscription, SubscriptionStatus, SubscriptionTopic
from contacts.signals import notify_contacts_changed
from segflow.queue import enqueue_on_commit

REQUESTABLE = (SubscriptionStatus.SUBSCRIBED.value, SubscriptionStatus.UNSUBSCRIBED.value)
CONFIRMATION_RESEND_AFTER = dt.timedelta(minutes=10)
CONFIRMATION_TASK = "contacts.tasks.send_subscription_confirmation"
SOURCE_MAX = ContactSubscription._meta.get_field("source").max_length


def contact_subscriptions_set(
    *,
    contact_id: int,
    statuses: Mapping[str, str],
    source: str,
    now: dt.datetime,
    double_opt_in: bool = True,
) -> list[str]:
    """Record `statuses` (topic key -> "subscribed" | "unsubscribed") for the contact; keys
    of no topic are ignored. Returns the keys whose stored status changed (a topic that had
    no row of the contact's own gets one, even when it equals the topic's default)."""
    if not set(statuses.values()) <= set(REQUESTABLE):
        raise ValueError(f"Statuses are {', '.join(REQUESTABLE)}.")
    if not source or len(source) > SOURCE_MAX:
        raise ValueError(f"A source is 1 to {SOURCE_MAX} characters.")
    changed: list[str] = []
    with transaction.atomic():
        # The contact's row lock serialises writers of its choices (a row two requests both
        # create would otherwise fail one of them) and finds a contact deleted meanwhile.
        if not list(Contact.objects.select_for_update().filter(pk=contact_id).values("pk")):
            return changed
        topics = {t.key: t for t in SubscriptionTopic.objects.filter(key__in=list(statuses))}
        rows = {
            row.topic_id: row
            for row in ContactSubscription.objects.select_for_update().filter(
                contact_id=contact_id, topic__in=topics.values()
            )
        }
        for key, topic in topics.items():
            row = rows.get(topic.pk)
            wanted = statuses[key]
            if wanted == SubscriptionStatus.SUBSCRIBED and topic.double_opt_in and double_opt_in:
                if row is not None and row.status == SubscriptionStatus.SUBSCRIBED:
                    continue
                if row is not None and row.status == SubscriptionStatus.PENDING:
                    if row.updated_at <= now - CONFIRMATION_RESEND_AFTER:
                        row.updated_at = now
                        row.save(update_fields=["updated_at"])
                        enqueue_on_commit(CONFIRMATION_TASK, contact_id, topic.pk)
                    continue
                wanted = SubscriptionStatus.PENDING
                enqueue_on_commit(CONFIRMATION_TASK, contact_id, topic.pk)
            if row is not None and row.status == wanted:
                continue
            values = {"status": wanted, "source": source, "updated_at": now, "confirmed_at": None}
            if row is None:
                ContactSubscription.objects.create(contact_id=contact_id, topic=topic, **values)
            else:
                ContactSubscription.objects.filter(pk=row.pk).update(**values)
            changed.append(key)
        if changed:
            notify_contacts_changed([contact_id], {"subscriptions"})
    return changed


def contact_subscription_confirm(
    *, contact_id: int, topic_key: str, now: dt.datetime
) -> str | None:
    """Follow a confirmation link: "pending" becomes "subscribed" with `confirmed_at`.
    Returns the status after the call ("subscribed" also when it was already: the link is
    idempotent; "unsubscribed" when the contact opted out since, which the link does not
    undo), or None when the topic or the contact's request is gone."""
    with transaction.atomic():
        row = (
            ContactSubscription.objects.select_for_update()
            .filter(contact_id=contact_id, topic__key=topic_key)
            .first()
        )
        if row is None:
            return None
        if row.status == SubscriptionStatus.PENDING:
            row.status = SubscriptionStatus.SUBSCRIBED
            row.updated_at = now
            row.confirmed_at = now
            row.save(update_fields=["status", "updated_at", "confirmed_at"])
            notify_contacts_changed([contact_id], {"subscriptions"})
        return row.status
