"""What the engine knows about one claimed enrollment while it runs steps (a Cursor), and
what a run shares across its enrollments (a Run: `now`, contacts loaded once, side effects to
perform after the commit).

Step handlers (automation.steps) move cursors: `advance` records the step's StepRun and goes
to the next step (or the entry of a path), `sleep` / `hold` park the enrollment until a time,
`end` completes or exits it, `delay` parks a send step held back by the sending policy
(automation.send_rules) with its reason. The cursor writes through to its Enrollment
object; the engine saves every enrollment of a run in one statement and the StepRuns in one
bulk insert.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from automation.flow_tree import FlowTree
from automation.models import (
    Enrollment,
    EnrollmentState,
    FlowVersion,
    SendingPolicy,
    StepRun,
    StepRunStatus,
)
from contacts.models import Contact


@dataclass(eq=False)
class Cursor:
    enrollment: Enrollment
    tree: FlowTree  # of the enrollment's version
    now: dt.datetime
    # Reached its current step during this run, so no StepRun of it exists yet.
    fresh: bool = False
    # Parked (asleep, leased, retrying) or ended: no more steps in this run.
    settled: bool = False
    # A step changed the contact (field, score, tags): exit_when is checked again.
    touched: bool = False
    moves: int = 0  # steps moved to in this run
    runs: list[StepRun] = field(default_factory=list)

    @property
    def step_id(self) -> str | None:
        return self.enrollment.step_id

    @property
    def contact_id(self) -> int:
        return self.enrollment.contact_id

    @property
    def step_started_at(self) -> dt.datetime:
        return self.enrollment.step_started_at or self.now

    def record(
        self,
        *,
        outcome: str = "",
        detail: dict | None = None,
        status: str = StepRunStatus.DONE,
        attempt: int = 1,
    ) -> StepRun:
        """A StepRun of the current step, written with the run's others."""
        finished = None if status == StepRunStatus.STARTED else self.now
        run = StepRun(
            enrollment_id=self.enrollment.pk,
            step_id=self.step_id,
            attempt=attempt,
            status=status,
            outcome=outcome,
            detail=detail or {},
            started_at=self.step_started_at,
            finished_at=finished,
        )
        self.runs.append(run)
        return run

    def advance(
        self,
        *,
        outcome: str = "",
        path: str | None = None,
        detail: dict | None = None,
        record: bool = True,
    ) -> None:
        """Done with the current step: record it (unless already recorded) and go on, into
        `path` of a compound step when given."""
        if record:
            self.record(outcome=outcome, detail=detail)
        tree = self.tree
        following = tree.path_entry(self.step_id, path) if path else tree.next_step_id(self.step_id)
        self.goto(following)

    def goto(self, step_id: str | None) -> None:
        if step_id is None:
            self.end(EnrollmentState.COMPLETED)
            return
        enrollment = self.enrollment
        enrollment.step_id, enrollment.step_started_at = step_id, self.now
        enrollment.delay_reason = ""
        enrollment.next_run_at, enrollment.sleeping, enrollment.waiting_for_event = (
            self.now,
            False,
            None,
        )
        self.fresh = True
        self.moves += 1

    def sleep(self, until: dt.datetime, *, event: str | None = None) -> None:
        """Wait until `until` (woken earlier by an awaited or exit_when event)."""
        enrollment = self.enrollment
        enrollment.next_run_at, enrollment.sleeping, enrollment.waiting_for_event = (
            until,
            True,
            event,
        )
        self.settled = True

    def delay(self, until: dt.datetime, reason: str) -> None:
        """A send held back by the sending policy: asleep until `until` (woken early like any
        sleeper, it re-checks the rules) with the reason shown on the enrollment."""
        self.sleep(until)
        self.enrollment.delay_reason = reason

    def hold(self, until: dt.datetime) -> None:
        """Leased (a side effect under way) or retrying: due at `until`, never woken early."""
        enrollment = self.enrollment
        enrollment.delay_reason = ""
        enrollment.next_run_at, enrollment.sleeping, enrollment.waiting_for_event = (
            until,
            False,
            None,
        )
        self.settled = True

    def end(self, state: str, reason: str = "") -> None:
        enrollment = self.enrollment
        enrollment.state, enrollment.exit_reason, enrollment.ended_at = state, reason, self.now
        enrollment.delay_reason = ""
        enrollment.next_run_at, enrollment.sleeping, enrollment.waiting_for_event = (
            None,
            False,
            None,
        )
        if state == EnrollmentState.COMPLETED:
            enrollment.step_id = None
        self.settled = True


@dataclass
class Run:
    """One engine pass over a batch: `effects` are the sends and calls to perform after the
    claim transaction commits (automation.steps.effects)."""

    now: dt.datetime
    effects: list = field(default_factory=list)
    # Existing StepRuns (leased ones) given their outcome, saved with the run.
    finished_runs: list[StepRun] = field(default_factory=list)
    versions: dict[int, FlowVersion] = field(default_factory=dict)
    _contacts: dict[int, Contact] = field(default_factory=dict)
    _sending_policy: SendingPolicy | None = None

    def sending_policy(self) -> SendingPolicy:
        """The workspace's sending policy, read once per run (when a send step runs)."""
        if self._sending_policy is None:
            self._sending_policy = SendingPolicy.current()
        return self._sending_policy

    def contacts(self, contact_ids: Iterable[int]) -> dict[int, Contact]:
        """Contacts by id, loaded once per run (one query for those not loaded yet)."""
        missing = set(contact_ids) - self._contacts.keys()
        if missing:
            self._contacts.update(Contact.objects.in_bulk(missing))
        return self._contacts

    def contacts_changed(self, cursors: Iterable[Cursor]) -> None:
        """A step wrote to these contacts: reload them when read again, and check exit_when
        before their next step."""
        for cursor in cursors:
            cursor.touched = True
            self._contacts.pop(cursor.contact_id, None)
