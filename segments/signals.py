"""`transitions_written` wakes the consumers of the transitions feed (segments.feed).

Sent after the commit of a transaction that wrote transitions (an evaluation batch, a
contact deletion), once per transaction, and every minute by beat as a safety net. It carries
nothing: a receiver enqueues its own task, which reads the feed at its own cursor. Receivers
must be quick and must not raise (they run after the commit, in the writer's process).
"""

import logging

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

transitions_written = Signal()


def transitions_announce_on_commit() -> None:
    """Wake the feed's consumers once the current transaction commits."""
    transaction.on_commit(transitions_announce)


def transitions_announce() -> None:
    for receiver, error in transitions_written.send_robust(sender=None):
        if isinstance(error, Exception):
            logger.error("transitions_written receiver %r failed", receiver, exc_info=error)
