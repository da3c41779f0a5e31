"""Signed tokens in links of sent emails (unsubscribe /u/<token>, preferences /p/<token>).

A token carries the contact id and the message id, signed with SECRET_KEY and a salt per
purpose (an unsubscribe token is no preferences token). Tokens do not expire: links in old
emails keep working. A token that does not verify reads as None (the page answers 404).
"""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing

UNSUBSCRIBE_SALT = "segflow.email.unsubscribe"
PREFERENCES_SALT = "segflow.email.preferences"
_MAX_TOKEN_LENGTH = 500


@dataclass(frozen=True, slots=True)
class LinkToken:
    contact_id: int | None  # None for a test send without a contact
    message_id: int | None


def _dumps(*, contact_id: int | None, message_id: int | None, salt: str) -> str:
    return signing.Signer(salt=salt).sign_object([contact_id, message_id])


def _loads(token: str, *, salt: str) -> LinkToken | None:
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH:
        return None
    try:
        value = signing.Signer(salt=salt).unsign_object(token)
    except (signing.BadSignature, ValueError):  # ValueError: not JSON once verified
        return None
    if not (isinstance(value, list) and len(value) == 2):
        return None
    contact_id, message_id = value
    for item in value:
        if item is not None and (not isinstance(item, int) or isinstance(item, bool)):
            return None
    return LinkToken(contact_id=contact_id, message_id=message_id)


def unsubscribe_token(*, contact_id: int | None, message_id: int | None) -> str:
    return _dumps(contact_id=contact_id, message_id=message_id, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token_read(token: str) -> LinkToken | None:
    return _loads(token, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(*, contact_id: int | None, message_id: int | None) -> str:
    return (
        f"{settings.SITE_URL}/u/{unsubscribe_token(contact_id=contact_id, message_id=message_id)}"
    )


def preferences_token(*, contact_id: int | None, message_id: int | None) -> str:
    return _dumps(contact_id=contact_id, message_id=message_id, salt=PREFERENCES_SALT)


def preferences_token_read(token: str) -> LinkToken | None:
    return _loads(token, salt=PREFERENCES_SALT)


def preferences_url(*, contact_id: int | None, message_id: int | None) -> str:
    return (
        f"{settings.SITE_URL}/p/{preferences_token(contact_id=contact_id, message_id=message_id)}"
    )
