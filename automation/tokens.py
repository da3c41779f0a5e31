"""Signed tokens in links of sent emails (unsubscribe /u/<token>, preferences /p/<token>,
open pixel /t/o/<token>, click redirect /t/c/<token>).

A token carries the contact id and the message id, signed with SECRET_KEY and a salt per
purpose (an unsubscribe token is no preferences token); a tracking token carries the message
id, a click's also the exact URL of the link (so a click redirects only there). Tokens do not
expire: links in old emails keep working. A token that does not verify reads as None (the
page answers 404).
"""

import functools
import hashlib
import hmac
import json
import zlib
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils.encoding import force_bytes

UNSUBSCRIBE_SALT = "segflow.email.unsubscribe"
PREFERENCES_SALT = "segflow.email.preferences"
_MAX_TOKEN_LENGTH = 500


@dataclass(frozen=True, slots=True)
class LinkToken:
    contact_id: int | None  # None for a test send without a contact
    message_id: int | None


def _dumps(*, contact_id: int | None, message_id: int | None, salt: str) -> str:
    """`Signer(salt=salt).sign_object([contact_id, message_id])`, signed the fast way (every
    message carries two of these)."""
    ids = [None if i is None else int(i) for i in (contact_id, message_id)]
    return _sign_fast(json.dumps(ids, separators=(",", ":")), salt=salt)


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


# --- Tracking (automation.tracking, /t/o/<token> and /t/c/<token>) ---------------------------

OPEN_SALT = "segflow.email.open"
CLICK_SALT = "segflow.email.click"
_MAX_CLICK_TOKEN_LENGTH = 8000  # the URL rides in the token
_LONG_URL = 200  # longer URLs are compressed in their token when that is shorter


@functools.lru_cache(maxsize=8)
def _derived_key(salt: str, secret: str | bytes) -> bytes:
    """The HMAC key django.core.signing.Signer derives on every call (salted_hmac)."""
    return hashlib.sha256(f"{salt}signer".encode() + force_bytes(secret)).digest()


def _sign_fast(value_json: str, *, salt: str) -> str:
    """Exactly `Signer(salt=salt).sign_object(value)` for the JSON of value as
    sign_object writes it (compact, ASCII), read back by Signer.unsign_object; the key
    derivation done once per salt and secret: tracking signs every link of every message,
    so this is on the send path."""
    data = signing.b64_encode(value_json.encode("latin-1"))
    digest = hmac.digest(_derived_key(salt, settings.SECRET_KEY), data, "sha256")
    return f"{data.decode()}:{signing.b64_encode(digest).decode()}"


def _signer(salt: str) -> signing.Signer:
    return signing.Signer(salt=salt)  # per call: SECRET_KEY and its fallbacks as now


@dataclass(frozen=True, slots=True)
class ClickToken:
    message_id: int
    url: str


def _message_id_valid(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def open_token(*, message_id: int) -> str:
    return _sign_fast(str(int(message_id)), salt=OPEN_SALT)


def open_token_read(token: str) -> int | None:
    """The message id of an open pixel's token; None when it does not verify."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH:
        return None
    try:
        value = _signer(OPEN_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError):
        return None
    return value if _message_id_valid(value) else None


def open_url(*, message_id: int) -> str:
    return f"{settings.SITE_URL}/t/o/{open_token(message_id=message_id)}"


def click_token(*, message_id: int, url: str) -> str:
    if len(url) > _LONG_URL:  # compressing pays only for long URLs
        return _signer(CLICK_SALT).sign_object([message_id, url], compress=True)
    return _sign_fast(f"[{int(message_id)},{json.dumps(url)}]", salt=CLICK_SALT)


def click_token_read(token: str) -> ClickToken | None:
    """The message id and the exact URL of a click link's token; None when it does not
    verify (a changed URL or message id changes the signature)."""
    if not isinstance(token, str) or len(token) > _MAX_CLICK_TOKEN_LENGTH:
        return None
    try:
        value = _signer(CLICK_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, zlib.error):
        return None
    if not (isinstance(value, list) and len(value) == 2):
        return None
    message_id, url = value
    if not _message_id_valid(message_id) or not isinstance(url, str):
        return None
    return ClickToken(message_id=message_id, url=url)


def click_url(*, message_id: int, url: str) -> str:
    return f"{settings.SITE_URL}/t/c/{click_token(message_id=message_id, url=url)}"
