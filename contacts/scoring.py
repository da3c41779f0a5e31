"""Lead score changes, for callers that only know contacts (flow steps): each change is a row
of the score ledger (scoring.ledger) written with the score in one transaction, so the score
stays the ledger's sum; concurrent adjustments add up, and every change is announced like any
other contact write (segments on lead_score follow).

The ledger lives in the scoring app, which builds on contacts: it is imported when called,
so contacts keeps no import-time dependency on it.
"""

from collections.abc import Iterable, Mapping


def contact_score_adjust(*, contact_id: int, delta: int, reason: str) -> None:
    """Add `delta` (negative to lower) to one contact's lead score."""
    contacts_score_adjust(contact_ids=[contact_id], delta=delta, reason=reason)


def contacts_score_adjust(*, contact_ids: Iterable[int], delta: int, reason: str) -> int:
    """Add `delta` to the lead score of every contact given, set-based; returns how many
    contacts exist among them. `reason` says what adjusted it (a flow step, a rule)."""
    from scoring.ledger import scores_adjust

    return scores_adjust(contact_ids=contact_ids, delta=delta, reason=reason)


def contacts_score_opening(*, scores: Mapping[int, int], reason: str) -> None:
    """Ledger rows for the scores contacts were created with (demo data), so each score is
    still its ledger's sum (`recompute_scores` finds no drift)."""
    from scoring.models import ScoreLedgerEntry

    ScoreLedgerEntry.objects.bulk_create(
        ScoreLedgerEntry(contact_id=pk, delta=score, reason=reason)
        for pk, score in scores.items()
        if score
    )
