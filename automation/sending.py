"""The send path: a Message row per intended email, then the hand-off to Django's backend.

Invariants:
- One Message per idempotency key (a unique constraint): `message_prepare` for a key that
  already has a row returns that row unchanged, so a replayed step never makes a second one.
- `message_prepare` runs inside the engine's transaction and does no I/O beyond the
  database: a message to send is "queued". `messages_deliver` runs outside any transaction
  and hands to the backend only rows it moved from "queued" to "sending" itself (one UPDATE
  per chunk, just before the chunk's hand-off), so a message already sent, skipped, failed,
  marked unknown or taken by another worker is never sent (again).
- A process that dies mid-delivery leaves at most one chunk "sending": the engine settles
  those with `message_mark_unknown`, never re-sent (they may have reached the provider);
  the ones still "queued" never reached the backend and are delivered by the engine then.
"""

import functools
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone

from automation import tokens
from automation.message_events import EVENT_SOURCE, message_event_inputs
from automation.message_rows import (
    message_ids_reserve,
    messages_handoff_claim,
    messages_insert,
    messages_record_failed,
    messages_record_sent,
)
from automation.models import EmailTemplate, Enrollment, Flow, Message, MessageStatus
from automation.rendering import (
    RenderedEmail,
    TemplateRecord,
    TemplateRenderError,
    record,
    render_context,
    template_render,
)
from automation.tracking import html_track
from contacts.ingest import events_ingest
from contacts.models import Contact, EmailStatus, Event
from contacts.selectors import contacts_topic_subscribed

logger = logging.getLogger(__name__)

TEST_SUBJECT_PREFIX = "[Test] "
_SUPPRESSED = {
    EmailStatus.UNSUBSCRIBED: "unsubscribed",
    EmailStatus.BOUNCED: "bounced",
    EmailStatus.COMPLAINED: "complained",
}
_REASON_MAX = Message._meta.get_field("reason").max_length
_SUBJECT_MAX = Message._meta.get_field("subject").max_length
CONTENT_FIELDS = ["subject", "html", "text", "headers"]
# Messages marked "sending" at once before their hand-off: what a killed worker may leave
# "unknown". Outcomes are written after each chunk, and every FLUSH_SECONDS within one.
HANDOFF_CHUNK = 50
FLUSH_SECONDS = 1.0


def enrollment_message_key(*, enrollment_id: int, step_id: str) -> str:
    return f"enrollment:{enrollment_id}:{step_id}"


def message_prepare(*, enrollment, step: dict, now) -> Message:
    """The Message of a send_email step (inside the caller's transaction): "queued" with
    its rendered content and headers, or "skipped" / "failed" with the reason; for a key
    that already has a row, that row (a replay). One item of `messages_prepare`."""
    return messages_prepare(items=[(enrollment, step)], now=now)[0]


def messages_prepare(
    *,
    items: Sequence[tuple[Enrollment, dict]],
    now,
    skip_reasons: Mapping[int, str] | None = None,
) -> list[Message]:
    """The Messages of a batch of (enrollment, send_email step), in the order of `items`,
    inside the caller's transaction; as `message_prepare` for each, in a fixed number of
    queries whatever the batch's size (the rows existing, contacts, their tags, templates,
    topic choices, trigger events, flows, then one insert). `skip_reasons` (enrollment id ->
    reason, e.g. a frequency cap) records those enrollments' new messages as skipped."""
    keys = [enrollment_message_key(enrollment_id=e.pk, step_id=step["id"]) for e, step in items]
    by_key = {m.idempotency_key: m for m in Message.objects.filter(idempotency_key__in=keys)}
    new = {}  # a key twice in one batch is one message (the second is a replay)
    for key, (enrollment, step) in zip(keys, items, strict=True):
        if key not in by_key:
            new.setdefault(key, (enrollment, step))
    if new:
        by_key.update(_messages_create(new, now=now, skip_reasons=skip_reasons or {}))
    return [by_key[key] for key in keys]


