"""A flow's report: how far its enrollments got, what it sent, and whether it moved the goal.

Every figure is an aggregate computed by the database, in a fixed handful of queries whatever
the flow's size: a step's counts come from the step-run log and the enrollments' current
step, message counts from the message log, goal conversions from one Exists over the
contacts' events per enrollment. The statistics (docs/flow-reports.md) are a two-proportion
z-test and an unpooled Wald interval for the difference of conversion rates.
"""

import datetime as dt
import math

from django.db.models import Count, Exists, OuterRef, Q

from automation.flow_tree import FlowTree
from automation.models import (
    Enrollment,
    EnrollmentState,
    Flow,
    FlowVersion,
    Message,
    MessageStatus,
    StepRun,
    StepRunStatus,
)
from contacts.models import Event

Z_95 = 1.959963984540054  # two-sided 95 % quantile of the standard normal
RETRY_OUTCOME = "retry"  # automation.steps.effects: a failed attempt that will be retried
SMALL_GROUP = 30  # below this many enrollments in a group, the normal approximation is rough
METHOD = (
    "Two-proportion z-test (pooled standard error) for the p-value; 95 % Wald interval "
    "(unpooled standard error) for the absolute lift, the treated rate minus the holdout rate."
)


def flow_report(*, flow: Flow) -> dict:
    definitions = _definitions(flow)
    return {
        "flow": {"id": flow.pk, "name": flow.name, "status": flow.status},
        "steps": _steps(flow, definitions),
        **_enrollments(flow),
        "messages": _messages(flow),
        "goal": _goal(flow, definitions[0]),
    }


def _definitions(flow: Flow) -> list[dict]:
    """The live definition first (the one enrolling now), then the editable one and older
    versions' (their steps may still hold enrollments)."""
    versions = list(
        FlowVersion.objects.filter(flow=flow).order_by("-number").values_list("id", "definition")
    )
    live = [definition for pk, definition in versions if pk == flow.live_version_id]
    others = [definition for pk, definition in versions if pk != flow.live_version_id]
    return [*live, flow.definition, *others]


def _steps(flow: Flow, definitions: list[dict]) -> list[dict]:
    runs = (
        StepRun.objects.filter(enrollment__flow=flow)
        .values("step_id")
        .annotate(
            entered=Count("enrollment_id", distinct=True),
            completed=Count("enrollment_id", distinct=True, filter=Q(status=StepRunStatus.DONE)),
            # A run that failed for good (a retried webhook's earlier attempts are "retry").
            failed=Count(
                "enrollment_id",
                distinct=True,
                filter=Q(status=StepRunStatus.FAILED) & ~Q(outcome=RETRY_OUTCOME),
            ),
        )
    )
    has_run = StepRun.objects.filter(enrollment_id=OuterRef("pk"), step_id=OuterRef("step_id"))
    # An enrollment's step_id is the step it is at, or, once it exited or failed, the step it
    # stopped at (an exit_when before that step ran): it reached that step too.
    at_step = (
        Enrollment.objects.filter(flow=flow, step_id__isnull=False)
        .values("step_id")
        .annotate(
            waiting=Count("id", filter=Q(state=EnrollmentState.ACTIVE)),
            without_run=Count("id", filter=~Exists(has_run)),
        )
        .order_by()
    )
    counts: dict[str, dict] = {}
    for row in runs:
        counts[row["step_id"]] = {key: row[key] for key in ("entered", "completed", "failed")}
    for row in at_step:
        step = counts.setdefault(row["step_id"], {"entered": 0, "completed": 0, "failed": 0})
        step["entered"] += row["without_run"]  # at it, no run of it written (yet)
        step["waiting"] = row["waiting"]
    report = []
    for step_id, step_type, current in _document_order(definitions):
        step = counts.get(step_id, {})
        if not current and not step:
            continue  # a step of an old version that nobody reached
        report.append(
            {
                "id": step_id,
                "type": step_type,
                "in_current_definition": current,
                "entered": step.get("entered", 0),
                "completed": step.get("completed", 0),
                "waiting": step.get("waiting", 0),
                "failed": step.get("failed", 0),
            }
        )
    return report


