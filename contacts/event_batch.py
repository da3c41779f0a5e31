"""A batch of events as a client posts it (`{"events": [...]}`): each item is checked alone and
the valid ones are stored together, so one bad item is reported by its index and never costs
the others."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import timezone

from contacts.event_input import event_parse
from contacts.ingest import MAX_BATCH, events_ingest
from segflow.errors import ErrorCollector


@dataclass(frozen=True, slots=True)
class EventBatchResult:
    accepted: int  # valid items, stored (replays included)
    duplicates: int  # accepted items whose idempotency key was seen before
    rejected: list[dict]  # [{"index": i, "errors": {path: [messages]}}], in item order


def event_batch_items(body: object) -> list:
    """The items of a batch body; InvalidInput when the body is not `{"events": [...]}` with at
    most MAX_BATCH items, naming any other top-level key (a typo must not pass unseen)."""
    errors = ErrorCollector()
    items = body.get("events") if isinstance(body, dict) else None
    if not isinstance(items, list):
        errors.add("events", 'Send {"events": [...]}, a list of events.')
    elif len(items) > MAX_BATCH:
        errors.add("events", f"At most {MAX_BATCH} events per batch.")
    if isinstance(body, dict):
        for key in body:
            if key != "events":
                errors.add(str(key), "Unknown key. Allowed: events.")
    errors.raise_if_any()
    return items


def event_batch_ingest(
    *, items: Sequence[object], source: str = "api", now: dt.datetime | None = None
) -> EventBatchResult:
    """Check every item (contacts.event_input.event_parse) and store the valid ones."""
    now = now or timezone.now()
    valid, rejected = [], []
    for index, item in enumerate(items):
        event, errors = event_parse(item, now=now)
        if errors:
            rejected.append({"index": index, "errors": errors})
        else:
            valid.append(event)
    stored = events_ingest(events=valid, source=source, now=now)
    return EventBatchResult(
        accepted=len(stored),
        duplicates=sum(1 for result in stored if result.duplicate),
        rejected=rejected,
    )
