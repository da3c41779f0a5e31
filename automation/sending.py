"""The send path: a Message row per intended email, then the hand-off to Django's backend.

Invariants:
- One Message per idempotency key (a unique constraint): `message_prepare` for a key that
  already has a row returns that row unchanged, so a replayed step never makes a second one.
- `message_prepare` runs inside the engine's transaction and does no I/O beyond the
  database; `messages_deliver` runs outside any transaction and hands to the backend only
  rows still "sending" in the database, so a message already sent, skipped, failed or marked
  unknown is never sent (again).
- A row left "sending" by a process that died during the hand-off is settled by the engine
  with `message_mark_unknown`, never re-sent: it may or may not have reached the provider.
"""

import logging
import uuid
from collections.abc import Sequence
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import Q
from django.utils import timezone

from automation import tokens
from automation.models import EmailTemplate, Message, MessageStatus
from automation.rendering import (
    RenderedEmail,
    TemplateRecord,
    TemplateRenderError,
    record,
    render_context,
    template_render,
)
from contacts.ingest import EventInput, events_ingest
from contacts.models import Contact, EmailStatus, Event
from contacts.selectors import contact_topic_subscribed

logger = logging.getLogger(__name__)

EVENT_SOURCE = "segflow"
TEST_SUBJECT_PREFIX = "[Test] "
_SUPPRESSED = {
    EmailStatus.UNSUBSCRIBED: "unsubscribed",
    EmailStatus.BOUNCED: "bounced",
    EmailStatus.COMPLAINED: "complained",
}
_REASON_MAX = Message._meta.get_field("reason").max_length


def enrollment_message_key(*, enrollment_id: int, step_id: str) -> str:
    return f"enrollment:{enrollment_id}:{step_id}"


def _skip_reason(*, contact: Contact, template: EmailTemplate, topic: str) -> str:
    """Why this contact gets no email from this step, in the documented order after the
    holdout ("" if none)."""
    if not contact.email:
        return "missing_email"
    status = contact.email_status
    if status in _SUPPRESSED and not (
        template.transactional and status == EmailStatus.UNSUBSCRIBED
    ):
        return _SUPPRESSED[status]
    if topic and not template.transactional:
        subscribed = contact_topic_subscribed(contact_id=contact.pk, topic_key=topic)
        if not subscribed:  # opted out, or the topic was deleted: nobody opted in
            return f"opted_out:{topic}"
    return ""


def message_prepare(*, enrollment, step: dict, now) -> Message:
    """The Message of a send_email step (inside the caller's transaction): "sending" with
    its rendered content and headers, or "skipped" / "failed" with the reason; for a key
    that already has a row, that row (a replay)."""
    key = enrollment_message_key(enrollment_id=enrollment.pk, step_id=step["id"])
    existing = Message.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    contact = Contact.objects.get(pk=enrollment.contact_id)
    template = EmailTemplate.objects.filter(pk=step.get("template")).first()
    topic = step.get("topic") or ""
    message = Message(
        contact=contact,
        template=template,
        flow_id=enrollment.flow_id,
        enrollment=enrollment,
        step_id=step["id"],
        idempotency_key=key,
        topic=topic,
        to_email=contact.email or "",
        from_email=settings.DEFAULT_FROM_EMAIL,
        created_at=now,
    )
    if enrollment.holdout:
        return _saved(message, MessageStatus.SKIPPED, "holdout")
    if template is None:
        return _saved(message, MessageStatus.FAILED, f"template {step.get('template')} is gone")
    reason = _skip_reason(contact=contact, template=template, topic=topic)
    if reason:
        return _saved(message, MessageStatus.SKIPPED, reason)
    message.status = MessageStatus.SENDING
    message.save(force_insert=True)  # its id signs the unsubscribe link
    event = None
    if enrollment.trigger_event_id is not None:
        event = Event.objects.filter(pk=enrollment.trigger_event_id).first()
    context = render_context(
        contact=contact,
        event=event,
        flow=enrollment.flow,
        contact_id=contact.pk,
        message_id=message.pk,
    )
    return _rendered(message, template=template, context=context)