def _document_order(definitions: list[dict]) -> list[tuple[str, str, bool]]:
    """(step id, type, in the first definition) for every step of the definitions, the first
    definition's steps in document order, then steps only older ones have."""
    seen: dict[str, tuple[str, str, bool]] = {}
    for index, definition in enumerate(definitions):
        tree = FlowTree(definition)
        for step_id in tree.step_ids():
            if step_id not in seen:
                seen[step_id] = (step_id, tree.step(step_id)["type"], index == 0)
    return list(seen.values())


def _enrollments(flow: Flow) -> dict:
    rows = (
        Enrollment.objects.filter(flow=flow)
        .values("state", "exit_reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_state = {state: 0 for state in EnrollmentState.values}
    exits: dict[str, int] = {}
    failures: dict[str, int] = {}
    for row in rows:
        by_state[row["state"]] = by_state.get(row["state"], 0) + row["n"]
        reasons = {EnrollmentState.EXITED: exits, EnrollmentState.FAILED: failures}
        if row["state"] in reasons:
            target = reasons[row["state"]]
            reason = row["exit_reason"] or "unspecified"
            target[reason] = target.get(reason, 0) + row["n"]
    return {
        "enrollments": {"total": sum(by_state.values()), **by_state},
        "exits": _by_count(exits),
        "failures": _by_count(failures),
    }


def _messages(flow: Flow) -> dict:
    rows = (
        Message.objects.filter(flow=flow, is_test=False)
        .values("status", "reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {status: 0 for status in MessageStatus.values}
    skipped: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + row["n"]
        if row["status"] == MessageStatus.SKIPPED:
            reason = row["reason"] or "unspecified"
            skipped[reason] = skipped.get(reason, 0) + row["n"]
    return {**counts, "skipped_by_reason": _by_count(skipped)}


def _by_count(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _goal(flow: Flow, definition: dict) -> dict | None:
    goal = definition.get("goal")
    if not goal:
        return None
    window = dt.timedelta(**goal["within"])
    converted = Event.objects.filter(
        contact_id=OuterRef("contact_id"),
        name=goal["event"],
        occurred_at__gte=OuterRef("enrolled_at"),
        occurred_at__lte=OuterRef("enrolled_at") + window,
    )
    rows = (
        Enrollment.objects.filter(flow=flow)
        .values("holdout")
        .annotate(enrollments=Count("id"), conversions=Count("id", filter=Exists(converted)))
        .order_by()
    )
    groups = {False: (0, 0), True: (0, 0)}
    for row in rows:
        groups[row["holdout"]] = (row["enrollments"], row["conversions"])
    treated, holdout = groups[False], groups[True]
    return {
        "event": goal["event"],
        "within": goal["within"],
        "treated": _group(*treated),
        "holdout": _group(*holdout),
        "lift": _lift(treated, holdout),
        "method": METHOD,
        "caveat": _caveat(treated[0], holdout[0]),
    }


def _group(enrollments: int, conversions: int) -> dict:
    rate = conversions / enrollments if enrollments else None
    return {"enrollments": enrollments, "conversions": conversions, "rate": rate}


def _lift(treated: tuple[int, int], holdout: tuple[int, int]) -> dict | None:
    """Absolute lift p1 - p0 with its 95 % Wald interval, z and the two-sided p-value."""
    (n1, x1), (n0, x0) = treated, holdout
    if not n1 or not n0:
        return None
    p1, p0 = x1 / n1, x0 / n0
    difference = p1 - p0
    unpooled_se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    pooled = (x1 + x0) / (n1 + n0)
    pooled_se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    if pooled_se == 0:  # every contact converted, or none did: no difference at all
        z, p_value = 0.0, 1.0
    else:
        z = difference / pooled_se
        p_value = math.erfc(abs(z) / math.sqrt(2))
    return {
        "absolute": difference,
        "relative": difference / p0 if p0 else None,
        "ci95": [difference - Z_95 * unpooled_se, difference + Z_95 * unpooled_se],
        "z": z,
        "p_value": p_value,
        "significant": p_value < 0.05,
    }


def _caveat(treated: int, holdout: int) -> str | None:
    if not holdout:
        return "No holdout enrollments: set holdout_percent to measure the lift."
    if min(treated, holdout) < SMALL_GROUP:
        return (
            f"A group has fewer than {SMALL_GROUP} enrollments: the normal approximation "
            "behind the test and the interval is rough; treat the lift as indicative."
        )
    return None
