"""Which event names active event rules score, cached per process.

The ingest path asks "does any rule score these names?" on every write, so the answer is
cached for WATCH_TTL_SECONDS (no query per request) and dropped at once in the process that
saves or deletes a rule (receivers connected in ScoringConfig.ready). Another process may
keep the old answer up to the TTL after a rule is activated: events it stores meanwhile are
not queued for scoring (docs/scoring.md); a rule applies to events stored after it is active.
"""

import threading
import time

from django.db import transaction

from scoring.models import RuleKind, ScoringRule

WATCH_TTL_SECONDS = 3.0

_clock = time.monotonic
_cache: tuple[float, frozenset[str]] | None = None
_cache_lock = threading.Lock()


def watched_load() -> frozenset[str]:
    """The names active event rules score, read now (one query)."""
    names = ScoringRule.objects.filter(kind=RuleKind.EVENT, active=True).values_list(
        "event", flat=True
    )
    return frozenset(name for name in names if name)


def watched_names() -> frozenset[str]:
    """The watched names, cached in this process for WATCH_TTL_SECONDS."""
    global _cache
    cached = _cache
    if cached is not None and _clock() < cached[0]:
        return cached[1]
    with _cache_lock:
        names = watched_load()
        _cache = (_clock() + WATCH_TTL_SECONDS, names)
    return names


def watched_reset() -> None:
    global _cache
    _cache = None


def on_rule_changed(sender, **kwargs) -> None:
    """post_save / post_delete of ScoringRule: forget the names now and at commit."""
    watched_reset()
    transaction.on_commit(watched_reset)
