"""`contacts_changed` tells other apps (segments) which contacts changed and in what way.

Sent after commit, never inside a transaction that may still roll back. `changes` holds
strings such as "field:email", "fields.plan", "tags", "subscriptions", "event:login".
"""

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import transaction
from django.dispatch import Signal

contacts_changed = Signal()

# Set inside `contacts_changed_coalesced()`: change kinds -> contact ids to send at commit.
_coalescing: contextvars.ContextVar[dict[frozenset[str], set[int]] | None] = contextvars.ContextVar(
    "contacts_changed_coalescing", default=None
)


def notify_contacts_changed(contact_ids: Iterable[int], changes: Iterable[str]) -> None:
    ids = sorted(set(contact_ids))
    kinds = frozenset(changes)
    if not ids or not kinds:
        return
    pending = _coalescing.get()
    if pending is not None:
        # Still an on-commit callback, so a write rolled back (savepoint) is never announced.
        transaction.on_commit(lambda: pending.setdefault(kinds, set()).update(ids))
        return
    transaction.on_commit(
        lambda: contacts_changed.send(sender=None, contact_ids=ids, changes=kinds), robust=True
    )


@contextmanager
def contacts_changed_coalesced() -> Iterator[None]:
    """Bulk writers (CSV import) wrap a transaction's writes in this: after commit, one signal
    per kind of change carries all the contacts, instead of one signal per write."""
    pending: dict[frozenset[str], set[int]] = {}
    token = _coalescing.set(pending)
    try:
        yield
    finally:
        _coalescing.reset(token)

    def send() -> None:
        for kinds, ids in pending.items():
            contacts_changed.send(sender=None, contact_ids=sorted(ids), changes=kinds)

    # Registered last, so it runs after the callbacks that filled `pending`.
    transaction.on_commit(send, robust=True)
