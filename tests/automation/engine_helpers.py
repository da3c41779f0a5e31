"""Building flows and enrollments for the engine tests (definitions with explicit step ids)."""

import datetime as dt

from django.db import transaction

from automation.models import Enrollment, FlowVersion, StepRun
from tests.factories import ContactFactory, EnrollmentFactory, FlowFactory, FlowVersionFactory

NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)


def flow_version(steps: list[dict], *, exit_when: dict | None = None, status: str = "active"):
    definition = {
        "trigger": {"type": "event", "event": "signed_up"},
        "reentry": "never",
        "steps": steps,
    }
    if exit_when is not None:
        definition["exit_when"] = exit_when
    with transaction.atomic():  # saving an active flow stamps its activation (automation.triggers)
        flow = FlowFactory(definition=definition, status=status)
        version = FlowVersionFactory(flow=flow, definition=definition)
        flow.live_version = version
        flow.save()
    return version


def enroll(version: FlowVersion, contact=None, *, now=NOW, **values) -> Enrollment:
    values.setdefault("step_id", version.definition["steps"][0]["id"])
    values.setdefault("next_run_at", now)
    values.setdefault("step_started_at", now)
    return EnrollmentFactory(
        version=version, flow=version.flow, contact=contact or ContactFactory(), **values
    )


def visited(enrollment: Enrollment) -> list[tuple[str, str]]:
    """(step id, outcome) of its step runs, in the order they ran."""
    runs = StepRun.objects.filter(enrollment=enrollment).order_by("pk")
    return list(runs.values_list("step_id", "outcome"))
