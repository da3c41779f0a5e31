"""What a segment depends on: the contact changes that can move its members (stored on the
segment when saved) and the other segments it reads (evaluated before it)."""

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from segments.models import Segment
from segments.validation import dependencies

# Every stored event may advance last_activity_at, so a tree reading it in any way other than
# a relative window depends on every event.
EVERY_EVENT = "event:*"
# A tree reading last_activity_at only through `within_last` / `older_than` windows depends on
# "activity:<window seconds>" instead. An event that advances a contact's last_activity_at
# changes such a condition only if the contact had been idle for at least the window (before,
# `within_last` was false and `older_than` true; after, the reverse); for a contact active
# more recently, both read the same before and after. So the segments' receiver tags the
# advancing contact with "activity:<bound>", the first of ACTIVITY_IDLE_BOUNDS above its idle
# time ("activity:inf" past the last one, or never active before), and a window is affected
# when that bound is above it. Time passing is the periodic re-evaluation's business, as for
# any time-relative segment.
ACTIVITY = "activity:"
ACTIVITY_UNBOUNDED = "activity:inf"
ACTIVITY_IDLE_BOUNDS = tuple(
    int(dt.timedelta(**{unit: amount}).total_seconds())
    for unit, amount in (
        ("hours", 1),
        ("hours", 6),
        ("days", 1),
        ("days", 3),
        ("days", 7),
        ("days", 14),
        ("days", 30),
        ("days", 60),
        ("days", 90),
        ("days", 180),
        ("days", 365),
    )
)


def dependency_keys(tree: object) -> list[str]:
    """The `contacts_changed` change kinds ("field:country", "fields.plan", "event:login",
    "tags", "subscriptions", "segment:7") that can change the tree's result."""
    reads = dependencies(tree)
    keys = {f"field:{key}" for key in reads.builtin_fields}
    keys |= {f"fields.{key}" for key in reads.custom_fields}
    keys |= {f"event:{name}" for name in reads.events}
    keys |= {f"segment:{segment_id}" for segment_id in reads.segments}
    if reads.tags:
        keys.add("tags")
    if reads.topics:
        keys.add("subscriptions")
    if "last_activity_at" in reads.builtin_fields:
        if reads.activity_windows is None:
            keys.add(EVERY_EVENT)
        else:
            keys |= {f"{ACTIVITY}{seconds}" for seconds in reads.activity_windows}
    return sorted(keys)


# The kind of each idle class: ACTIVITY_KINDS[i] for an idle time under ACTIVITY_IDLE_BOUNDS[i].
ACTIVITY_KINDS = [f"{ACTIVITY}{bound}" for bound in ACTIVITY_IDLE_BOUNDS] + [ACTIVITY_UNBOUNDED]


def activity_change(idle: dt.timedelta | None) -> str:
    """The change kind of a contact whose last_activity_at an event advanced, after `idle`
    without activity (None: never active before)."""
    if idle is None:
        return ACTIVITY_UNBOUNDED
    return ACTIVITY_KINDS[bisect.bisect_right(ACTIVITY_IDLE_BOUNDS, idle.total_seconds())]


def is_affected(keys: Iterable[str], changes: Iterable[str]) -> bool:
    """Whether changes of these kinds can move a segment (or rule) with these dependency
    keys: AffectedIndex's rule, for one."""
    return bool(AffectedIndex([(0, keys)]).affected(changes))


class AffectedIndex:
    """is_affected for many segments at once: the segments (by id) a set of changes affects,
    through an index of their keys instead of a test per segment (an incremental batch asks
    it for every distinct set of changes among its contacts)."""

    def __init__(self, segments: Iterable[tuple[int, Iterable[str]]]):
        self._by_key: dict[str, set[int]] = defaultdict(set)
        self._every_event: set[int] = set()
        self._narrowest_window: dict[int, int] = {}
        for segment_id, keys in segments:
            windows = []
            for key in keys:
                if key.startswith(ACTIVITY):
                    windows.append(int(key.removeprefix(ACTIVITY)))
                elif key == EVERY_EVENT:
                    self._every_event.add(segment_id)
                else:
                    self._by_key[key].add(segment_id)
            if windows:
                self._narrowest_window[segment_id] = min(windows)

    def affected(self, changes: Iterable[str]) -> set[int]:
        affected: set[int] = set()
        for change in changes:
            if change == ACTIVITY_UNBOUNDED:
                affected.update(self._narrowest_window)
            elif change.startswith(ACTIVITY):
                idle = int(change.removeprefix(ACTIVITY))
                affected.update(
                    pk for pk, window in self._narrowest_window.items() if idle > window
                )
            else:
                affected |= self._by_key.get(change, set())
                if change.startswith("event:"):
                    affected |= self._every_event
        return affected


class DependencyGraph:
    """Which segment reads which, for all segments (a few hundred rows at most)."""

    def __init__(self, edges: Iterable[tuple[int, int]]):
        self.upstream: dict[int, set[int]] = defaultdict(set)
        self.downstream: dict[int, set[int]] = defaultdict(set)
        for segment_id, read_id in edges:
            self.upstream[segment_id].add(read_id)
            self.downstream[read_id].add(segment_id)
        self._levels: dict[int, int] = {}

    @classmethod
    def load(cls) -> "DependencyGraph":
        through = Segment.depends_on.through.objects
        return cls(through.values_list("from_segment_id", "to_segment_id"))

    def level(self, segment_id: int) -> int:
        """0 for a segment that reads no other, else one more than the deepest it reads."""
        if segment_id in self._levels:
            return self._levels[segment_id]
        self._levels[segment_id] = 0  # guards against a cycle (validation rejects them)
        level = max((self.level(read) + 1 for read in self.upstream[segment_id]), default=0)
        self._levels[segment_id] = level
        return level

    def ordered(self, segments: Iterable[Segment]) -> list[Segment]:
        """Segments in dependency order: every segment after the segments it reads. The order
        is total and the same for every caller, so locks are always taken in one order."""
        return sorted(segments, key=lambda segment: (self.level(segment.pk), segment.pk))
