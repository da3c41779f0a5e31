"""Active flows for the trigger tests, built with the factories (the activation stamp and
the watched-names reset run as for any flow save)."""

from automation.models import Flow, FlowStatus, FlowVersion
from tests.factories import FlowFactory, FlowVersionFactory

WAIT_STEP = {"id": "s1", "type": "wait", "duration": {"hours": 1}}


def flow_definition(trigger: dict, **keys) -> dict:
    return {"trigger": trigger, "reentry": "never", "steps": [dict(WAIT_STEP)], **keys}


def live_version(
    trigger: dict | None = None, *, status: str = FlowStatus.ACTIVE, **keys
) -> FlowVersion:
    """A flow whose live version has this trigger (event "signed_up" by default)."""
    definition = flow_definition(trigger or {"type": "event", "event": "signed_up"}, **keys)
    flow = FlowFactory(definition=definition)
    version = version_add(flow)
    flow.live_version, flow.status = version, status
    flow.save()
    version.flow = Flow.objects.get(pk=flow.pk)
    return version


def version_add(flow: Flow) -> FlowVersion:
    trigger = flow.definition["trigger"]
    return FlowVersionFactory(
        flow=flow,
        definition=flow.definition,
        trigger_type=trigger["type"],
        trigger_event=trigger.get("event"),
        trigger_segment_id=trigger.get("segment"),
    )
