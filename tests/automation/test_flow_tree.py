"""FlowTree: which step comes next, with paths rejoining after branch, split and
wait_for_event (design §5), and a property test against an independent reference that
flattens the tree into a token list and scans it."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automation.flow_tree import FlowTree, flow_tree
from tests.factories import FlowVersionFactory


def wait(step_id: str) -> dict:
    return {"id": step_id, "type": "wait", "duration": {"hours": 1}}


def exit_(step_id: str) -> dict:
    return {"id": step_id, "type": "exit"}


def branch(step_id: str, yes: list, no: list) -> dict:
    condition = {"type": "tag", "op": "has", "tag": "vip"}
    return {"id": step_id, "type": "branch", "condition": condition, "yes": yes, "no": no}


RE_ENGAGEMENT = {
    "trigger": {"type": "event", "event": "x"},
    "steps": [
        wait("email-1"),
        branch("opened", yes=[wait("thanks"), exit_("done")], no=[wait("reminder")]),
        {
            "id": "ab",
            "type": "split",
            "variants": [
                {"percent": 50, "steps": [wait("a1"), wait("a2")]},
                {"percent": 50, "steps": [wait("b1")]},
            ],
        },
        {
            "id": "buy",
            "type": "wait_for_event",
            "event": "purchase",
            "timeout": {"days": 1},
            "on_event": [],
            "on_timeout": [wait("nudge")],
        },
        wait("last"),
    ],
}


def test_first_step_and_document_order():
    tree = FlowTree(RE_ENGAGEMENT)

    assert tree.first_step_id() == "email-1"
    assert tree.step_ids() == [
        "email-1",
        "opened",
        "thanks",
        "done",
        "reminder",
        "ab",
        "a1",
        "a2",
        "b1",
        "buy",
        "nudge",
        "last",
    ]


def test_next_step_follows_the_list_and_rejoins_after_a_compound_step():
    tree = FlowTree(RE_ENGAGEMENT)

    assert tree.next_step_id("email-1") == "opened"
    assert tree.next_step_id("opened") == "ab"  # the rejoin point of its paths
    assert tree.next_step_id("thanks") == "done"
    assert tree.next_step_id("reminder") == "ab"
    assert tree.next_step_id("a1") == "a2"
    assert tree.next_step_id("a2") == "buy"
    assert tree.next_step_id("b1") == "buy"
    assert tree.next_step_id("nudge") == "last"


def test_an_exit_step_ends_the_path_and_the_last_step_has_no_next():
    tree = FlowTree(RE_ENGAGEMENT)

    assert tree.next_step_id("done") is None
    assert tree.next_step_id("last") is None


def test_path_entry_is_the_paths_first_step_or_the_rejoin_point_when_empty():
    tree = FlowTree(RE_ENGAGEMENT)

    assert tree.path_entry("opened", "yes") == "thanks"
    assert tree.path_entry("opened", "no") == "reminder"
    assert tree.path_entry("ab", "variants[1]") == "b1"
    assert tree.path_entry("buy", "on_event") == "last"
    assert tree.path_entry("buy", "on_timeout") == "nudge"


def test_path_entry_of_a_path_the_step_does_not_have_is_a_key_error():
    tree = FlowTree(RE_ENGAGEMENT)

    with pytest.raises(KeyError):
        tree.path_entry("opened", "variants[0]")
    with pytest.raises(KeyError):
        tree.path_entry("ab", "variants[2]")


def test_step_gives_the_json_and_unknown_ids_are_key_errors():
    tree = FlowTree(RE_ENGAGEMENT)

    assert tree.step("nudge") == wait("nudge")
    with pytest.raises(KeyError):
        tree.step("gone")
    with pytest.raises(KeyError):
        tree.next_step_id("gone")


def test_event_names_awaited():
    assert FlowTree(RE_ENGAGEMENT).event_names_awaited() == {"purchase"}


def test_nested_paths_rejoin_level_by_level():
    definition = {
        "steps": [
            branch("outer", yes=[branch("inner", yes=[wait("deep")], no=[wait("side")])], no=[]),
            wait("after"),
        ]
    }
    tree = FlowTree(definition)

    assert tree.next_step_id("deep") == "after"
    assert tree.next_step_id("inner") == "after"
    assert tree.path_entry("outer", "no") == "after"


def test_a_flow_without_steps_has_no_first_step():
    assert FlowTree({"steps": []}).first_step_id() is None


@pytest.mark.django_db
def test_flow_tree_is_built_once_per_version():
    version = FlowVersionFactory(definition=RE_ENGAGEMENT)

    assert flow_tree(version) is flow_tree(version)
    assert flow_tree(version).first_step_id() == "email-1"


@pytest.mark.django_db
def test_flow_tree_rebuilds_when_an_id_comes_back_with_another_definition():
    version = FlowVersionFactory(definition=RE_ENGAGEMENT)
    first = flow_tree(version)

    version.definition = {"steps": [wait("other")]}

    assert flow_tree(version) is not first
    assert flow_tree(version).first_step_id() == "other"


# --- property test: the tree against a flatten-and-scan reference ------------------------------

COMPOUND_PATHS = {"branch": ("yes", "no"), "wait_for_event": ("on_event", "on_timeout")}


def _leaf(kind: str) -> dict:
    return {"type": kind}


step_lists = st.recursive(
    st.lists(st.sampled_from(["wait", "exit", "tag"]).map(_leaf), max_size=3),
    lambda children: st.lists(
        st.one_of(
            st.sampled_from(["wait", "exit", "tag"]).map(_leaf),
            st.tuples(children, children).map(
                lambda p: {"type": "branch", "yes": p[0], "no": p[1]}
            ),
            st.tuples(children, children).map(
                lambda p: {"type": "wait_for_event", "on_event": p[0], "on_timeout": p[1]}
            ),
            st.lists(children, min_size=1, max_size=3).map(
                lambda ps: {"type": "split", "variants": [{"steps": p} for p in ps]}
            ),
        ),
        max_size=4,
    ),
    max_leaves=40,
)


def _number(steps: list[dict], counter) -> list[dict]:
    """Ids s0, s1, ... in document order; events e0, e1, ... on wait_for_event steps."""
    numbered = []
    for step in steps:
        n = next(counter)
        step = {**step, "id": f"s{n}"}
        if step["type"] == "wait_for_event":
            step["event"] = f"e{n}"
        for key in COMPOUND_PATHS.get(step["type"], ()):
            step[key] = _number(step[key], counter)
        if step["type"] == "split":
            step["variants"] = [{"steps": _number(v["steps"], counter)} for v in step["variants"]]
        numbered.append(step)
    return numbered


class Reference:
    """The definition as a flat token list: ("step", id, type) in document order, and
    ("end", id) closing each path of a compound step. What follows a step is found by
    scanning forward past its own paths; reaching the end of a path continues after the
    compound step that owns it."""

    def __init__(self, steps: list[dict]):
        self.tokens: list[tuple] = []
        self._flatten(steps)

    def _flatten(self, steps: list[dict]) -> None:
        for step in steps:
            self.tokens.append(("step", step["id"], step))
            paths = [step[key] for key in COMPOUND_PATHS.get(step["type"], ())]
            paths += [variant["steps"] for variant in step.get("variants", ())]
            for path in paths:
                self._flatten(path)
                self.tokens.append(("end", step["id"]))

    def _position(self, step_id: str) -> int:
        return next(i for i, t in enumerate(self.tokens) if t[0] == "step" and t[1] == step_id)

    def _after_subtree(self, step_id: str) -> int:
        ends = [i for i, t in enumerate(self.tokens) if t == ("end", step_id)]
        return (ends[-1] if ends else self._position(step_id)) + 1

    def next(self, step_id: str) -> str | None:
        if self.tokens[self._position(step_id)][2]["type"] == "exit":
            return None
        position = self._after_subtree(step_id)
        if position == len(self.tokens):
            return None
        token = self.tokens[position]
        return token[1] if token[0] == "step" else self.next(token[1])

    def path_entry(self, step_id: str, index: int) -> str | None:
        """First step of the step's index-th path (paths are separated by its "end" tokens)."""
        start = self._position(step_id) + 1
        ends = [i for i, t in enumerate(self.tokens) if t == ("end", step_id)]
        begin = start if index == 0 else ends[index - 1] + 1
        token = self.tokens[begin]
        return token[1] if token[0] == "step" else self.next(step_id)

    def step_ids(self) -> list[str]:
        return [t[1] for t in self.tokens if t[0] == "step"]


