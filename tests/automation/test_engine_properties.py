"""Property test: random flows of waits, branches (on the score, on tags), splits, tag steps
and exits, run by the scheduler with advancing time, visit for every contact exactly the
steps (with the same outcomes) and end in the same state as an independent reference stepper
over the flow JSON (below), exit_when included."""

import datetime as dt
import hashlib
import os

import pytest
from django.db import transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from automation.flow_definition import flow_definition_clean
from automation.models import Enrollment, StepRun
from automation.scheduler import scheduler_tick
from tests.automation.engine_helpers import enroll, flow_version
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
TICK = dt.timedelta(minutes=40)
TICKS = 40
TAGS = ["a", "b", "stop"]
STOP = {"type": "tag", "op": "has", "tag": "stop"}

conditions = st.one_of(
    st.builds(
        lambda value: {"type": "field", "field": "lead_score", "op": "gte", "value": value},
        st.integers(0, 100),
    ),
    st.builds(lambda tag: {"type": "tag", "op": "has", "tag": tag}, st.sampled_from(TAGS[:2])),
)
simple_steps = st.one_of(
    st.builds(lambda hours: {"type": "wait", "duration": {"hours": hours}}, st.integers(1, 3)),
    st.builds(
        lambda names: {"type": "tag", "add": names},
        st.lists(st.sampled_from(TAGS), min_size=1, max_size=2, unique=True),
    ),
)


def step_lists(depth: int):
    inner = step_lists(depth - 1) if depth else None
    kinds = [simple_steps]
    if inner is not None:
        kinds.append(
            st.builds(
                lambda condition, yes, no: {
                    "type": "branch",
                    "condition": condition,
                    "yes": yes,
                    "no": no,
                },
                conditions,
                inner,
                inner,
            )
        )
        kinds.append(
            st.builds(
                lambda percent, first, second: {
                    "type": "split",
                    "variants": [
                        {"percent": percent, "steps": first},
                        {"percent": 100 - percent, "steps": second},
                    ],
                },
                st.sampled_from([10, 50, 90]),
                inner,
                inner,
            )
        )
    return st.builds(
        lambda steps, exits: steps + ([{"type": "exit"}] if exits else []),
        st.lists(st.one_of(kinds), min_size=1, max_size=3),
        st.booleans(),
    )


def _number(steps: list[dict], counter: list[int]) -> list[dict]:
    for step in steps:
        counter[0] += 1
        step["id"] = f"s{counter[0]}"
        for key in ("yes", "no"):
            if key in step:
                _number(step[key], counter)
        for variant in step.get("variants", []):
            _number(variant["steps"], counter)
    return steps


# The reference stepper: positions are (list of steps, index) frames of a stack, so paths
# rejoin after their compound step by popping a frame.


class Reference:
    def __init__(self, definition: dict, flow_id: int, contact_id: int, score: int):
        self.definition, self.flow_id, self.contact_id = definition, flow_id, contact_id
        self.score, self.tags = score, set()
        self.stack = [(definition["steps"], 0)]
        self.state, self.reason = "active", ""
        self.visited: list[tuple[str, str]] = []
        self.reached = START
        self.due = START

    def current(self) -> dict | None:
        while self.stack:
            steps, index = self.stack[-1]
            if index < len(steps):
                return steps[index]
            self.stack.pop()
        return None

    def move_on(self, now: dt.datetime, path: list[dict] | None = None) -> None:
        steps, index = self.stack.pop()
        self.stack.append((steps, index + 1))
        if path:
            self.stack.append((path, 0))
        self.reached = self.due = now

    def tick(self, now: dt.datetime) -> None:
        while self.state == "active" and self.due <= now:
            step = self.current()
            if step is None:
                self.state = "completed"
                return
            if self.definition.get("exit_when") and "stop" in self.tags:
                self.state, self.reason = "exited", "exit_when"
                return
            self.run(step, now)

    def run(self, step: dict, now: dt.datetime) -> None:
        kind = step["type"]
        if kind == "wait":
            due = self.reached + dt.timedelta(**step["duration"])
            if due > now:
                self.due = due
                return
            self.visited.append((step["id"], ""))
            self.move_on(now)
        elif kind == "tag":
            self.tags.update(step["add"])
            self.visited.append((step["id"], ""))
            self.move_on(now)
        elif kind == "exit":
            self.visited.append((step["id"], ""))
            self.state, self.reason = "exited", "exit_step"
        elif kind == "branch":
            yes = self.holds(step["condition"])
            self.visited.append((step["id"], "yes" if yes else "no"))
            self.move_on(now, step["yes"] if yes else step["no"])
        elif kind == "split":
            digest = hashlib.sha256(f"{self.flow_id}:{self.contact_id}:{step['id']}".encode())
            bucket = int.from_bytes(digest.digest()[:8], "big") % 10_000
            index = 0 if bucket < step["variants"][0]["percent"] * 100 else 1
            self.visited.append((step["id"], f"variant:{index}"))
            self.move_on(now, step["variants"][index]["steps"])

    def holds(self, condition: dict) -> bool:
        if condition["type"] == "tag":
            return condition["tag"] in self.tags
        return self.score >= condition["value"]


_PHASES = [Phase.explicit, Phase.reuse, Phase.generate]
if os.environ.get("SEGFLOW_SHRINK"):
    _PHASES.append(Phase.shrink)


@settings(
    max_examples=40,
    phases=_PHASES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=step_lists(2),
    exits_on_stop=st.booleans(),
    scores=st.lists(st.integers(0, 100), min_size=1, max_size=4),
)
def test_the_engine_visits_what_the_reference_stepper_visits(steps, exits_on_stop, scores):
    raw = {"trigger": {"type": "event", "event": "signed_up"}, "steps": _number(steps, [0])}
    if exits_on_stop:
        raw["exit_when"] = STOP
    definition = flow_definition_clean(raw)
    with transaction.atomic():
        version = flow_version(definition["steps"], exit_when=definition.get("exit_when"))
        enrollments = [enroll(version, ContactFactory(lead_score=s), now=START) for s in scores]
        references = [
            Reference(definition, version.flow_id, e.contact_id, score)
            for e, score in zip(enrollments, scores, strict=True)
        ]
        for tick in range(TICKS):
            now = START + tick * TICK
            scheduler_tick(now=now)
            for reference in references:
                reference.tick(now)
        runs = {
            e.pk: list(
                StepRun.objects.filter(enrollment=e)
                .order_by("pk")
                .values_list("step_id", "outcome")
            )
            for e in enrollments
        }
        states = dict(Enrollment.objects.values_list("pk", "state"))
        reasons = dict(Enrollment.objects.values_list("pk", "exit_reason"))
        transaction.set_rollback(True)
    for enrollment, reference in zip(enrollments, references, strict=True):
        assert runs[enrollment.pk] == reference.visited
        assert states[enrollment.pk] == reference.state
        assert reasons[enrollment.pk] == reference.reason
