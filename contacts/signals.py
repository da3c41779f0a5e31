"""`contacts_changed` tells other apps (segments) which contacts changed and in what way.

Sent after commit, never inside a transaction that may still roll back. `changes` holds
strings such as "field:email", "fields.plan", "tags", "subscriptions", "event:login".
"""

from collections.abc import Iterable

from django.db import transaction
from django.dispatch import Signal

contacts_changed = Signal()


def notify_contacts_changed(contact_ids: Iterable[int], changes: Iterable[str]) -> None:
    ids = sorted(set(contact_ids))
    kinds = frozenset(changes)
    if not ids or not kinds:
        return
    transaction.on_commit(
        lambda: contacts_changed.send(sender=None, contact_ids=ids, changes=kinds), robust=True
    )
