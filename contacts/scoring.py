"""Lead score changes. The score is updated in the database (lead_score + delta), so
concurrent adjustments add up instead of overwriting each other, and every change is
announced like any other contact write (segments on lead_score follow)."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F

from contacts.models import Contact
from contacts.signals import notify_contacts_changed

SCORE_CHANGE = "field:lead_score"


def contact_score_adjust(*, contact_id: int, delta: int, reason: str) -> None:
    """Add `delta` (negative to lower) to one contact's lead score."""
    contacts_score_adjust(contact_ids=[contact_id], delta=delta, reason=reason)


def contacts_score_adjust(*, contact_ids: Iterable[int], delta: int, reason: str) -> int:
    """Add `delta` to the lead score of every contact given, in one statement; returns how
    many contacts exist among them. `reason` says what adjusted it (a flow step, a rule)."""
    ids = sorted(set(contact_ids))
    if not ids or not delta:
        return 0
    with transaction.atomic():
        updated = Contact.objects.filter(pk__in=ids).update(lead_score=F("lead_score") + delta)
        notify_contacts_changed(ids, [SCORE_CHANGE])
    return updated
