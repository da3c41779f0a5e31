"""A contact's email status as deliverability reports move it (ESP bounces, complaints and
unsubscribes): it only ever rises, announced like every other contact change.

Rank, lowest first: active < unsubscribed < bounced < complained. A report may raise the
status, never lower it: a "delivered" after a bounce, or an unsubscribe after a complaint,
leaves it as it was. Only people bring an address back (the preference center, the API).
The rise is one conditional UPDATE, so two reports racing on one contact cannot lower it.
"""

import logging

from django.db import transaction
from django.utils import timezone

from contacts.models import Contact, EmailStatus
from contacts.signals import notify_contacts_changed

logger = logging.getLogger(__name__)

RANK = {
    EmailStatus.ACTIVE: 0,
    EmailStatus.UNSUBSCRIBED: 1,
    EmailStatus.BOUNCED: 2,
    EmailStatus.COMPLAINED: 3,
}


def contact_email_status_set(*, contact_id: int, status: str, reason: str) -> bool:
    """Raise the contact's email_status to `status` when it ranks higher than the current
    one; True when it changed. `reason` (e.g. "Postmark hard bounce: mailbox not found")
    goes to the log; the event recorded alongside carries the details."""
    status = EmailStatus(status)
    lower = [value for value, rank in RANK.items() if rank < RANK[status]]
    with transaction.atomic():
        changed = Contact.objects.filter(pk=contact_id, email_status__in=lower).update(
            email_status=status, updated_at=timezone.now()
        )
        if changed:
            notify_contacts_changed([contact_id], ["field:email_status"])
    if changed:
        logger.info("contact %s email_status -> %s (%s)", contact_id, status, reason)
    return bool(changed)
