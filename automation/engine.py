"""The step engine: advances claimed enrollments through their version's steps.

Invariants (docs/flow-engine.md):
- Every enrollment it touches is locked by the caller's claim (FOR UPDATE SKIP LOCKED) or
  re-locked here, and only while due (state active, next_run_at <= now): a batch delivered
  twice, or two schedulers at once, cannot run a step twice. StepRun's unique key
  (enrollment, step, attempt) is the backstop.
- exit_when is checked before the steps run (one query per version and batch), and again for
  contacts a step of this run changed (a field, the score, tags).
- Enrollments at the same step of the same version move together: one condition query per
  branch, one statement per tag or score step, one bulk insert of StepRuns and one UPDATE of
  all enrollments per batch.
- A side effect (email, webhook) is committed as StepRun(started) + lease before it runs,
  performed outside any transaction, and recorded in a new one (automation.steps.effects).
"""

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.db import InterfaceError, OperationalError, transaction
from django.db.models import QuerySet

from automation.conditions import contacts_matching
from automation.cursor import Cursor, Run
from automation.engine_writes import enrollments_save, step_runs_insert
from automation.flow_tree import flow_tree
from automation.models import (
    Enrollment,
    EnrollmentState,
    Flow,
    FlowStatus,
    FlowVersion,
    StepRun,
    StepRunStatus,
)
from automation.steps import HANDLERS
from automation.steps.effects import Effect, effect_record, effects_perform, leases_settle

logger = logging.getLogger(__name__)

EXIT_WHEN = "exit_when"


def due_enrollments(*, now: dt.datetime) -> QuerySet:
    """Due enrollments of active flows, locked as read (skipping rows others hold), oldest
    due first. A paused flow's enrollments wait, due, until it is active again."""
    return (
        Enrollment.objects.filter(
            state=EnrollmentState.ACTIVE, next_run_at__lte=now, flow__status=FlowStatus.ACTIVE
        )
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("next_run_at")
    )


def enrollments_advance(*, enrollments: Iterable[Enrollment], now: dt.datetime) -> int:
    """Advance these enrollments as far as they go at `now`, those still due and not held by
    another worker; returns how many advanced. Call it outside a transaction (side effects
    run after commits). The scheduler claims its batches itself (automation.scheduler)."""
    advanced, effects = _claimed_run([enrollment.pk for enrollment in enrollments], now)
    effects_complete(effects=effects, now=now)
    return advanced


def enrollments_advance_each(*, enrollment_ids: Sequence[int], now: dt.datetime) -> int:
    """After a batch failed: run its enrollments' steps one by one, so one that cannot
    advance (a step raising) fails alone, with the error as its exit reason, and the others
    go on. Lost connections are not blamed on an enrollment: they raise (the next tick
    retries)."""
    advanced, effects = 0, []
    for enrollment_id in enrollment_ids:
        try:
            claimed, more = _claimed_run([enrollment_id], now)
        except (OperationalError, InterfaceError):
            raise
        except Exception as error:
            logger.exception("Enrollment %s failed at its step", enrollment_id)
            Enrollment.objects.filter(pk=enrollment_id, state=EnrollmentState.ACTIVE).update(
                state=EnrollmentState.FAILED,
                exit_reason=f"error: {type(error).__name__}: {error}"[:200],
                ended_at=now,
                next_run_at=None,
                sleeping=False,
            )
        else:
            advanced += claimed
            effects += more
    try:
        effects_complete(effects=effects, now=now)
    except Exception:  # their leases expire and are settled (a send is never repeated)
        logger.exception("Recording the side effects of a batch failed")
    return advanced


def _claimed_run(enrollment_ids: list[int], now: dt.datetime) -> tuple[int, list[Effect]]:
    with transaction.atomic():
        locked = list(due_enrollments(now=now).filter(pk__in=enrollment_ids))
        return len(locked), steps_run(enrollments=locked, now=now)


def steps_run(*, enrollments: Sequence[Enrollment], now: dt.datetime) -> list[Effect]:
    """Run the claimed enrollments' steps inside the caller's transaction; returns the side
    effects to perform once it has committed (then `effects_complete`)."""
    if not enrollments:
        return []
    run = Run(now=now)
    trees = _trees(run, enrollments)
    cursors = [Cursor(e, trees[e.version_id], now) for e in enrollments]
    leases_settle(cursors, run)
    _steps_loop(cursors, run)
    _save(cursors, run)
    return run.effects


def effects_complete(*, effects: list[Effect], now: dt.datetime) -> None:
    """Perform the effects outside any transaction, then record them and run the steps that
    follow, until no effect is left (a send may be followed by a webhook, ...)."""
    while effects:
        effects_perform(effects=effects, now=now)
        with transaction.atomic():
            effects = _effects_record(effects, now)


