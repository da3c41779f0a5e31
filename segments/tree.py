"""Reading facts off a (validated) condition tree: the segments it references, whether it
depends on the clock, and what contact data it reads."""

from collections.abc import Iterator
from dataclasses import dataclass

from contacts.builtins import BUILTIN_FIELD_TYPES
from segments.operators import EMAIL_OPS, RELATIVE_OPS, parse_duration

GROUP_KEYS = ("all", "any", "not")


def iter_conditions(tree: object) -> Iterator[dict]:
    """Every leaf condition of the tree, depth first; malformed nodes are skipped."""
    if not isinstance(tree, dict):
        return
    for key in GROUP_KEYS:
        if key in tree:
            children = tree[key]
            if key == "not":
                children = [children]
            if isinstance(children, list):
                for child in children:
                    yield from iter_conditions(child)
            return
    if "type" in tree:
        yield tree


def segment_references(tree: object) -> set[int]:
    return {
        node["segment"]
        for node in iter_conditions(tree)
        if node.get("type") == "segment" and isinstance(node.get("segment"), int)
    }


def is_time_relative(tree: object) -> bool:
    """True when membership can change with the clock alone (relative windows)."""
    for node in iter_conditions(tree):
        kind = node.get("type")
        if kind == "field" and node.get("op") in RELATIVE_OPS:
            return True
        if kind in ("event", "email") and node.get("within") is not None:
            return True
    return False


@dataclass(frozen=True, slots=True)
class ConditionDependencies:
    """What a tree reads. Tag names are lower-cased (tags are case-insensitive)."""

    builtin_fields: frozenset[str] = frozenset()
    custom_fields: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    segments: frozenset[int] = frozenset()
    # The windows (seconds) of last_activity_at's `within_last` / `older_than` conditions, or
    # None when the tree also reads last_activity_at in another way (any change may matter).
    activity_windows: frozenset[int] | None = frozenset()


# Conditions on last_activity_at whose truth an event can change only for a contact idle for
# at least their window (segments.dependencies).
ACTIVITY_WINDOW_OPS = frozenset({"within_last", "older_than"})


def dependencies(tree: object) -> ConditionDependencies:
    builtin, custom, events, tags, topics, segments = set(), set(), set(), set(), set(), set()
    windows: set[int] | None = set()
    for node in iter_conditions(tree):
        match node.get("type"):
            case "field":
                key = node.get("field")
                if isinstance(key, str):
                    (builtin if key in BUILTIN_FIELD_TYPES else custom).add(key)
                if key == "last_activity_at" and windows is not None:
                    windows = _activity_window(node, windows)
            case "event":
                if isinstance(node.get("event"), str):
                    events.add(node["event"])
            case "email":
                if node.get("op") in EMAIL_OPS:
                    events.add(EMAIL_OPS[node["op"]][0])
            case "tag":
                if isinstance(node.get("tag"), str):
                    tags.add(node["tag"].strip().lower())
            case "subscription":
                if isinstance(node.get("topic"), str):
                    topics.add(node["topic"])
                # A contact whose email_status is not active is subscribed to nothing.
                builtin.add("email_status")
            case "segment":
                if isinstance(node.get("segment"), int):
                    segments.add(node["segment"])
    return ConditionDependencies(
        builtin_fields=frozenset(builtin),
        custom_fields=frozenset(custom),
        events=frozenset(events),
        tags=frozenset(tags),
        topics=frozenset(topics),
        segments=frozenset(segments),
        activity_windows=None if windows is None else frozenset(windows),
    )


def _activity_window(node: dict, windows: set[int]) -> set[int] | None:
    if node.get("op") not in ACTIVITY_WINDOW_OPS:
        return None
    try:
        seconds = int(parse_duration(node.get("value")).total_seconds())
    except ValueError:
        return None
    return windows | {seconds}
