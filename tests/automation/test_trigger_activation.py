import pytest
from django.utils import timezone

from automation.flow_services import flow_activate, flow_create, flow_pause, flow_update
from automation.models import Flow
from automation.trigger_watch import watched_names, watched_reset
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def activated_flow():
    definition = {
        "trigger": {"type": "event", "event": "signed_up"},
        "steps": [{"type": "wait", "duration": {"hours": 1}}],
    }
    flow = flow_create(name="Welcome", definition=definition)
    return flow_activate(flow=flow, now=timezone.now())


def test_activation_records_when_and_the_last_event_stored_before():
    last = EventFactory()

    flow = activated_flow()

    flow.refresh_from_db()
    assert flow.activated_at is not None
    assert flow.activation_event_id == last.pk


def test_activating_an_active_flow_again_keeps_its_stamp():
    flow = activated_flow()
    stamped = Flow.objects.get(pk=flow.pk).activated_at

    flow_activate(flow=flow, now=timezone.now())

    assert Flow.objects.get(pk=flow.pk).activated_at == stamped


def test_resuming_a_paused_flow_stamps_a_new_activation():
    flow = activated_flow()
    stamped = Flow.objects.get(pk=flow.pk).activated_at
    flow_pause(flow=flow)
    assert Flow.objects.get(pk=flow.pk).activated_at == stamped

    flow_activate(flow=flow, now=timezone.now())

    assert Flow.objects.get(pk=flow.pk).activated_at > stamped


def test_a_new_live_version_stamps_a_new_activation():
    flow = activated_flow()
    stamped = Flow.objects.get(pk=flow.pk).activated_at
    flow = flow_update(
        flow=flow,
        definition={**flow.definition, "steps": [{"type": "wait", "duration": {"hours": 2}}]},
    )

    flow_activate(flow=flow, now=timezone.now())

    assert Flow.objects.get(pk=flow.pk).activated_at > stamped


def test_activation_makes_the_process_watch_the_trigger_at_once():
    watched_reset()
    assert watched_names() == frozenset()

    activated_flow()

    assert watched_names() == {"signed_up"}