@dataclass(eq=False, slots=True)
class _Draft:
    message: Message
    enrollment: Enrollment
    contact: Contact
    template: EmailTemplate | None


def _messages_create(
    new: dict[str, tuple[Enrollment, dict]], *, now, skip_reasons: Mapping[int, str]
) -> dict[str, Message]:
    enrollments = [enrollment for enrollment, _ in new.values()]
    contacts = Contact.objects.in_bulk({e.contact_id for e in enrollments})
    template_ids = {step.get("template") for _, step in new.values()} - {None}
    templates = EmailTemplate.objects.in_bulk(template_ids) if template_ids else {}
    drafts = []
    for key, (enrollment, step) in new.items():
        contact = contacts.get(enrollment.contact_id)
        if contact is None:
            raise Contact.DoesNotExist(f"contact {enrollment.contact_id} of {key}")
        template = templates.get(step.get("template"))
        message = Message(
            contact=contact,
            template=template,
            flow_id=enrollment.flow_id,
            enrollment=enrollment,
            step_id=step["id"],
            idempotency_key=key,
            topic=step.get("topic") or "",
            to_email=contact.email or "",
            from_email=settings.DEFAULT_FROM_EMAIL,
            created_at=now,
            status=MessageStatus.QUEUED,
        )
        if enrollment.holdout:
            _decide(message, MessageStatus.SKIPPED, "holdout")
        elif enrollment.pk in skip_reasons:
            _decide(message, MessageStatus.SKIPPED, skip_reasons[enrollment.pk])
        elif template is None:
            _decide(message, MessageStatus.FAILED, f"template {step.get('template')} is gone")
        drafts.append(_Draft(message, enrollment, contact, template))
    _skips_decide([d for d in drafts if d.message.status == MessageStatus.QUEUED])
    to_render = [d for d in drafts if d.message.status == MessageStatus.QUEUED]
    if message_ids_reserve([d.message for d in drafts]):  # ids known: render, then one insert
        _drafts_render(to_render)
        return messages_insert([d.message for d in drafts])
    # No ids before the insert (SQLite): insert, render, then write the content.
    created = messages_insert([d.message for d in drafts])
    to_render = [d for d in to_render if created[d.message.idempotency_key] is d.message]
    _drafts_render(to_render)
    if to_render:
        Message.objects.bulk_update(
            [d.message for d in to_render], ["status", "reason", *CONTENT_FIELDS]
        )
    return created


def _decide(message: Message, status: str, reason: str) -> None:
    message.status = status
    message.reason = reason[:_REASON_MAX]


def _skips_decide(drafts: list[_Draft]) -> None:
    """Skip the drafts whose contact gets no email from the step, in the documented order
    after the holdout: missing email, suppressed address, opted out of the step's topic."""
    topical = []
    for draft in drafts:
        contact, template = draft.contact, draft.template
        if not contact.email:
            _decide(draft.message, MessageStatus.SKIPPED, "missing_email")
            continue
        status = contact.email_status
        if status in _SUPPRESSED and not (
            template.transactional and status == EmailStatus.UNSUBSCRIBED
        ):
            _decide(draft.message, MessageStatus.SKIPPED, _SUPPRESSED[status])
            continue
        if draft.message.topic and not template.transactional:
            topical.append(draft)
    if not topical:
        return
    subscribed = contacts_topic_subscribed(
        contact_ids={d.contact.pk for d in topical}, topic_keys={d.message.topic for d in topical}
    )
    for draft in topical:
        topic = draft.message.topic
        if not subscribed.get((draft.contact.pk, topic)):  # opted out, or no such topic
            _decide(draft.message, MessageStatus.SKIPPED, f"opted_out:{topic}")


