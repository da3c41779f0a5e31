"""Group commit of single-event POSTs: concurrent requests of one process share a transaction.

Every single POST must commit before its 202. Per commit the app pays a WAL flush, a round
trip per receiver row (segments', scoring's, flows' pending rows) and one to three wake-up
checks on Redis after it; a group pays them once for all its events (the batch path: about
nine statements for a group instead of about six per event). With several request threads per
process (gunicorn gthread), `event_store` lets concurrent requests share them, leader/follower
style, without a thread of its own:

* a request queues its parsed event; if no leader is active it becomes the leader, takes
  everything queued (its own event included) and stores it with the batch path
  (`events_ingest`) in one transaction, on its own connection;
* the others wait; the leader hands each its own StoredEvent (or tells it to retry) once the
  transaction committed, so a 202 still means "committed";
* if more queued meanwhile, the leader promotes one of them to lead the next group and returns:
  no thread serves more than one group, so a request waits at most for the group in flight and
  its own;
* a group that fails (any exception) is retried event by event, each by its own request thread
  in its own transaction: one bad event fails alone, as it did before grouping.

Replays of an idempotency key are the batch path's: `duplicate: true` with the original id, also
for two requests with one key in the same group. One thread per process (sync workers), SQLite,
or a caller already inside a transaction (tests) take the path of old: one event, one commit.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection

from contacts.ingest import EventInput, StoredEvent, events_ingest

__all__ = ["event_store"]

# The group's outcome for one waiter: stored, retry alone, or lead the next group.
_STORED, _RETRY, _LEAD = "stored", "retry", "lead"


@dataclass(slots=True, eq=False)
class _Waiter:
    event: EventInput
    outcome: str | None = None
    stored: StoredEvent | None = None
    ready: threading.Event = field(default_factory=threading.Event)

    def hand(self, outcome: str, stored: StoredEvent | None = None) -> None:
        self.outcome, self.stored = outcome, stored
        self.ready.set()


_lock = threading.Lock()
_queued: list[_Waiter] = []
_leading = False

# Tests observe the groups here (called by the leader with each group's events, before
# storing them); None in production.
group_hook: Callable[[list[EventInput]], None] | None = None


def event_store(*, event: EventInput) -> StoredEvent:
    """Store one event; returns once it is committed (grouped with concurrent ones)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        [stored] = events_ingest(events=[event])
        return stored
    global _leading
    waiter = _Waiter(event)
    with _lock:
        _queued.append(waiter)
        lead = not _leading
        _leading = True
    if not lead:
        waiter.ready.wait()
        if waiter.outcome == _LEAD:
            _group_lead()
    else:
        _group_lead()
    if waiter.outcome == _STORED:
        return waiter.stored
    [stored] = events_ingest(events=[event])  # its group failed: this event alone
    return stored


def queued_count() -> int:
    """Events waiting for a leader (tests use it to gather a group without timing)."""
    with _lock:
        return len(_queued)


def _group_lead() -> None:
    """Store everything queued (the leader's own event included) in one transaction, hand
    each waiter its result, then pass the lead on to a waiter queued meanwhile, if any."""
    global _leading
    with _lock:
        group = _queued[:]
        _queued.clear()
    results = None
    try:
        if group_hook is not None:
            group_hook([w.event for w in group])
        results = events_ingest(events=[w.event for w in group])
    except Exception:
        if len(group) == 1:
            raise  # the leader's event alone: its error, as without grouping
    finally:
        # Whatever happened (even an exception that is not an Exception), no waiter is left
        # waiting: each is answered, or stores its event alone if the group failed.
        for index, waiter in enumerate(group):
            if results is None:
                waiter.hand(_RETRY)
            else:
                waiter.hand(_STORED, results[index])
        with _lock:
            if _queued:
                _queued[0].hand(_LEAD)  # it takes the queue, itself included
            else:
                _leading = False
