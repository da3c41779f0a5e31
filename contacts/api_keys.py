"""API keys: random secrets shown once, stored as SHA-256 digests.

The key carries 256 bits of entropy, so a fast hash is enough (no password stretching):
the lookup is one indexed equality on the digest.
"""

import hashlib
import secrets

from django.utils import timezone

from contacts.models import ApiKey

KEY_PREFIX = "sf_"


def _digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_create(*, name: str) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw key, which is not stored anywhere."""
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(name=name, prefix=raw_key[:10], key_hash=_digest(raw_key))
    return api_key, raw_key


def api_key_check(raw_key: str) -> ApiKey | None:
    if not raw_key.startswith(KEY_PREFIX) or len(raw_key) > 200:
        return None
    api_key = ApiKey.objects.filter(key_hash=_digest(raw_key), revoked_at__isnull=True).first()
    if api_key is None:
        return None
    now = timezone.now()
    # Recording every use would write on every request; once a minute says enough.
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return api_key
