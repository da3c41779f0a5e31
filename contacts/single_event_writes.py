"""What the receivers of `contacts_changed` write for one stored event, as SQL the single-event
ingest runs in its own statement.

The single-event POST is the busiest request. Through the signal, each receiver (segments'
pending changes, scoring's and flows' outboxes) wrote its rows with a statement of its own
after the event's, inside a transaction: up to five round trips and most of the request's
CPU (docs/benchmarks.md). A receiver that registers a writer here says instead, for an event
name, which row it would write as a data-modifying CTE over the statement's `outcome` row:

    outcome(event_id bigint, contact_id bigint, advanced boolean, previous_activity timestamptz)

(`advanced`: last_activity_at moved forward; `previous_activity`: its value before, NULL for a
new or never active contact). `outcome` has a row only when the event was stored (not a
replay of its idempotency key), so the receivers' rows commit with the event, in one
statement that is its own transaction, exactly when the signal would have been sent.

Every receiver of the signal must have a writer (registered under its dispatch_uid) for the
single statement to be used; when one has none (a receiver connected by a test or a plugin),
the ingest takes the signal's path.
"""

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from contacts.signals import contacts_changed


@dataclass(frozen=True)
class SingleEventWrite:
    """One receiver's part: `sql`, an INSERT ... SELECT ... FROM outcome, with named
    parameters (`params`, keys prefixed with the receiver's name: all parts share one
    statement); `wake`, a task to wake once the row commits; `after_commit(contact_id)`, what
    the receiver did after the commit on the signal's path."""

    sql: str = ""
    params: dict | None = None
    wake: str | None = None
    after_commit: Callable[[int], None] | None = None


# (dispatch_uid, name, now) -> the receiver's part, or None when it writes nothing for it
SingleEventWriter = Callable[..., SingleEventWrite | None]
_writers: dict[str, SingleEventWriter] = {}


def single_event_writer_register(dispatch_uid: str, writer: SingleEventWriter) -> None:
    """`writer(name=..., now=...)` stands for the contacts_changed receiver connected with
    this dispatch_uid when one event is stored."""
    _writers[dispatch_uid] = writer


def single_event_writes(*, name: str, now: dt.datetime) -> Sequence[SingleEventWrite] | None:
    """The receivers' parts for one stored event named `name`, or None when a receiver of
    contacts_changed has no writer (the caller then sends the signal)."""
    writes = []
    for lookup_key, *_ in contacts_changed.receivers:
        writer = _writers.get(lookup_key[0]) if isinstance(lookup_key[0], str) else None
        if writer is None:
            return None
        write = writer(name=name, now=now)
        if write is not None:
            writes.append(write)
    return writes
