"""Event ingestion: validation, contact resolution and set-based inserts.

Events arrive validated by contacts.event_input.event_parse (re-exported here). One batch
is a handful of statements whatever its size: resolve contacts by email and external_id,
create the unknown ones, insert the events (replays of an idempotency key are
skipped by the unique index), advance last_activity_at. The PostgreSQL statements live in
contacts.ingest_postgresql; the portable paths here serve the embedded SQLite default.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from contacts import ingest_postgresql
from contacts.event_input import EventInput, event_parse
from contacts.models import Contact, Event
from contacts.signals import notify_contacts_changed
from contacts.single_event_writes import SingleEventWrite, single_event_writes
from segflow.queue import wake_on_commit

__all__ = ["MAX_BATCH", "NOT_ACTIVITY", "EventInput", "StoredEvent", "event_parse", "events_ingest"]

MAX_BATCH = 1000
# Messages we send are not the contact's own activity.
NOT_ACTIVITY = frozenset({"email.sent", "email.delivered", "email.bounced"})
# A write that lost a deadlock is rolled back whole, so it can simply run again.
DEADLOCK_ATTEMPTS = 3
_DEADLOCK_SQLSTATE = "40P01"


@dataclass(slots=True)
class StoredEvent:
    event_id: int
    contact_id: int
    duplicate: bool


def events_ingest(
    *, events: Sequence[EventInput], source: str = "api", now: dt.datetime | None = None
) -> list[StoredEvent]:
    """Store events (creating unknown contacts); one result per input, in order."""
    if not events:
        return []
    now = now or timezone.now()
    # Inside a caller's transaction a deadlock has already aborted that transaction: only a
    # write that owns its transaction can run again.
    retriable = not connection.in_atomic_block
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            return _ingest_attempt(events, source, now)
        except OperationalError as exc:
            sqlstate = getattr(exc.__cause__, "sqlstate", None)
            if not retriable or sqlstate != _DEADLOCK_SQLSTATE or attempt == DEADLOCK_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _ingest_attempt(
    events: Sequence[EventInput], source: str, now: dt.datetime
) -> list[StoredEvent]:
    if len(events) == 1 and connection.vendor == "postgresql":
        writes = single_event_writes(name=events[0].name, now=now)
        if writes is None:  # a receiver without a writer: the signal's path
            with transaction.atomic():
                stored = _ingest_one(events[0], source, now)
        else:  # one statement, its own transaction (or part of the caller's)
            stored = _ingest_one(events[0], source, now, writes=writes)
        if stored is not None:
            return [stored]
    return _ingest(events, source, now)


def _ingest(events: Sequence[EventInput], source: str, now: dt.datetime) -> list[StoredEvent]:
    with transaction.atomic():
        contact_ids, activity_before = _resolve_contacts(events, now)
        if connection.vendor == "postgresql":
            stored = _insert_events_postgresql(events, contact_ids, source, now)
        else:
            stored = _insert_events_portable(events, contact_ids, source, now)
        fresh = [(e, s) for e, s in zip(events, stored, strict=True) if not s.duplicate]
        stored_by_contact: dict[int, list[tuple[int, str]]] = {}
        for event, result in fresh:
            stored_by_contact.setdefault(result.contact_id, []).append(
                (result.event_id, event.name)
            )
        changes = {f"event:{event.name}" for event, _ in fresh}
        latest = _latest_activity(fresh)
        advanced = _activity_advanced(latest, activity_before, now)
        notify_contacts_changed(
            stored_by_contact, changes, events=stored_by_contact, activity=advanced
        )
        # Last: its row locks make concurrent batches for the same contacts wait until commit.
        # Only the contacts whose value as read moves: the value never moves back, so the
        # others' rows would not change (a batch of past events, a backfill, updates few).
        _advance_last_activity({pk: latest[pk] for pk in advanced})
    return stored


def _ingest_one(
    event: EventInput,
    source: str,
    now: dt.datetime,
    *,
    writes: Sequence[SingleEventWrite] | None = None,
) -> StoredEvent | None:
    """The single-event API's case in one statement instead of up to nine round trips: the
    contact found by its identity, or created when the event names one identity only. None
    when the general path must run: an email given with an unknown external_id (it may link
    the email's contact or create one), or a contact another transaction created meanwhile.

    With `writes` (contacts.single_event_writes), the receivers' rows are written by that
    statement and contacts_changed is not sent; without, it is sent (the caller's
    transaction must then hold the statement and the receivers' writes together)."""
    if event.external_id:
        column, identity = "external_id", event.external_id
    elif event.email:
        column, identity = "email", event.email
    else:
        return None
    contact_id, event_id, advanced, previous = ingest_postgresql.event_ingest_one(
        identity_column=column,
        identity=identity,
        create=not (event.email and event.external_id),
        name=event.name,
        properties_json=event.properties_as_json(),
        occurred_at=event.occurred_at,
        idempotency_key=event.idempotency_key,
        is_activity=event.name not in NOT_ACTIVITY,
        source=source,
        received_at=now,
        writes=writes or (),
    )
    if contact_id is None:
        return None
    if event_id is None:
        existing = (
            Event.objects.filter(source=source, idempotency_key=event.idempotency_key)
            .values_list("pk", flat=True)
            .first()
        )
        return StoredEvent(existing, contact_id, duplicate=True) if existing else None
    if writes is not None:
        _after_single_event_writes(writes, contact_id)
        return StoredEvent(event_id, contact_id, duplicate=False)
    notify_contacts_changed(
        [contact_id],
        [f"event:{event.name}"],
        events={contact_id: [(event_id, event.name)]},
        activity={contact_id: None if previous is None else now - previous} if advanced else {},
    )
    return StoredEvent(event_id, contact_id, duplicate=False)


def _after_single_event_writes(writes: Sequence[SingleEventWrite], contact_id: int) -> None:
    """What the receivers do once their rows commit: wake their workers (one round trip for
    all of them) and their own follow-ups. At once under autocommit: the statement was the
    transaction."""
    wake_on_commit(*(write.wake for write in writes if write.wake))
    for write in writes:
        if write.after_commit is not None:
            transaction.on_commit(partial(write.after_commit, contact_id))


def _contacts_lookup(external_ids: set[str], emails: set[str]) -> list[tuple]:
    if not external_ids and not emails:
        return []
    if connection.vendor == "postgresql":
        return ingest_postgresql.contacts_by_identity(
            external_ids=external_ids, emails=emails, last_activity=True
        )
    query = Q(external_id__in=external_ids) | Q(email__in=emails)
    rows = Contact.objects.filter(query).values_list(
        "pk", "email", "external_id", "last_activity_at"
    )
    return [(*row[:3], None if row[3] is None else row[3].timestamp()) for row in rows]


def _contacts_create(identities: list[tuple[str | None, str | None]], now: dt.datetime) -> list:
    """Insert contacts from (email, external_id) pairs (concurrent creators win); the rows of
    those inserted."""
    if connection.vendor == "postgresql":
        return ingest_postgresql.contacts_create(identities=identities, now=now)
    Contact.objects.bulk_create(
        [Contact(email=email, external_id=external_id) for email, external_id in identities],
        ignore_conflicts=True,
    )
    return []  # SQLite does not say which rows it inserted: the caller reads them all back


def _resolve_contacts(
    events: Sequence[EventInput], now: dt.datetime
) -> tuple[list[int], dict[int, float | None]]:
    """Contact id per event: external_id identifies first, then email; unknown ones are
    created (a concurrent creator wins through the unique indexes, and we re-read). Also
    each contact's last_activity_at as read, in Unix seconds (None for those created)."""
    by_external: dict[str, int] = {}
    by_email: dict[str, int] = {}
    external_of: dict[int, str | None] = {}
    last_activity: dict[int, float | None] = {}

    def remember(rows: list[tuple]) -> None:
        # lookups give (id, email, external_id, last_activity_at); creations the first three
        for pk, email, external_id, *read in rows:
            if external_id:
                by_external[external_id] = pk
            if email:
                by_email[email] = pk
            external_of[pk] = external_id
            last_activity[pk] = read[0] if read else None

    remember(
        _contacts_lookup(
            {e.external_id for e in events if e.external_id}, {e.email for e in events if e.email}
        )
    )
    # (email, external_id) of the contacts to create, by what identifies them
    to_create: dict[tuple, tuple[str | None, str | None]] = {}
    to_link: dict[int, str] = {}
    for event in events:
        if event.external_id and event.external_id in by_external:
            continue
        if event.email and event.email in by_email:
            pk = by_email[event.email]
            if event.external_id and external_of.get(pk) is None:
                # Linked now for the rest of the batch: external_id identifies first, so a
                # later event with this id and another email belongs to this contact too.
                to_link[pk] = event.external_id
                by_external[event.external_id] = pk
                external_of[pk] = event.external_id
            if not event.external_id or external_of.get(pk) == event.external_id:
                continue
            # The email belongs to a contact with another external_id: a new contact
            # identified by external_id alone.
            to_create.setdefault(("x", event.external_id), (None, event.external_id))
            continue
        identity = ("x", event.external_id) if event.external_id else ("e", event.email)
        to_create.setdefault(identity, (event.email, event.external_id))
    # Sorted, so concurrent batches take the rows and unique-index entries in one order.
    for pk, external_id in sorted(to_link.items()):
        try:
            with transaction.atomic():
                Contact.objects.filter(pk=pk, external_id__isnull=True).update(
                    external_id=external_id
                )
        except IntegrityError:
            pass  # a concurrent writer gave this id to another contact: the re-read finds it
    # Sorted too, and only what a concurrent creator took first needs reading back.
    missing = [identity for _, identity in sorted(to_create.items())]
    if missing:
        remember(_contacts_create(missing, now))
        missing = [
            (email, external_id)
            for email, external_id in missing
            if (external_id and external_id not in by_external)
            or (not external_id and email not in by_email)
        ]
    if missing or to_link:
        remember(
            _contacts_lookup(
                {external_id for _, external_id in missing if external_id} | set(to_link.values()),
                {email for email, _ in missing if email},
            )
        )

    ids = []
    for event in events:
        pk = by_external.get(event.external_id) if event.external_id else None
        if pk is None and event.email:
            pk = by_email.get(event.email)
        if pk is None:
            raise RuntimeError(f"contact for event {event.name!r} could not be resolved")
        ids.append(pk)
    return ids, last_activity


def _insert_events_postgresql(events, contact_ids, source, now) -> list[StoredEvent]:
    ingest_postgresql.constraints_check_now()
    pairs = list(zip(events, contact_ids, strict=True))
    keyless = [(e, c) for e, c in pairs if not e.idempotency_key]
    keyed = [(e, c) for e, c in pairs if e.idempotency_key]
    keyless_ids = iter(
        ingest_postgresql.events_insert_keyless(
            **_event_columns(keyless), source=source, received_at=now
        )
        if keyless
        else []
    )
    keyed_ids = (
        ingest_postgresql.events_insert_keyed(
            **_event_columns(keyed),
            idempotency_keys=[e.idempotency_key for e, _ in keyed],
            source=source,
            received_at=now,
        )
        if keyed
        else {}
    )
    return _match_results(events, contact_ids, source, keyed_ids, keyless_ids)


def _event_columns(pairs: list[tuple[EventInput, int]]) -> dict[str, list]:
    """The column arrays of (event, contact id) pairs, as the insert statements take them."""
    return {
        "contact_ids": [contact_id for _, contact_id in pairs],
        "names": [e.name for e, _ in pairs],
        "properties_json": [e.properties_as_json() for e, _ in pairs],
        "occurred_at": [e.occurred_at for e, _ in pairs],
    }


def _insert_events_portable(events, contact_ids, source, now) -> list[StoredEvent]:
    keys = {e.idempotency_key for e in events if e.idempotency_key}
    seen = set(
        Event.objects.filter(source=source, idempotency_key__in=keys).values_list(
            "idempotency_key", flat=True
        )
    )
    rows, kept_keys = [], set()
    for event, contact_id in zip(events, contact_ids, strict=True):
        key = event.idempotency_key
        if key is not None and (key in seen or key in kept_keys):
            continue
        if key is not None:
            kept_keys.add(key)
        rows.append(
            Event(
                contact_id=contact_id,
                name=event.name,
                properties=event.properties,
                occurred_at=event.occurred_at,
                received_at=now,
                source=source,
                idempotency_key=key,
            )
        )
    created = Event.objects.bulk_create(rows)
    keyed_ids = {e.idempotency_key: e.pk for e in created if e.idempotency_key is not None}
    keyless_ids = iter(e.pk for e in created if e.idempotency_key is None)
    return _match_results(events, contact_ids, source, keyed_ids, keyless_ids)


def _match_results(events, contact_ids, source, keyed_ids, keyless_ids) -> list[StoredEvent]:
    results: list[StoredEvent] = []
    claimed: set[str] = set()
    duplicate_keys = {
        e.idempotency_key
        for e in events
        if e.idempotency_key is not None and e.idempotency_key not in keyed_ids
    }
    existing = (
        dict(
            Event.objects.filter(source=source, idempotency_key__in=duplicate_keys).values_list(
                "idempotency_key", "pk"
            )
        )
        if duplicate_keys
        else {}
    )
    for event, contact_id in zip(events, contact_ids, strict=True):
        key = event.idempotency_key
        if key is None:
            results.append(StoredEvent(next(keyless_ids), contact_id, duplicate=False))
        elif key in keyed_ids and key not in claimed:
            claimed.add(key)
            results.append(StoredEvent(keyed_ids[key], contact_id, duplicate=False))
        else:
            results.append(StoredEvent(existing.get(key) or keyed_ids[key], contact_id, True))
    return results


def _latest_activity(fresh: list[tuple[EventInput, StoredEvent]]) -> dict[int, dt.datetime]:
    """Per contact, the latest occurred_at of its new activity events."""
    latest: dict[int, dt.datetime] = {}
    for event, stored in fresh:
        if event.name in NOT_ACTIVITY:
            continue
        current = latest.get(stored.contact_id)
        if current is None or event.occurred_at > current:
            latest[stored.contact_id] = event.occurred_at
    return latest


def _activity_advanced(
    latest: dict[int, dt.datetime], before: dict[int, float | None], now: dt.datetime
) -> dict[int, dt.timedelta | None]:
    """{contact id: how long it had been idle at `now`, None if never active} of the contacts
    whose last_activity_at `latest` moves forward (contacts_changed's `activity`), from
    `before`, the values (Unix seconds) the contacts' lookup read without a lock: a concurrent
    writer may have moved one meanwhile, which only makes that contact look idler than it
    was, so it is re-evaluated for more, never for less."""
    advanced: dict[int, dt.timedelta | None] = {}
    now_seconds = now.timestamp()
    for pk, at in latest.items():
        previous = before.get(pk)
        if previous is None:
            advanced[pk] = None
        elif previous < at.timestamp():
            advanced[pk] = dt.timedelta(seconds=now_seconds - previous)
    return advanced


def _advance_last_activity(latest: dict[int, dt.datetime]) -> None:
    if not latest:
        return
    if connection.vendor == "postgresql":
        ingest_postgresql.contacts_advance_last_activity(latest=latest)
        return
    for pk in sorted(latest):  # one lock order for every writer
        at = latest[pk]
        Contact.objects.filter(pk=pk).filter(
            Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=at)
        ).update(last_activity_at=at)
