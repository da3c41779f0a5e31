"""Writes of the score ledger. Every score change goes through here or through a set-based
statement of scoring.event_scoring / conditions / decay that keeps the same invariant: the
ledger rows and the `lead_score` update are written in one transaction, so `lead_score` is
always the sum of the contact's rows (scoring.recompute checks it).

The contacts' rows are locked in id order before the rows are written, so concurrent score
writers (and the ingest's last_activity_at update, also in id order) queue instead of
deadlocking; the score moves by `lead_score + delta` in SQL, so concurrent changes add up.
"""

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from contacts.models import Contact
from contacts.signals import notify_contacts_changed
from scoring.models import ScoreLedgerEntry

SCORE_CHANGE = "field:lead_score"
MAX_REASON_LENGTH = 200


def contacts_lock(contact_ids: Iterable[int] | QuerySet) -> list[int]:
    """Lock these contacts' rows in id order (inside a transaction); the ids that exist.
    A queryset of ids is used as a subquery (one statement)."""
    ids = contact_ids if isinstance(contact_ids, QuerySet) else sorted(set(contact_ids))
    if not isinstance(ids, QuerySet) and not ids:
        return []
    return list(
        Contact.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def scores_adjust(
    *,
    contact_ids: Iterable[int],
    delta: int,
    reason: str,
    rule_id: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Add `delta` to each contact's score with a ledger row each (three statements for the
    whole set); returns how many contacts exist among those given."""
    return len(_adjust(contact_ids, delta=delta, reason=reason, rule_id=rule_id, now=now))


def contact_score_adjust_manual(
    *, contact_id: int, delta: int, reason: str, now: dt.datetime | None = None
) -> ScoreLedgerEntry | None:
    """A manual adjustment (API): its ledger row, or None when the contact does not exist."""
    label = f"manual: {reason.strip()}" if reason.strip() else "manual"
    entries = _adjust([contact_id], delta=delta, reason=label, rule_id=None, now=now)
    return entries[0] if entries else None


def _adjust(
    contact_ids: Iterable[int],
    *,
    delta: int,
    reason: str,
    rule_id: int | None,
    now: dt.datetime | None,
) -> list[ScoreLedgerEntry]:
    if not delta:
        return []
    now = now or timezone.now()
    with transaction.atomic():
        ids = contacts_lock(contact_ids)
        if not ids:
            return []
        entries = ScoreLedgerEntry.objects.bulk_create(
            ScoreLedgerEntry(
                contact_id=pk,
                rule_id=rule_id,
                delta=delta,
                reason=reason[:MAX_REASON_LENGTH],
                created_at=now,
            )
            for pk in ids
        )
        Contact.objects.filter(pk__in=ids).update(lead_score=F("lead_score") + delta)
        notify_contacts_changed(ids, [SCORE_CHANGE])
    return entries
