"""What active rules watch, cached per process: the event names event rules score, and the
contact changes (segments' dependency keys) that can move a condition rule's matches.

Every contact write asks "does any rule care about this?", so the answer is cached for
WATCH_TTL_SECONDS (no query per request) and dropped at once in the process that saves or
deletes a rule (receivers connected in ScoringConfig.ready). Another process may keep the old
answer up to the TTL after a rule is activated: events it stores meanwhile are not queued for
scoring (docs/scoring.md); a rule applies to events stored after it is active.
"""

import threading
import time
from dataclasses import dataclass

from django.db import transaction

from scoring.models import RuleKind, ScoringRule
from segments.dependencies import dependency_keys

WATCH_TTL_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class Watched:
    names: frozenset[str] = frozenset()
    # (condition rule id, the change kinds that can move its matches)
    conditions: tuple[tuple[int, frozenset[str]], ...] = ()


def watched_load() -> Watched:
    """What active rules watch, read now (one query)."""
    rules = ScoringRule.objects.filter(active=True).values_list("pk", "kind", "event", "condition")
    names, conditions = set(), []
    for pk, kind, event, condition in rules:
        if kind == RuleKind.EVENT and event:
            names.add(event)
        elif kind == RuleKind.CONDITION and condition:
            conditions.append((pk, frozenset(dependency_keys(condition))))
    return Watched(names=frozenset(names), conditions=tuple(conditions))


_clock = time.monotonic
_cache: tuple[float, Watched] | None = None
_cache_lock = threading.Lock()


def watched() -> Watched:
    """What active rules watch, cached in this process for WATCH_TTL_SECONDS."""
    global _cache
    cached = _cache
    if cached is not None and _clock() < cached[0]:
        return cached[1]
    with _cache_lock:
        loaded = watched_load()
        _cache = (_clock() + WATCH_TTL_SECONDS, loaded)
    return loaded


def watched_names() -> frozenset[str]:
    """The event names active event rules score (cached)."""
    return watched().names


def watched_reset() -> None:
    global _cache
    _cache = None


def on_rule_changed(sender, **kwargs) -> None:
    """post_save / post_delete of ScoringRule: forget the names now and at commit."""
    watched_reset()
    transaction.on_commit(watched_reset)