def _drafts_render(drafts: list[_Draft]) -> None:
    """Render each "queued" draft (its id known): its content, or failed with the template
    error. The contacts' tags, the trigger events and the flows are read once (a query
    each, when not loaded already)."""
    if not drafts:
        return
    prefetch_related_objects(list({d.contact.pk: d.contact for d in drafts}.values()), "tags")
    with_layout = {id(d.template): d.template for d in drafts if d.template.layout_id}
    if with_layout:  # one query for the batch's layouts
        prefetch_related_objects(list(with_layout.values()), "layout")
    event_ids = {d.enrollment.trigger_event_id for d in drafts} - {None}
    events = Event.objects.in_bulk(event_ids) if event_ids else {}
    unloaded = [d.enrollment for d in drafts if not Enrollment.flow.is_cached(d.enrollment)]
    if unloaded:
        flows = Flow.objects.only("id", "name").in_bulk({e.flow_id for e in unloaded})
        for enrollment in unloaded:
            enrollment.flow = flows[enrollment.flow_id]
    for draft in drafts:
        enrollment = draft.enrollment
        context = render_context(
            contact=draft.contact,
            event=events.get(enrollment.trigger_event_id),
            flow=enrollment.flow,
            contact_id=draft.contact.pk,
            message_id=draft.message.pk,
        )
        _render_into(draft.message, template=draft.template, context=context)


def _render_into(message: Message, *, template: EmailTemplate, context: dict) -> bool:
    """Fill a "queued" message with its content (True), or fail it with the template
    error (False)."""
    try:
        rendered = template_render(template=template, context=context)
        if len(rendered.subject) > _SUBJECT_MAX:  # would fail the batch's insert, not just it
            raise TemplateRenderError(
                part="subject", message=f"longer than {_SUBJECT_MAX} characters", line=None
            )
    except TemplateRenderError as exc:
        _decide(message, MessageStatus.FAILED, exc.reason)
        return False
    _fill(message, rendered, template=template, unsubscribe_url=context.get("unsubscribe_url"))
    return True


def _rendered(message: Message, *, template: EmailTemplate, context: dict) -> Message:
    """Fill a saved "queued" message with its content, or fail it with the template error."""
    if _render_into(message, template=template, context=context):
        message.save(update_fields=CONTENT_FIELDS)
    else:
        message.save(update_fields=["status", "reason"])
    return message


def _fill(
    message: Message,
    rendered: RenderedEmail,
    *,
    template: EmailTemplate,
    unsubscribe_url: str | None = None,
) -> None:
    """The message's content as sent: its HTML with the open pixel and click links the
    template asks for (automation.tracking; test sends are not tracked)."""
    message.subject = rendered.subject
    message.html = rendered.html
    if not message.is_test and (template.track_opens or template.track_clicks):
        message.html = html_track(
            rendered.html,
            message_id=message.pk,
            opens=template.track_opens,
            clicks=template.track_clicks,
        )
    message.text = rendered.text
    message.headers = message_headers(
        message=message, marketing=not template.transactional, unsubscribe_url=unsubscribe_url
    )


@functools.lru_cache(maxsize=64)
def _address(from_email: str) -> str:
    return parseaddr(from_email)[1]