def _path_names(step: dict) -> list[str]:
    if step["type"] == "split":
        return [f"variants[{i}]" for i in range(len(step["variants"]))]
    return list(COMPOUND_PATHS.get(step["type"], ()))


@settings(max_examples=150, deadline=None)
@given(step_lists)
def test_tree_navigation_matches_the_flattened_reference(steps):
    steps = _number(steps, itertools.count())
    tree, reference = FlowTree({"steps": steps}), Reference(steps)

    assert tree.step_ids() == reference.step_ids()
    assert tree.first_step_id() == (reference.step_ids() or [None])[0]
    for step_id in reference.step_ids():
        assert tree.next_step_id(step_id) == reference.next(step_id), step_id
        for index, name in enumerate(_path_names(tree.step(step_id))):
            assert tree.path_entry(step_id, name) == reference.path_entry(step_id, index)
    awaited = {t[2]["event"] for t in reference.tokens if t[0] == "step" and "event" in t[2]}
    assert tree.event_names_awaited() == awaited


@settings(max_examples=100, deadline=None)
@given(step_lists, st.randoms(use_true_random=False))
def test_every_walk_visits_steps_in_document_order_and_ends(steps, random):
    """Whatever paths a contact takes, it never goes back to an earlier step (no loops), so
    every enrollment ends: by an exit step or by running past the last step."""
    steps = _number(steps, itertools.count())
    tree = FlowTree({"steps": steps})
    order = {step_id: index for index, step_id in enumerate(tree.step_ids())}
    visited, current = [], tree.first_step_id()
    while current is not None:
        visited.append(current)
        paths = _path_names(tree.step(current))
        current = (
            tree.path_entry(current, random.choice(paths)) if paths else tree.next_step_id(current)
        )
        assert len(visited) <= len(order)
    assert [order[step_id] for step_id in visited] == sorted(order[s] for s in visited)
    assert len(set(visited)) == len(visited)
