"""The flow JSON's sending-rule keys: the flow's "frequency_cap" and a send_email step's
"ignore_send_window", checked with their JSON paths (definition and API)."""

import pytest

from automation.flow_definition import flow_definition_clean
from segflow.errors import InvalidInput
from tests.factories import EmailTemplateFactory

pytestmark = pytest.mark.django_db

TRIGGER = {"type": "event", "event": "cart.updated"}


def definition(**keys) -> dict:
    template = EmailTemplateFactory()
    steps = [{"type": "send_email", "template": template.pk, **keys.pop("step", {})}]
    return {"trigger": TRIGGER, "steps": steps, **keys}


def errors_of(data: dict) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as raised:
        flow_definition_clean(data)
    return raised.value.errors


def test_skip_is_kept_and_the_default_delay_is_not_stored():
    assert flow_definition_clean(definition(frequency_cap="skip"))["frequency_cap"] == "skip"
    assert "frequency_cap" not in flow_definition_clean(definition(frequency_cap="delay"))
    assert "frequency_cap" not in flow_definition_clean(definition())


@pytest.mark.parametrize("value", ["drop", None, 3, ["skip"]])
def test_another_frequency_cap_is_an_error_at_its_path(value):
    assert list(errors_of(definition(frequency_cap=value))) == ["frequency_cap"]


def test_a_send_step_may_ignore_the_send_window():
    cleaned = flow_definition_clean(definition(step={"ignore_send_window": True}))

    assert cleaned["steps"][0]["ignore_send_window"] is True
    assert flow_definition_clean(cleaned) == cleaned


def test_ignore_send_window_must_be_a_boolean():
    errors = errors_of(definition(step={"ignore_send_window": "yes"}))

    assert list(errors) == ["steps[0].ignore_send_window"]


def test_the_api_takes_and_shows_the_flows_frequency_cap(api):
    body = {"name": "Cart", **definition(frequency_cap="skip")}

    created = api.post("/api/v1/flows", body, format="json").json()
    default = api.post(
        "/api/v1/flows", {**body, "name": "Other", "frequency_cap": "delay"}, format="json"
    )
    refused = api.post(
        "/api/v1/flows", {**body, "name": "Bad", "frequency_cap": "x"}, format="json"
    )

    assert created["frequency_cap"] == "skip"
    assert default.json()["frequency_cap"] == "delay"
    assert refused.status_code == 400
    assert [e["path"] for e in refused.json()["errors"]] == ["frequency_cap"]
    changed = api.patch(f"/api/v1/flows/{created['id']}", {"frequency_cap": "delay"}, format="json")
    assert changed.json()["frequency_cap"] == "delay"
