"""Draining the queue of changed contacts: incrementally (segments.scheduler), or, when the
queue is large relative to the contacts table, by evaluating the affected segments fully.

An incremental batch re-evaluates ~500 contacts in every affected segment; its cost grows
with the number of queued contacts, while a full evaluation costs the same whatever the queue
holds. After a burst (an import, a replayed backlog), draining 100,000 contacts 500 at a time
through 100 segments is 200 x 100 incremental queries; 100 full evaluations do the same work
in a fraction of the time (docs/benchmarks.md, backlog phase).

On PostgreSQL, while the queued contacts are a minority of the table, each affected segment
is evaluated once for all of them (its contacts whose own changes can move it) instead of
for everyone: the event windows are scanned once either way, but the per-contact work and
the membership diff cover the queued contacts only (docs/benchmarks.md, backlog phase).

Why this is safe without holding the queued rows locked for minutes: each evaluation runs
in a transaction that starts after the queued rows were read, so it sees every change
those rows announce (they committed with the change). Only the rows read are deleted, and
only those no incremental worker holds; a crash in between leaves them queued, and running
them again changes nothing.
"""

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection

from contacts.models import Contact
from segments.dependencies import is_affected
from segments.models import PendingContactChange, Segment
from segments.scheduler import contact_changes_process, contacts_reevaluate, segments_refresh
from segments.signals import transitions_announce_on_commit

logger = logging.getLogger(__name__)

# Full evaluations win once the queue holds more than about 1 % of all contacts (an
# incremental query per ~500 contacts vs. one full scan; docs/benchmarks.md), and never for
# a queue of a few writes.
BULK_SHARE = 0.01
BULK_MIN_CONTACTS = 2_000
# Past this share of the contacts, a bulk drain evaluates the affected segments for everyone
# (the diff of the whole segment costs about what the queued contacts' share of it does).
FULL_SHARE = 0.5
# Session-level advisory lock key: one bulk drain at a time (others keep draining
# incrementally meanwhile). Any constant unique within Segflow.
_BULK_LOCK_KEY = 0x5E6F_0001

_PENDING = PendingContactChange._meta.db_table


@dataclass(frozen=True, slots=True)
class BulkDrain:
    contacts: int  # queued contacts covered, with repeats
    segments: int  # segments evaluated (readers of changed segments included)


def contact_changes_drain(*, now: dt.datetime) -> int:
    """Drain the queue (the Celery task's body): in bulk first when it is large, then
    incrementally for whatever arrived meanwhile. Returns the contacts processed."""
    bulk = contact_changes_drain_in_bulk(now=now)
    drained = bulk.contacts if bulk else 0
    return drained + contact_changes_process(now=now)


def queue_is_large(*, queued_contacts: int) -> bool:
    if queued_contacts < BULK_MIN_CONTACTS:
        return False
    return queued_contacts > BULK_SHARE * _contacts_estimate()


def contact_changes_drain_in_bulk(*, now: dt.datetime) -> BulkDrain | None:
    """When the queue is large, evaluate every segment its changes affect fully, then delete
    the rows read. None when the queue is small or another worker is already doing this."""
    if not queue_is_large(queued_contacts=_queued_contacts()):
        return None
    with _bulk_lock() as acquired:
        if not acquired:
            return None
        queue = PendingContactChange.objects.values_list(
            "pk", "contact_count", "contact_ids", "changes"
        )
        rows = list(queue)
        queued = sum(count for _, count, _, _ in rows)
        changes_by_contact: dict[int, set[str]] = defaultdict(set)
        for _, _, contact_ids, changes in rows:
            for contact_id in contact_ids:
                changes_by_contact[contact_id].update(changes)
        if _evaluates_queued_contacts_only(len(changes_by_contact)):
            logger.info("Backlog of %d queued contacts: evaluating them in bulk", queued)
            results = contacts_reevaluate(changes_by_contact=changes_by_contact, now=now)
            if any(result.changed for result in results.values()):
                transitions_announce_on_commit()
        else:
            changes = set().union(*changes_by_contact.values())
            candidates = Segment.objects.filter(last_evaluated_at__isnull=False, failed_at=None)
            affected = [s for s in candidates if is_affected(s.dependency_keys, changes)]
            logger.info(
                "Backlog of %d queued contacts: evaluating %d segments fully", queued, len(affected)
            )
            results = segments_refresh(segments=affected, now=now)
        _delete_unclaimed([pk for pk, _, _, _ in rows])
    return BulkDrain(contacts=queued, segments=len(results))


def _evaluates_queued_contacts_only(distinct_contacts: int) -> bool:
    """PostgreSQL, and the queued contacts a minority: one evaluation per segment for them.
    SQLite keeps full evaluations (its statements cap their parameters)."""
    if connection.vendor != "postgresql":
        return False
    return distinct_contacts <= FULL_SHARE * _contacts_estimate()


def _queued_contacts() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(sum(contact_count), 0) FROM {_PENDING}")
        return cursor.fetchone()[0]


def _contacts_estimate() -> int:
    """The planner's row estimate on PostgreSQL: counting a large table is a full scan."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [Contact._meta.db_table],
            )
            estimate = cursor.fetchone()[0]
        if estimate >= 0:  # -1: never analysed
            return estimate
    return Contact.objects.count()


def _delete_unclaimed(row_ids: list[int]) -> None:
    """Delete the rows read, except those an incremental worker holds (it deletes them)."""
    if not row_ids:
        return
    if not connection.features.has_select_for_update_skip_locked:
        PendingContactChange.objects.filter(pk__in=row_ids).delete()
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {_PENDING} WHERE id IN ("
            f"SELECT id FROM {_PENDING} WHERE id = ANY(%s) FOR UPDATE SKIP LOCKED)",
            [row_ids],
        )


class _bulk_lock:
    """A session-level advisory lock, tried without waiting (SQLite: one writer anyway)."""

    def __enter__(self) -> bool:
        self.held = False
        if connection.vendor != "postgresql":
            return True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [_BULK_LOCK_KEY])
            self.held = cursor.fetchone()[0]
        return self.held

    def __exit__(self, *exc_info) -> None:
        if self.held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_BULK_LOCK_KEY])
