"""Flow admin: edits go through flow_definition_clean (errors with their path, never a 500),
status changes through the services' actions; engine rows are read-only."""

import json

import pytest
from django.utils import timezone

from automation.flow_services import flow_activate, flow_create
from automation.models import Flow
from tests.factories import ContactFactory, EnrollmentFactory, StepRunFactory

pytestmark = pytest.mark.django_db

DEFINITION = {
    "trigger": {"type": "event", "event": "signed_up"},
    "steps": [{"type": "wait", "duration": {"hours": 1}}],
}


def test_admin_creates_a_flow_with_its_normalised_definition(admin_client):
    response = admin_client.post(
        "/admin/automation/flow/add/", {"name": "Welcome", "definition": json.dumps(DEFINITION)}
    )

    assert response.status_code == 302
    flow = Flow.objects.get()
    assert (flow.status, flow.definition["steps"][0]["id"]) == ("draft", "wait-1")


@pytest.mark.parametrize(
    ("definition", "shown"),
    [
        (
            {**DEFINITION, "steps": [{"type": "wait", "duration": {"days": 0}}]},
            "steps[0].duration.days",
        ),
        ({**DEFINITION, "holdout_percent": 90}, "holdout_percent"),
        ([1, 2], "Must be an object"),
    ],
)
def test_admin_shows_definition_errors_with_their_path(admin_client, definition, shown):
    response = admin_client.post(
        "/admin/automation/flow/add/", {"name": "Bad", "definition": json.dumps(definition)}
    )

    assert response.status_code == 200
    assert shown in response.content.decode()
    assert not Flow.objects.exists()


def test_admin_edit_keeps_the_live_version_until_activation(admin_client):
    flow = flow_activate(
        flow=flow_create(name="Welcome", definition=DEFINITION), now=timezone.now()
    )
    edited = {**DEFINITION, "holdout_percent": 10}

    response = admin_client.post(
        f"/admin/automation/flow/{flow.pk}/change/",
        {"name": "Welcome", "definition": json.dumps(edited)},
    )

    assert response.status_code == 302
    flow.refresh_from_db()
    assert flow.definition["holdout_percent"] == 10
    assert flow.live_version.definition["holdout_percent"] == 0


def test_admin_actions_activate_pause_and_archive(admin_client):
    flow = flow_create(name="Welcome", definition=DEFINITION)

    for action, status in [("activate", "active"), ("pause", "paused"), ("archive", "archived")]:
        admin_client.post(
            "/admin/automation/flow/", {"action": action, "_selected_action": [flow.pk]}
        )
        flow.refresh_from_db()
        assert flow.status == status


def test_admin_action_reports_a_refusal(admin_client):
    flow = flow_create(name="Draft", definition=DEFINITION)

    response = admin_client.post(
        "/admin/automation/flow/",
        {"action": "pause", "_selected_action": [flow.pk]},
        follow=True,
    )

    assert "Only an active flow can be paused" in response.content.decode()


def test_a_flow_with_enrollments_cannot_be_deleted_in_the_admin(admin_client):
    flow = flow_activate(
        flow=flow_create(name="Welcome", definition=DEFINITION), now=timezone.now()
    )
    EnrollmentFactory(version=flow.live_version)

    admin_client.post(f"/admin/automation/flow/{flow.pk}/delete/", {"post": "yes"})

    assert Flow.objects.filter(pk=flow.pk).exists()


def test_enrollments_are_searchable_by_contact_email(admin_client):
    EnrollmentFactory(contact=ContactFactory(email="ann@example.com"))
    EnrollmentFactory(contact=ContactFactory(email="bob@example.com"))

    response = admin_client.get("/admin/automation/enrollment/?q=ann@")

    page = response.content.decode()
    assert "ann@example.com" in page and "bob@example.com" not in page


@pytest.mark.parametrize(
    "url",
    [
        "/admin/automation/flow/",
        "/admin/automation/flowversion/",
        "/admin/automation/enrollment/",
        "/admin/automation/steprun/",
        "/admin/automation/pendingflowevent/",
    ],
)
def test_admin_lists_flow_rows(admin_client, url):
    StepRunFactory()

    assert admin_client.get(url).status_code == 200


def test_engine_rows_are_read_only(admin_client):
    run = StepRunFactory()

    assert admin_client.get("/admin/automation/flowversion/add/").status_code == 403
    response = admin_client.get(f"/admin/automation/enrollment/{run.enrollment_id}/change/")
    assert response.status_code == 200  # the page, without a save button
    assert 'name="_save"' not in response.content.decode()
