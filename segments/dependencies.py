"""What a segment depends on: the contact changes that can move its members (stored on the
segment when saved) and the other segments it reads (evaluated before it)."""

from collections import defaultdict
from collections.abc import Iterable

from segments.models import Segment
from segments.validation import dependencies

# Every stored event advances last_activity_at, so a tree reading it depends on every event.
EVERY_EVENT = "event:*"


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
        keys.add(EVERY_EVENT)
    return sorted(keys)


def is_affected(keys: Iterable[str], changes: Iterable[str]) -> bool:
    keys = set(keys)
    return any(
        change in keys or (change.startswith("event:") and EVERY_EVENT in keys)
        for change in changes
    )


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
