"""ESP tracking webhooks: django-anymail's `tracking` signal becomes our email.* events on the
right contact and message, and a hard bounce, a complaint or an ESP unsubscribe suppresses
the address (docs/esp-webhooks.md).

Invariants:
- One ESP report is at most one event: its idempotency key (per source, the ESP) comes from
  the ESP's event id, else from (message id, event type, timestamp); a replayed post is a
  duplicate in events_ingest and changes nothing.
- The event and the email_status change it causes commit together, and only a new event
  changes the status (a replay after someone re-activated the address does not undo that).
- Reports only raise email_status (contacts.email_status): "delivered" never clears a bounce.
- A report we cannot place (no message of ours, no contact with that address) is logged and
  dropped: the ESP gets its 200 and no contact is created for it.
"""

import hashlib
import json
import logging
import re

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason
from django.db import transaction
from django.utils import timezone

from automation.models import Message
from contacts.email_status import contact_email_status_set
from contacts.ingest import EventInput, StoredEvent, events_ingest
from contacts.models import Contact, EmailStatus, Event

logger = logging.getLogger(__name__)

EVENT_NAMES = {
    EventType.DELIVERED: "email.delivered",
    EventType.OPENED: "email.opened",
    EventType.CLICKED: "email.clicked",
    EventType.BOUNCED: "email.bounced",
    EventType.COMPLAINED: "email.complained",
    EventType.UNSUBSCRIBED: "email.unsubscribed",
}
# Reports that suppress the address (a bounce only when hard: see bounce_kind)
SUPPRESSES = {
    "email.complained": EmailStatus.COMPLAINED,
    "email.unsubscribed": EmailStatus.UNSUBSCRIBED,
}
# anymail's esp_name -> our event source (Brevo's old name included: one source, one key space)
SOURCES = {
    "Postmark": "postmark",
    "Mailgun": "mailgun",
    "Brevo": "brevo",
    "SendinBlue": "brevo",
    "Amazon SES": "amazon_ses",
}
_OUR_MESSAGE_ID = re.compile(r"\.segflow\.(\d+)@")
_KEY_MAX = Event._meta.get_field("idempotency_key").max_length
_SOURCE_MAX = Event._meta.get_field("source").max_length
_TEXT_MAX, _URL_MAX = 500, 2000