def _saved(message: Message, status: str, reason: str) -> Message:
    message.status = status
    message.reason = reason[:_REASON_MAX]
    message.save(force_insert=True)
    return message


def _rendered(message: Message, *, template: EmailTemplate, context: dict) -> Message:
    """Fill a saved "sending" message with its content, or fail it with the template error."""
    try:
        rendered = template_render(template=template, context=context)
    except TemplateRenderError as exc:
        message.status = MessageStatus.FAILED
        message.reason = exc.reason[:_REASON_MAX]
        message.save(update_fields=["status", "reason"])
        return message
    _fill(message, rendered, marketing=not template.transactional)
    message.save(update_fields=["subject", "html", "text", "headers"])
    return message


def _fill(message: Message, rendered: RenderedEmail, *, marketing: bool) -> None:
    message.subject = rendered.subject
    message.html = rendered.html
    message.text = rendered.text
    message.headers = message_headers(message=message, marketing=marketing)


def message_headers(*, message: Message, marketing: bool) -> dict[str, str]:
    """Message-ID (ours, so the log and the provider agree) and, for marketing mail, the
    RFC 8058 one-click unsubscribe headers."""
    from_address = parseaddr(message.from_email)[1]
    domain = from_address.rpartition("@")[2] or "localhost"
    headers = {"Message-ID": make_msgid(idstring=f"segflow.{message.pk}", domain=domain)}
    if marketing:
        url = tokens.unsubscribe_url(contact_id=message.contact_id, message_id=message.pk)
        mailto = getattr(settings, "EMAIL_UNSUBSCRIBE_MAILTO", "") or from_address
        headers["List-Unsubscribe"] = f"<{url}>, <mailto:{mailto}?subject=unsubscribe>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


def message_mark_unknown(*, message: Message) -> None:
    """A send cut off between the hand-off and our record: it may have reached the provider,
    so it is never retried (documented in docs/email.md)."""
    updated = Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.UNKNOWN,
        reason="cut off between the hand-off to the email backend and its record; not retried",
    )
    if updated:
        message.refresh_from_db(fields=["status", "reason"])


def _email_of(message: Message, connection) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.text,
        from_email=message.from_email or settings.DEFAULT_FROM_EMAIL,
        to=[message.to_email],
        headers=message.headers,
        connection=connection,
    )
    email.attach_alternative(message.html, "text/html")
    return email


def _hand_off(email: EmailMultiAlternatives) -> tuple[bool, str, str]:
    """(accepted, provider message id, error)."""
    try:
        accepted = email.send()
    except Exception as exc:  # any backend error fails this one message, not the batch
        return False, "", f"{type(exc).__name__}: {exc}"
    if not accepted:
        return False, "", "the email backend did not accept the message"
    provider_id = getattr(getattr(email, "anymail_status", None), "message_id", None)
    return True, "" if provider_id is None else str(provider_id), ""


def messages_deliver(*, messages: Sequence[Message], now) -> None:
    """Hand the "sending" messages to the email backend over one connection (outside any
    transaction), record each outcome on the row and on the given objects, then record an
    email.sent event per message sent (test sends excepted)."""
    candidates = {m.pk: m for m in messages if m.status == MessageStatus.SENDING}
    if not candidates:
        return
    still_sending = set(
        Message.objects.filter(pk__in=candidates, status=MessageStatus.SENDING).values_list(
            "pk", flat=True
        )
    )
    sent: list[Message] = []
    connection = get_connection()
    opened, open_error = False, ""
    try:
        for pk in sorted(still_sending):
            message = candidates[pk]
            if not opened and not open_error:
                opened, open_error = _open(connection)
            if open_error:  # the server is unreachable: fail the batch, not retry per message
                _record_failed(message, error=open_error)
                continue
            accepted, provider_id, error = _hand_off(_email_of(message, connection))
            if accepted:
                _record_sent(message, provider_id=provider_id, now=now)
                sent.append(message)
            else:
                _record_failed(message, error=error)
                _reset(connection)
                opened = False
    finally:
        _reset(connection)
    _record_sent_events([m for m in sent if not m.is_test and m.contact_id], now=now)


