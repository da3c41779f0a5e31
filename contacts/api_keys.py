"""API keys: random secrets shown once, stored as SHA-256 digests.

The key carries 256 bits of entropy, so a fast hash is enough (no password stretching):
the lookup is one indexed equality on the digest.

A valid key is remembered in process for CACHE_SECONDS, so a burst of requests costs one
lookup per key and worker instead of one per request. The price: a key revoked in the admin
keeps working for up to CACHE_SECONDS in the processes that have just seen it. Unknown and
revoked keys are never remembered, so the cache holds at most one entry per valid key and a
new key works at once.
"""

import hashlib
import secrets
import time

from django.utils import timezone

from contacts.models import ApiKey

KEY_PREFIX = "sf_"
CACHE_SECONDS = 30.0
# Recording every use would write on every request; once a minute says enough.
LAST_USED_RESOLUTION_SECONDS = 60

# digest -> (when it was looked up, by time.time(), the key's row)
_checked: dict[str, tuple[float, ApiKey]] = {}


def _digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_create(*, name: str) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw key, which is not stored anywhere."""
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(name=name, prefix=raw_key[:10], key_hash=_digest(raw_key))
    return api_key, raw_key


def api_key_check(raw_key: str) -> ApiKey | None:
    """The key's row when the key is valid (not revoked, as of at most CACHE_SECONDS ago)."""
    if not raw_key.startswith(KEY_PREFIX) or len(raw_key) > 200:
        return None
    digest = _digest(raw_key)
    checked_at = time.time()
    cached = _checked.get(digest)
    # A clock set back must not stretch the window: an entry "from the future" is stale too.
    if cached is not None and 0 <= checked_at - cached[0] < CACHE_SECONDS:
        return cached[1]
    api_key = ApiKey.objects.filter(key_hash=digest, revoked_at__isnull=True).first()
    if api_key is None:
        _checked.pop(digest, None)
        return None
    now = timezone.now()
    last_used = api_key.last_used_at
    if last_used is None or (now - last_used).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    _checked[digest] = (checked_at, api_key)
    return api_key


def api_key_revoke(*, api_key: ApiKey, now) -> None:
    """Revoke the key (again: no change). This process forgets it at once; others within
    CACHE_SECONDS."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
    _checked.pop(api_key.key_hash, None)