def _effects_record(effects: list[Effect], now: dt.datetime) -> list[Effect]:
    """Record the performed effects and run the steps that follow. An enrollment that ended
    meanwhile (its flow archived) gets its outcome recorded only; one whose flow was paused
    meanwhile moves to its next step and waits there, due, for the flow to resume."""
    locked = (
        Enrollment.objects.select_for_update()
        .filter(pk__in=[e.enrollment_id for e in effects])
        .order_by("pk")
    )
    enrollments = {enrollment.pk: enrollment for enrollment in locked}
    started = StepRun.objects.select_for_update().filter(
        enrollment_id__in=enrollments, status=StepRunStatus.STARTED
    )
    step_runs = {(r.enrollment_id, r.step_id, r.attempt): r for r in started}
    run = Run(now=now)
    trees = _trees(run, enrollments.values())
    cursors = []
    for effect in effects:
        enrollment = enrollments.get(effect.enrollment_id)
        step_run = step_runs.get((effect.enrollment_id, effect.step["id"], effect.step_run.attempt))
        if enrollment is None or step_run is None:
            continue  # settled meanwhile (its lease expired and another worker took it)
        if enrollment.state != EnrollmentState.ACTIVE or enrollment.step_id != effect.step["id"]:
            effect_record(effect, None, step_run, run)
            continue
        cursor = Cursor(enrollment, trees[enrollment.version_id], now)
        effect_record(effect, cursor, step_run, run)
        cursor.settled = cursor.settled or enrollment.flow.status != FlowStatus.ACTIVE
        cursors.append(cursor)
    _steps_loop(cursors, run)
    _save(cursors, run)
    return run.effects


def _steps_loop(cursors: Sequence[Cursor], run: Run) -> None:
    """Run steps round by round, each round one handler call per (version, step) group,
    until every cursor is asleep, leased or ended."""
    active = [cursor for cursor in cursors if not cursor.settled]
    check = active
    while True:
        _exit_when(check, run)
        active = [cursor for cursor in active if not cursor.settled]
        if not active:
            return
        groups: dict[tuple[int, str], list[Cursor]] = defaultdict(list)
        for cursor in active:
            if cursor.step_id is None:  # no step left (nothing else sets it so)
                cursor.end(EnrollmentState.COMPLETED)
                continue
            groups[cursor.enrollment.version_id, cursor.step_id].append(cursor)
        for group in groups.values():
            moves = [cursor.moves for cursor in group]
            step = group[0].tree.step(group[0].step_id)
            HANDLERS[step["type"]](group, step, run)
            for cursor, before in zip(group, moves, strict=True):
                if not cursor.settled and cursor.moves == before:  # a handler's bug: no loop
                    raise RuntimeError(f"Step {step['id']} did not move {cursor.enrollment.pk}")
        check = [c for c in active if c.touched and (not c.settled or c.enrollment.sleeping)]
        for cursor in active:
            cursor.touched = False


def _exit_when(cursors: Sequence[Cursor], run: Run) -> None:
    """Exit the enrollments whose contact matches their version's exit_when: one query per
    version."""
    by_version: dict[int, list[Cursor]] = defaultdict(list)
    for cursor in cursors:
        if cursor.enrollment.state == EnrollmentState.ACTIVE:
            by_version[cursor.enrollment.version_id].append(cursor)
    for version_id, group in by_version.items():
        tree = run.versions[version_id].definition.get("exit_when")
        if not tree:
            continue
        matching = contacts_matching(
            tree=tree, contact_ids=[c.contact_id for c in group], now=run.now
        )
        for cursor in group:
            if cursor.contact_id in matching:
                cursor.end(EnrollmentState.EXITED, EXIT_WHEN)


def _save(cursors: Sequence[Cursor], run: Run) -> None:
    step_runs_insert([step_run for cursor in cursors for step_run in cursor.runs])
    if run.finished_runs:
        StepRun.objects.bulk_update(
            run.finished_runs, ["status", "outcome", "detail", "finished_at"]
        )
    enrollments_save([cursor.enrollment for cursor in cursors])


def _trees(run: Run, enrollments: Iterable[Enrollment]) -> dict:
    """The batch's versions and flows (a query each; their flow attached to the enrollments,
    which sends read) and the versions' step trees (cached by automation.flow_tree)."""
    enrollments = list(enrollments)
    run.versions = FlowVersion.objects.in_bulk({e.version_id for e in enrollments})
    flows = Flow.objects.only("id", "name", "status").in_bulk({e.flow_id for e in enrollments})
    for enrollment in enrollments:
        enrollment.flow = flows[enrollment.flow_id]
    return {version_id: flow_tree(version) for version_id, version in run.versions.items()}