def _open(connection) -> tuple[bool, str]:
    """Open the backend's connection once for the batch: (opened, error)."""
    try:
        connection.open()
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return True, ""


def _reset(connection) -> None:
    """Close the connection (reopened by the next send) so one broken session fails one
    message, not the rest of the batch."""
    try:
        connection.close()
    except Exception:  # closing a broken connection may fail too; the next send reopens
        logger.debug("closing the email connection failed", exc_info=True)


def _record_sent(message: Message, *, provider_id: str, now) -> None:
    # "unknown" too: if the lease ran out while we were sending, the truth is "sent".
    Message.objects.filter(
        Q(status=MessageStatus.SENDING) | Q(status=MessageStatus.UNKNOWN), pk=message.pk
    ).update(status=MessageStatus.SENT, sent_at=now, provider_message_id=provider_id, reason="")
    message.status, message.sent_at, message.provider_message_id, message.reason = (
        MessageStatus.SENT,
        now,
        provider_id,
        "",
    )


def _record_failed(message: Message, *, error: str) -> None:
    reason = error[:_REASON_MAX]
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.FAILED, reason=reason
    )
    message.status, message.reason = MessageStatus.FAILED, reason


def _record_sent_events(messages: list[Message], *, now) -> None:
    if not messages:
        return
    # The contact's identity now (its email may have changed since the send): an event by a
    # stale address would create a new contact.
    identities = {
        pk: (external_id, email)
        for pk, external_id, email in Contact.objects.filter(
            pk__in={m.contact_id for m in messages}
        ).values_list("pk", "external_id", "email")
    }
    events = []
    for message in messages:
        external_id, email = identities.get(message.contact_id, (None, None))
        if not external_id and not email:
            continue  # deleted meanwhile, or no identity left
        events.append(
            EventInput(
                name="email.sent",
                occurred_at=now,
                external_id=external_id or None,
                email=None if external_id else email,
                properties={
                    "message_id": message.pk,
                    "template_id": message.template_id,
                    "flow_id": message.flow_id,
                    "step_id": message.step_id,
                },
                idempotency_key=f"message:{message.pk}",
            )
        )
    if not events:
        return
    try:
        events_ingest(events=events, source=EVENT_SOURCE, now=now)
    except Exception:  # the messages are sent and recorded; a lost event must not undo that
        logger.exception("recording email.sent events failed for %d messages", len(events))


def message_send_test(*, template: EmailTemplate, to_email: str, contact=None) -> Message:
    """Send `template` to `to_email` now, rendered for `contact` (or a stand-in contact with
    that address), as a test send in the message log. Runs outside a transaction."""
    now = timezone.now()
    message = Message.objects.create(
        contact=contact,
        template=template,
        idempotency_key=f"test:{uuid.uuid4()}",
        status=MessageStatus.SENDING,
        is_test=True,
        to_email=to_email,
        from_email=settings.DEFAULT_FROM_EMAIL,
        created_at=now,
    )
    stand_in = TemplateRecord(
        "contact", {"email": to_email, "fields": record("contact.fields", {}), "tags": []}
    )
    context = render_context(
        contact=contact if contact is not None else stand_in,
        contact_id=contact.pk if contact is not None else None,
        message_id=message.pk,
    )
    message = _rendered(message, template=template, context=context)
    if message.status == MessageStatus.SENDING:
        message.subject = TEST_SUBJECT_PREFIX + message.subject
        message.save(update_fields=["subject"])
        messages_deliver(messages=[message], now=now)
    return message