def message_headers(
    *, message: Message, marketing: bool, unsubscribe_url: str | None = None
) -> dict[str, str]:
    """Message-ID (ours, so the log and the provider agree) and, for marketing mail, the
    RFC 8058 one-click unsubscribe headers (`unsubscribe_url`: the message's own, when the
    render context signed it already)."""
    from_address = _address(message.from_email)
    domain = from_address.rpartition("@")[2] or "localhost"
    headers = {"Message-ID": make_msgid(idstring=f"segflow.{message.pk}", domain=domain)}
    if marketing:
        url = unsubscribe_url or tokens.unsubscribe_url(
            contact_id=message.contact_id, message_id=message.pk
        )
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
    # ESPs echo metadata back in their tracking webhooks (automation.esp_tracking finds the
    # message by it, or by the provider's message id); plain SMTP backends ignore it.
    email.metadata = {"segflow_message_id": str(message.pk)}
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
    """Hand the "queued" messages to the email backend over one connection (outside any
    transaction) and record each outcome on the rows and on the given objects, with an
    email.sent event per message sent (test sends excepted). Chunks of HANDOFF_CHUNK are
    marked "sending" right before their hand-off and their outcomes written right after
    (and every FLUSH_SECONDS), in the same transaction as the next chunk's claim: a process
    killed mid-batch leaves at most one chunk "sending", settled "unknown" by the engine,
    and the rest "queued", sent by the engine."""
    queued = sorted((m for m in messages if m.status == MessageStatus.QUEUED), key=_pk)
    if not queued:
        return
    chunks = [
        queued[start : start + HANDOFF_CHUNK] for start in range(0, len(queued), HANDOFF_CHUNK)
    ]
    outcomes = _Outcomes(now=now)
    backend = get_connection()
    opened, open_error = False, ""
    claimed = messages_handoff_claim(chunks[0])
    try:
        for index in range(len(chunks)):
            for message in claimed:
                if not opened and not open_error:
                    opened, open_error = _open(backend)
                if open_error:  # the server is unreachable: fail the batch, not retry each
                    outcomes.failed(message, error=open_error)
                    continue
                accepted, provider_id, error = _hand_off(_email_of(message, backend))
                if accepted:
                    outcomes.sent(message, provider_id=provider_id)
                else:
                    outcomes.failed(message, error=error)
                    _reset(backend)
                    opened = False
            following = chunks[index + 1] if index + 1 < len(chunks) else []
            claimed = outcomes.flush(claim=following)
    finally:
        _reset(backend)
        outcomes.flush()


def _pk(message: Message) -> int:
    return message.pk


class _Outcomes:
    """Outcomes of a delivery not written yet, written in bulk: one transaction per flush
    with one UPDATE for the sent, one for the failed, their email.sent events and, when
    given, the next chunk's claim (one commit per chunk: on this path the commits, not
    the statements, cost the most)."""

    def __init__(self, *, now):
        self.now = now
        self._sent: list[tuple[Message, str]] = []
        self._failed: list[tuple[Message, str]] = []
        self._flushed_at = time.monotonic()

    def sent(self, message: Message, *, provider_id: str) -> None:
        self._sent.append((message, provider_id))
        self._maybe_flush()

    def failed(self, message: Message, *, error: str) -> None:
        self._failed.append((message, error[:_REASON_MAX]))
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._flushed_at >= FLUSH_SECONDS:
            self.flush()

    def flush(self, *, claim: Sequence[Message] = ()) -> list[Message]:
        """Write the outcomes noted so far and claim `claim` for its hand-off, at once;
        returns the claimed messages."""
        sent, failed, now = self._sent, self._failed, self.now
        self._sent, self._failed, self._flushed_at = [], [], time.monotonic()
        if not (sent or failed):
            return messages_handoff_claim(list(claim))
        with transaction.atomic():
            if sent:
                messages_record_sent(sent, now=now)
            if failed:
                messages_record_failed(failed)
            messages_sent_events_record([m for m, _ in sent], now=now)
            return messages_handoff_claim(list(claim))


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


def messages_sent_events_record(messages: Sequence[Message], *, now) -> None:
    """One email.sent event per sent message (idempotent per message: its key), test sends
    excepted; in a savepoint when inside a transaction, so a failure loses the events, never
    the messages' records."""
    events = message_event_inputs(
        messages, name="email.sent", now=now, idempotency_key=lambda m: f"message:{m.pk}"
    )
    if not events:
        return
    try:
        with transaction.atomic():
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
        status=MessageStatus.QUEUED,
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
    if message.status == MessageStatus.QUEUED:
        message.subject = TEST_SUBJECT_PREFIX + message.subject
        message.save(update_fields=["subject"])
        messages_deliver(messages=[message], now=now)
    return message