def on_tracking(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    """Receiver of anymail.signals.tracking (connected in AutomationConfig.ready)."""
    tracking_event_record(event=event, esp_name=esp_name)


def esp_source(esp_name: str) -> str:
    return SOURCES.get(esp_name) or re.sub(r"\W+", "_", esp_name.lower())[:_SOURCE_MAX]


def tracking_event_record(*, event: AnymailTrackingEvent, esp_name: str) -> StoredEvent | None:
    """Record one normalized ESP report; the event stored (None when the report is of a kind
    we do not record, cannot be placed, or was a replay)."""
    name = EVENT_NAMES.get(event.event_type)
    if name is None:  # queued, sent, deferred, rejected, failed, autoresponded, subscribed...
        return None
    esp = esp_source(esp_name)
    recipient = _recipient(event)
    message = message_of_report(event=event, recipient=recipient)
    contact = _contact_of(message, recipient)
    if contact is None:
        logger.info("%s %s report for %r matches no message or contact", esp, name, recipient)
        return None
    properties = {
        "message_id": message.pk if message else None,
        "template_id": message.template_id if message else None,
        "flow_id": message.flow_id if message else None,
        "step_id": message.step_id if message else None,
        "esp": esp,
        "esp_event_id": _text(esp_event_id(event=event, esp=esp)),
    }
    details, suppress = _details(event, name, esp)
    properties.update(details)
    with transaction.atomic():
        stored = None
        if message is None or not message.is_test:  # test sends leave no events (no email.sent)
            stored = _event_store(event, name, esp, contact, properties)
            if stored is None:  # a replay
                return None
        if suppress is not None:
            contact_email_status_set(
                contact_id=contact.pk, status=suppress, reason=f"{esp} {name} for {recipient}"
            )
    return stored


def _details(event: AnymailTrackingEvent, name: str, esp: str) -> tuple[dict, str | None]:
    """The properties particular to the event's kind, and the email status it sets."""
    if name == "email.clicked":
        return {"url": _text(event.click_url, limit=_URL_MAX)}, None
    if name == "email.bounced":
        kind = bounce_kind(event=event, esp=esp)
        description = _text(event.description or event.mta_response or "")
        details = {"bounce_type": kind, "soft": kind == "soft", "description": description}
        return details, EmailStatus.BOUNCED if kind == "hard" else None
    return {}, SUPPRESSES.get(name)


def message_of_report(*, event: AnymailTrackingEvent, recipient: str) -> Message | None:
    """Our message the report is about: by the metadata we sent (segflow_message_id), else by
    the provider's message id, else by our own Message-ID header; each must be addressed to
    the report's recipient (another install's message 5 is not ours)."""
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    pk = _int_or_none(metadata.get("segflow_message_id"))
    if pk is not None:
        message = _messages().filter(pk=pk).first()
        if message is not None and _addressed_to(message, recipient):
            return message
    provider_id = str(event.message_id or "").replace("\x00", "").strip()
    if not provider_id:
        return None
    for message in _messages().filter(provider_message_id=provider_id).order_by("-pk")[:20]:
        if _addressed_to(message, recipient):
            return message
    ours = _OUR_MESSAGE_ID.search(provider_id)
    if ours is not None:
        pk = _int_or_none(ours.group(1))
        message = _messages().filter(pk=pk).first() if pk else None
        if (
            message is not None
            and message.headers.get("Message-ID") == provider_id
            and _addressed_to(message, recipient)
        ):
            return message
    return None


def esp_event_id(*, event: AnymailTrackingEvent, esp: str) -> str | None:
    """The ESP's own id of this report, when it gives one. Mailgun's event-data id (unique
    per day, so with its timestamp) rather than the signature token anymail uses, which a
    re-signed retry of the same event would change."""
    raw = event.esp_event
    if esp == "mailgun" and isinstance(raw, dict):
        data = raw.get("event-data") or {}
        if data.get("id"):
            return f"{data['id']}@{data.get('timestamp')}"
    return str(event.event_id) if event.event_id else None


def idempotency_key(*, event: AnymailTrackingEvent, esp: str, recipient: str) -> str:
    """From the ESP's event id (with the recipient: Amazon SES fans one notification out to
    each recipient), else from (message id or recipient, event type, timestamp or, lacking
    one, the payload's digest)."""
    event_id = esp_event_id(event=event, esp=esp)
    if event_id:
        key = f"event:{event_id}:{recipient}"
    else:
        when = event.timestamp.isoformat() if event.timestamp else _digest(event.esp_event)
        key = f"report:{event.message_id or recipient}:{event.event_type}:{when}"
    key = key.replace("\x00", "")
    if len(key) > _KEY_MAX:
        key = f"sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def bounce_kind(*, event: AnymailTrackingEvent, esp: str) -> str:
    """ "hard" (the address is dead: suppress it) or "soft" (this message failed: record it,
    never suppress). anymail reports soft bounces of Postmark, Brevo and Amazon SES as
    bounced too, so their raw payload decides; Mailgun's temporary failures arrive as
    deferred (not recorded), so a Mailgun bounce is permanent."""
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}
    if esp == "postmark":
        hard = "HardBounce" in (raw.get("Type"), raw.get("SuppressionReason"))
    elif esp == "brevo":
        hard = raw.get("event") in ("hard_bounce", "invalid_email")
    elif esp == "amazon_ses":
        hard = (raw.get("bounce") or {}).get("bounceType") == "Permanent"
    elif esp == "mailgun":
        hard = (raw.get("event-data") or {}).get("severity", "permanent") == "permanent"
    else:
        hard = event.reject_reason in (RejectReason.BOUNCED, RejectReason.INVALID)
    return "hard" if hard else "soft"


def _event_store(event, name, esp, contact, properties) -> StoredEvent | None:
    recipient = _recipient(event)
    stored = events_ingest(
        events=[
            EventInput(
                name=name,
                occurred_at=event.timestamp or timezone.now(),
                external_id=contact.external_id or None,
                email=None if contact.external_id else contact.email,
                properties=properties,
                idempotency_key=idempotency_key(event=event, esp=esp, recipient=recipient),
            )
        ],
        source=esp,
    )[0]
    return None if stored.duplicate else stored


def _recipient(event: AnymailTrackingEvent) -> str:
    return str(event.recipient or "").replace("\x00", "").strip().lower()


def _messages():
    """Messages with their contact (one query for both)."""
    return Message.objects.select_related("contact")


def _contact_of(message: Message | None, recipient: str) -> Contact | None:
    if message is not None and message.contact_id is not None:
        return message.contact
    if not recipient:
        return None
    return Contact.objects.filter(email=recipient).first()


def _addressed_to(message: Message, recipient: str) -> bool:
    return not recipient or message.to_email.strip().lower() == recipient


def _int_or_none(value) -> int | None:
    """A positive id that fits a bigint, else None (metadata is the ESP's echo of ours)."""
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


def _text(value, *, limit: int = _TEXT_MAX) -> str | None:
    """An ESP's string as a property: bounded, without NUL (jsonb refuses it)."""
    return None if value is None else str(value).replace("\x00", "")[:limit]


def _digest(raw) -> str:
    try:
        text = json.dumps(raw, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(raw)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
