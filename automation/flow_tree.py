"""Navigation of a normalised flow definition (automation.flow_definition): which step comes
next, where a branch's path starts, which events the flow waits for.

Paths rejoin like structured code (design §5): when a path of a branch, split or
wait_for_event runs out, the contact continues with the step that follows the compound step;
an exit step ends the path; running past the last top-level step completes the enrollment
(next_step_id() is None).
"""

import threading
from collections import OrderedDict
from collections.abc import Iterator

from automation.models import FlowVersion

PATH_KEYS = ("yes", "no", "on_event", "on_timeout")
CACHE_SIZE = 512


def _paths(step: dict) -> Iterator[tuple[str, list[dict]]]:
    """(path name, steps) of a compound step, in document order."""
    for key in PATH_KEYS:
        if key in step:
            yield key, step[key]
    for index, variant in enumerate(step.get("variants") or ()):
        yield f"variants[{index}]", variant["steps"]


class FlowTree:
    def __init__(self, definition: dict):
        self.definition = definition
        self._steps: dict[str, dict] = {}
        self._next: dict[str, str | None] = {}
        self._paths: dict[tuple[str, str], list[dict]] = {}
        self._index(definition.get("steps") or [], rejoin=None)
        self._first = definition["steps"][0]["id"] if definition.get("steps") else None

    def _index(self, steps: list[dict], *, rejoin: str | None) -> None:
        """`rejoin`: where the path continues when these steps run out."""
        for position, step in enumerate(steps):
            following = steps[position + 1]["id"] if position + 1 < len(steps) else rejoin
            step_id = step["id"]
            self._steps[step_id] = step
            self._next[step_id] = None if step["type"] == "exit" else following
            for name, children in _paths(step):
                self._paths[(step_id, name)] = children
                self._index(children, rejoin=following)

    def step(self, step_id: str) -> dict:
        """The step's JSON; KeyError for an id not in this definition."""
        return self._steps[step_id]

    def first_step_id(self) -> str | None:
        return self._first

    def next_step_id(self, step_id: str) -> str | None:
        """The step after this one (for a compound step: after all its paths, where they
        rejoin); None past the end, and after an exit step."""
        return self._next[step_id]

    def path_entry(self, step_id: str, path: str) -> str | None:
        """First step of a compound step's path ("yes", "no", "on_event", "on_timeout",
        "variants[<i>]"), or, when that path is empty, the step after the compound step.
        KeyError when the step has no such path."""
        children = self._paths[(step_id, path)]
        return children[0]["id"] if children else self._next[step_id]

    def step_ids(self) -> list[str]:
        """Every step id in document order (a compound step before its paths' steps)."""
        return list(self._steps)

    def event_names_awaited(self) -> frozenset[str]:
        """The events a wait_for_event step of this flow waits for."""
        return frozenset(
            step["event"] for step in self._steps.values() if step["type"] == "wait_for_event"
        )


_cache: OrderedDict[int, FlowTree] = OrderedDict()
_cache_lock = threading.Lock()


def flow_tree(version: FlowVersion) -> FlowTree:
    """The version's tree, built once per version (versions never change). The definition is
    compared too, so a reused id (a test database rolled back) never gets a stale tree."""
    with _cache_lock:
        tree = _cache.get(version.pk)
        if tree is not None and (
            tree.definition is version.definition or tree.definition == version.definition
        ):
            _cache.move_to_end(version.pk)
            return tree
    tree = FlowTree(version.definition)
    with _cache_lock:
        _cache[version.pk] = tree
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return tree
