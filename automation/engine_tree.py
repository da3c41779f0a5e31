"""The engine's access to a version's step tree: automation.flow_tree (helper DEF) when it is
there, else a minimal walker with the same interface (temporary, until flow_tree lands)."""

import re
from collections.abc import Iterator

from automation.models import FlowVersion

_VARIANT = re.compile(r"variants\[(\d+)\]")


class _Walker:
    def __init__(self, definition: dict):
        self._steps: dict[str, dict] = {}
        self._place: dict[str, tuple[list, int, str | None]] = {}
        self._order: list[str] = []
        self._index(definition.get("steps") or [], None)

    def _index(self, steps: list, parent: str | None) -> None:
        for position, step in enumerate(steps):
            self._steps[step["id"]] = step
            self._place[step["id"]] = (steps, position, parent)
            self._order.append(step["id"])
            for path in _paths(step):
                self._index(path, step["id"])

    def step(self, step_id: str) -> dict:
        return self._steps[step_id]

    def step_ids(self) -> list[str]:
        return list(self._order)

    def first_step_id(self) -> str | None:
        return self._order[0] if self._order else None

    def next_step_id(self, step_id: str) -> str | None:
        siblings, position, parent = self._place[step_id]
        if position + 1 < len(siblings):
            return siblings[position + 1]["id"]
        return None if parent is None else self.next_step_id(parent)

    def path_entry(self, step_id: str, path: str) -> str | None:
        step = self._steps[step_id]
        match = _VARIANT.fullmatch(path)
        steps = step["variants"][int(match[1])]["steps"] if match else step.get(path) or []
        return steps[0]["id"] if steps else self.next_step_id(step_id)

    def event_names_awaited(self) -> set[str]:
        return {s["event"] for s in self._steps.values() if s["type"] == "wait_for_event"}


def _paths(step: dict) -> Iterator[list]:
    for key in ("yes", "no", "on_event", "on_timeout"):
        if key in step:
            yield step[key] or []
    for variant in step.get("variants") or []:
        yield variant.get("steps") or []


_trees: dict[int, _Walker] = {}


def tree_of(version: FlowVersion):
    try:
        from automation.flow_tree import flow_tree
    except ImportError:
        if version.pk not in _trees:
            _trees[version.pk] = _Walker(version.definition)
        return _trees[version.pk]
    return flow_tree(version)
