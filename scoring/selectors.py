"""Reads of scoring: a contact's ledger, and the drift between scores and the ledger."""

from django.db import connection
from django.db.models import QuerySet

from scoring.models import ScoreLedgerEntry


def contact_ledger(*, contact_id: int) -> QuerySet[ScoreLedgerEntry]:
    """The contact's ledger rows, newest first (the ledger index serves it)."""
    return (
        ScoreLedgerEntry.objects.filter(contact_id=contact_id)
        .select_related("rule")
        .order_by("-created_at", "-id")
    )


_DRIFT_SQL = f"""
SELECT c.id, c.lead_score, coalesce(l.total, 0) AS ledger
FROM contacts_contact c
LEFT JOIN (
    SELECT contact_id, sum(delta) AS total FROM {ScoreLedgerEntry._meta.db_table}
    GROUP BY contact_id
) l ON l.contact_id = c.id
WHERE c.lead_score <> coalesce(l.total, 0)
ORDER BY c.id
"""


def score_drift() -> list[tuple[int, int, int]]:
    """(contact id, lead_score, ledger sum) of every contact whose score is not its ledger's
    sum; one query."""
    with connection.cursor() as cursor:
        cursor.execute(_DRIFT_SQL)
        return [tuple(row) for row in cursor.fetchall()]
