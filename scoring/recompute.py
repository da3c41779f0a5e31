"""Recomputing lead_score from the ledger: the drift report and its fix, in SQL."""

from dataclasses import dataclass

from django.db import connection, transaction

from contacts.signals import notify_contacts_changed
from scoring.ledger import SCORE_CHANGE
from scoring.models import ScoreLedgerEntry
from scoring.selectors import score_drift

_FIX_SQL = f"""
WITH sums AS (
    SELECT c.id, coalesce(l.total, 0) AS total
    FROM contacts_contact c
    LEFT JOIN (
        SELECT contact_id, sum(delta) AS total FROM {ScoreLedgerEntry._meta.db_table}
        GROUP BY contact_id
    ) l ON l.contact_id = c.id
    WHERE c.id = ANY(%s)
    ORDER BY c.id
    FOR UPDATE OF c
)
UPDATE contacts_contact AS c SET lead_score = s.total
FROM sums s WHERE c.id = s.id AND c.lead_score <> s.total
RETURNING c.id
"""


@dataclass(frozen=True, slots=True)
class Drift:
    contacts: int
    total: int  # sum of |lead_score - ledger sum|
    samples: list[tuple[int, int, int]]
    fixed: int = 0


def scores_recompute(*, fix: bool, sample_size: int = 10) -> Drift:
    """Compare every contact's score with its ledger's sum; with `fix`, set the drifted
    scores to the sum (rows locked in id order, re-summed under the lock) and announce it."""
    drifted = score_drift()
    total = sum(abs(score - ledger) for _, score, ledger in drifted)
    fixed = 0
    if fix and drifted:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_FIX_SQL, [[pk for pk, _, _ in drifted]])
            moved = [pk for (pk,) in cursor.fetchall()]
            notify_contacts_changed(moved, [SCORE_CHANGE])
        fixed = len(moved)
    return Drift(contacts=len(drifted), total=total, samples=drifted[:sample_size], fixed=fixed)
