"""`contacts_changed` tells other apps (segments) which contacts changed and in what way.

Sent inside the transaction that made the change: receivers write what they must remember
(segments' pending-change rows) in that same transaction, so a rolled-back write is never
announced and a committed one is never lost, even when the process dies just after the commit.
Receivers defer side effects that must follow the commit (a Celery publish) with on_commit.
`changes` holds strings such as "field:email", "fields.plan", "tags", "subscriptions",
"event:login". `events` says, per contact, which events the write stored (new ones, not
replays of an idempotency key): {contact_id: [(event_id, name), ...]}, empty for writes that
store no event. Consumers that act on events (flows enroll on them, once per event id) read
it there; segments re-evaluate each contact for its own events' names only. `activity` says,
for a write of events, which contacts' last_activity_at it advanced and how long each had
been idle before ({contact_id: timedelta, None if never active}); None when the writer does
not know (receivers then assume every contact named was advanced after being idle for ever).

`contacts_deleting` is sent inside the deleting transaction, before the rows go: receivers
still see what the contacts belong to (segments write their `left` transitions).
"""

import contextvars
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from django.dispatch import Signal

contacts_changed = Signal()
contacts_deleting = Signal()

# Set inside `contacts_changed_coalesced()`: change kinds -> contact ids to send at its end.
_coalescing: contextvars.ContextVar[dict[frozenset[str], set[int]] | None] = contextvars.ContextVar(
    "contacts_changed_coalescing", default=None
)


def notify_contacts_changed(
    contact_ids: Iterable[int],
    changes: Iterable[str],
    events: Mapping[int, Sequence[tuple[int, str]]] | None = None,
    activity: Mapping[int, dt.timedelta | None] | None = None,
) -> None:
    """Announce a change; call it inside the transaction that made it. Event writers pass
    `events` and `activity` and announce their whole batch at once (never coalesced)."""
    ids = sorted(set(contact_ids))
    kinds = frozenset(changes)
    if not ids or not kinds:
        return
    pending = _coalescing.get()
    if pending is not None and not events:
        pending.setdefault(kinds, set()).update(ids)
        return
    contacts_changed.send(
        sender=None, contact_ids=ids, changes=kinds, events=events or {}, activity=activity
    )


def notify_contacts_deleting(contact_ids: Iterable[int]) -> None:
    """Announce a deletion inside the deleting transaction, before deleting."""
    ids = sorted(set(contact_ids))
    if ids:
        contacts_deleting.send(sender=None, contact_ids=ids)


@contextmanager
def contacts_changed_coalesced() -> Iterator[None]:
    """Bulk writers (CSV import) wrap a transaction's writes in this: at its end, still inside
    the transaction, one signal per kind of change carries all the contacts instead of one
    signal per write. A write rolled back to a savepoint inside the block is announced all
    the same; that costs its contact one needless re-evaluation, nothing more."""
    pending: dict[frozenset[str], set[int]] = {}
    token = _coalescing.set(pending)
    try:
        yield
    finally:
        _coalescing.reset(token)
    for kinds, ids in pending.items():
        contacts_changed.send(sender=None, contact_ids=sorted(ids), changes=kinds, events={})
