"""The email.* events Segflow records about its own messages (sent, opened, clicked): on the
message's contact, with the properties email conditions read (docs/segments.md)."""

from collections.abc import Callable, Sequence

from automation.models import Message
from contacts.ingest import EventInput
from contacts.models import Contact

EVENT_SOURCE = "segflow"  # the source of the events Segflow records about its messages


def message_event_properties(message: Message) -> dict:
    return {
        "message_id": message.pk,
        "template_id": message.template_id,
        "flow_id": message.flow_id,
        "step_id": message.step_id,
    }


def message_event_inputs(
    messages: Sequence[Message],
    *,
    name: str,
    now,
    idempotency_key: Callable[[Message], str | None],
    extra: dict | None = None,
) -> list[EventInput]:
    """One `name` event per message of a contact, test sends excepted, in one query. The
    contact is named by its identity now (its email may have changed since the send): an
    event by a stale address would create a new contact. A contact deleted meanwhile, or left
    without an identity, gets none."""
    messages = [m for m in messages if not m.is_test and m.contact_id]
    if not messages:
        return []
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
            continue
        events.append(
            EventInput(
                name=name,
                occurred_at=now,
                external_id=external_id or None,
                email=None if external_id else email,
                properties={**message_event_properties(message), **(extra or {})},
                idempotency_key=idempotency_key(message),
            )
        )
    return events
