"""What the public unsubscribe and preference pages do (automation.public_views): change the
contact through contacts' services (so segments follow) and record the email.unsubscribed
event. A bounced or complained address stays so: only an active one becomes unsubscribed,
and only an unsubscribed one becomes active again."""

import datetime as dt

from automation.message_events import EVENT_SOURCE
from automation.models import Message
from contacts.ingest import EventInput, events_ingest
from contacts.models import Contact, EmailStatus
from contacts.services import contact_update
from contacts.subscriptions import contact_subscriptions_set

PREFERENCES_SOURCE = "preference_center"


def contact_unsubscribe(
    *, contact: Contact, message_id: int | None, method: str, now: dt.datetime
) -> bool:
    """Unsubscribe from all marketing email; `method` is "one_click" (RFC 8058 POST) or
    "link" (the confirmation page). Returns whether the status changed."""
    if contact.email_status != EmailStatus.ACTIVE:
        return False
    contact_update(contact=contact, values={"email_status": EmailStatus.UNSUBSCRIBED})
    _unsubscribed_event(contact=contact, message_id=message_id, method=method, now=now)
    return True


def _unsubscribed_event(*, contact: Contact, message_id: int | None, method: str, now) -> None:
    properties = {"message_id": message_id, "method": method}
    if message_id is not None:
        ids = Message.objects.filter(pk=message_id).values("flow_id", "template_id", "step_id")
        properties.update(ids.first() or {})
    # Idempotent per message: a repeated POST of the same link records one event.
    key = f"unsubscribe:{message_id}" if message_id is not None else None
    events_ingest(
        events=[
            EventInput(
                name="email.unsubscribed",
                occurred_at=now,
                external_id=contact.external_id or None,
                email=None if contact.external_id else contact.email,
                properties=properties,
                idempotency_key=key,
            )
        ],
        source=EVENT_SOURCE,
        now=now,
    )


def contact_preferences_save(
    *,
    contact: Contact,
    topics: dict[str, bool],
    unsubscribe_all: bool,
    message_id: int | None,
    now: dt.datetime,
) -> None:
    """The preference center's form: a choice per topic key, and all marketing email off
    (unsubscribed) or back on (active again, when it was unsubscribed)."""
    statuses = {key: "subscribed" if on else "unsubscribed" for key, on in topics.items()}
    contact_subscriptions_set(
        contact_id=contact.pk, statuses=statuses, source=PREFERENCES_SOURCE, now=now
    )
    if unsubscribe_all:
        contact_unsubscribe(contact=contact, message_id=message_id, method="preferences", now=now)
    elif contact.email_status == EmailStatus.UNSUBSCRIBED:
        contact_update(contact=contact, values={"email_status": EmailStatus.ACTIVE})
