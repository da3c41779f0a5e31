"""The double opt-in confirmation email and its signed link (/c/<token>, automation's public
pages answer it).

The token carries the contact id and the topic key, signed with SECRET_KEY and a salt of its
own (a preferences or unsubscribe token is no confirmation token); it does not expire, and
following it twice is harmless (contacts.subscriptions.contact_subscription_confirm).

The email is a plain transactional message through Django's email backend, not a row of
automation's message log (contacts does not depend on automation); it is sent only while the
contact's status for the topic is still "pending".
"""

import logging

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from contacts.models import Contact, ContactSubscription, EmailStatus, SubscriptionStatus

logger = logging.getLogger(__name__)

CONFIRM_SALT = "segflow.subscription.confirm"
_MAX_TOKEN_LENGTH = 500


def subscription_confirm_token(*, contact_id: int, topic_key: str) -> str:
    return signing.Signer(salt=CONFIRM_SALT).sign_object([contact_id, topic_key])


def subscription_confirm_token_read(token: str) -> tuple[int, str] | None:
    """(contact id, topic key), or None when the token does not verify."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH:
        return None
    try:
        value = signing.Signer(salt=CONFIRM_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError):
        return None
    if not (isinstance(value, list) and len(value) == 2):
        return None
    contact_id, topic_key = value
    if not isinstance(contact_id, int) or isinstance(contact_id, bool):
        return None
    if not isinstance(topic_key, str):
        return None
    return contact_id, topic_key


def subscription_confirm_url(*, contact_id: int, topic_key: str) -> str:
    token = subscription_confirm_token(contact_id=contact_id, topic_key=topic_key)
    return settings.SITE_URL + reverse("public-subscription-confirm", args=[token])


def subscription_confirmation_send(*, contact_id: int, topic_id: int) -> bool:
    """Send the confirmation email when the contact's status for the topic is still
    "pending" and it has an address that neither bounced nor complained; returns whether the
    backend accepted it. A backend error is logged, not raised: asking again re-sends."""
    row = (
        ContactSubscription.objects.select_related("topic", "contact")
        .filter(contact_id=contact_id, topic_id=topic_id, status=SubscriptionStatus.PENDING)
        .first()
    )
    if row is None or not row.contact.email:
        return False
    if row.contact.email_status in (EmailStatus.BOUNCED, EmailStatus.COMPLAINED):
        return False  # suppressed: no email of any kind goes there
    email = _confirmation_email(contact=row.contact, topic=row.topic)
    try:
        return bool(email.send())
    except Exception:
        logger.exception("confirmation email to contact %s for %s failed", contact_id, topic_id)
        return False


def _confirmation_email(*, contact: Contact, topic) -> EmailMultiAlternatives:
    context = {
        "topic": topic,
        "first_name": contact.first_name or "",
        "confirm_url": subscription_confirm_url(contact_id=contact.pk, topic_key=topic.key),
    }
    email = EmailMultiAlternatives(
        subject=f"Please confirm your subscription: {topic.name}",
        body=render_to_string("public/emails/confirm_subscription.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[contact.email],
    )
    email.attach_alternative(
        render_to_string("public/emails/confirm_subscription.html", context), "text/html"
    )
    return email
