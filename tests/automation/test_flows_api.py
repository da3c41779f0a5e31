"""The flows API: CRUD with the definition's errors by JSON path, activation and versions,
pause, archive, enrollments per flow and per contact."""

import datetime as dt

import pytest

from automation.models import Enrollment, Flow
from tests.factories import (
    ContactFactory,
    EnrollmentFactory,
    FlowFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)

pytestmark = pytest.mark.django_db

WAIT = {"type": "wait", "duration": {"hours": 1}}
BODY = {
    "name": "Welcome",
    "trigger": {"type": "event", "event": "signed_up"},
    "steps": [WAIT, {"type": "tag", "add": ["welcomed"]}],
}


def create(api, **changes):
    response = api.post("/api/v1/flows", {**BODY, **changes}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def error_paths(response) -> set[str]:
    assert response.status_code == 400, response.json()
    return {error["path"] for error in response.json()["errors"]}


# --- create, read, list ----------------------------------------------------------------------


def test_create_returns_the_flow_as_a_draft_with_step_ids(api):
    flow = create(api)

    assert flow["status"] == "draft"
    assert flow["trigger"] == BODY["trigger"]
    assert [step["id"] for step in flow["steps"]] == ["wait-1", "tag-1"]
    assert (flow["reentry"], flow["exit_when"], flow["goal"], flow["holdout_percent"]) == (
        "never",
        None,
        None,
        0,
    )
    assert (flow["live_version"], flow["version_count"], flow["unpublished_changes"]) == (
        None,
        0,
        True,
    )
    assert set(flow) >= {"id", "name", "created_at", "updated_at"}


def test_create_active_is_live_at_once(api):
    flow = create(api, status="active")

    assert (flow["status"], flow["live_version"], flow["version_count"]) == ("active", 1, 1)
    assert flow["unpublished_changes"] is False


def test_create_reports_body_and_definition_errors_together(api):
    body = {
        "name": "",
        "trigger": {"type": "event"},
        "holdout_percent": 70,
        "steps": [{"type": "wait", "duration": {"days": 0}}, {"type": "webhook", "url": "x"}],
    }

    response = api.post("/api/v1/flows", body, format="json")

    assert error_paths(response) == {
        "name",
        "trigger.event",
        "holdout_percent",
        "steps[0].duration.days",
        "steps[1].url",
    }
    assert not Flow.objects.exists()


def test_create_requires_name_trigger_and_steps(api):
    response = api.post("/api/v1/flows", {}, format="json")

    assert error_paths(response) == {"name", "trigger", "steps"}


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"colour": "blue"}, "colour"),
        ({"status": "archived"}, "status"),
        ({"name": 5}, "name"),
        ({"steps": []}, "steps"),
        ({"steps": [{"type": "branch", "yes": [], "no": [WAIT]}]}, "steps[0].yes"),
        ({"reentry": {"after": {"days": -1}}}, "reentry.after.days"),
        ({"exit_when": {"type": "segment", "op": "in"}}, "exit_when.segment"),
        ({"goal": {"event": "purchase"}}, "goal.within"),
    ],
)
def test_create_errors_name_their_path(api, changes, path):
    response = api.post("/api/v1/flows", {**BODY, **changes}, format="json")

    assert path in error_paths(response)


@pytest.mark.parametrize("body", [[], "flow", 3])
def test_a_body_that_is_not_an_object_is_a_400(api, body):
    response = api.post("/api/v1/flows", body, format="json")

    assert response.status_code == 400


def test_retrieve_and_404(api):
    flow = create(api)

    assert api.get(f"/api/v1/flows/{flow['id']}").json() == flow
    assert api.get(f"/api/v1/flows/{flow['id'] + 1000}").status_code == 404


def test_list_filters_by_status(api, django_assert_max_num_queries):
    draft = create(api, name="A")
    active = create(api, name="B", status="active")
    create(api, name="C", status="active")

    with django_assert_max_num_queries(4):
        response = api.get("/api/v1/flows?status=active")

    listed = response.json()
    assert listed["count"] == 2
    assert active["id"] in {flow["id"] for flow in listed["results"]}
    assert [flow["id"] for flow in api.get("/api/v1/flows?status=draft").json()["results"]] == [
        draft["id"]
    ]
    assert error_paths(api.get("/api/v1/flows?status=running")) == {"status"}


# --- edit and delete -------------------------------------------------------------------------


def test_patch_changes_only_the_given_keys(api):
    flow = create(api)

    response = api.patch(
        f"/api/v1/flows/{flow['id']}", {"name": "Hello", "holdout_percent": 10}, format="json"
    )

    patched = response.json()
    assert (patched["name"], patched["holdout_percent"]) == ("Hello", 10)
    assert patched["steps"] == flow["steps"] and patched["trigger"] == flow["trigger"]


def test_a_representation_sent_back_as_a_patch_changes_nothing(api):
    flow = create(api, status="active")

    response = api.patch(f"/api/v1/flows/{flow['id']}", flow, format="json")

    assert response.status_code == 200
    assert response.json()["unpublished_changes"] is False
    assert response.json()["steps"] == flow["steps"]


def test_patched_steps_are_a_draft_until_activation(api):
    flow = create(api, status="active")

    patched = api.patch(
        f"/api/v1/flows/{flow['id']}", {"steps": [{"type": "exit"}]}, format="json"
    ).json()

    assert (patched["live_version"], patched["unpublished_changes"]) == (1, True)
    activated = api.post(f"/api/v1/flows/{flow['id']}/activate").json()
    assert (activated["live_version"], activated["unpublished_changes"]) == (2, False)


def test_patch_errors_name_their_path_and_change_nothing(api):
    flow = create(api)

    response = api.patch(
        f"/api/v1/flows/{flow['id']}",
        {"steps": [WAIT, {"type": "adjust_score", "by": 0}], "name": "Bad"},
        format="json",
    )

    assert error_paths(response) == {"steps[1].by"}
    assert api.get(f"/api/v1/flows/{flow['id']}").json()["name"] == "Welcome"


def test_patch_can_remove_exit_when(api):
    flow = create(api, exit_when={"type": "tag", "op": "has", "tag": "customer"})

    patched = api.patch(f"/api/v1/flows/{flow['id']}", {"exit_when": None}, format="json")

    assert patched.json()["exit_when"] is None


def test_patch_of_a_missing_flow_is_a_404(api):
    assert api.patch("/api/v1/flows/999999", {"name": "x"}, format="json").status_code == 404


def test_delete_a_flow_without_enrollments(api):
    flow = create(api, status="active")

    assert api.delete(f"/api/v1/flows/{flow['id']}").status_code == 204
    assert not Flow.objects.exists()


def test_delete_a_flow_with_enrollments_is_a_409(api):
    flow = create(api, status="active")
    live = Flow.objects.get(pk=flow["id"]).live_version
    EnrollmentFactory(version=live)

    response = api.delete(f"/api/v1/flows/{flow['id']}")

    assert response.status_code == 409
    assert "archive" in response.json()["detail"]


# --- activate, pause, archive, versions ------------------------------------------------------


def test_activate_returns_the_flow_with_its_version(api):
    flow = create(api)

    response = api.post(f"/api/v1/flows/{flow['id']}/activate")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["live_version"]) == ("active", 1)


def test_activate_with_the_segments_current_members(api):
    segment = SegmentFactory()
    members = [SegmentMembershipFactory(segment=segment).contact_id for _ in range(2)]
    flow = create(api, trigger={"type": "segment_entered", "segment": segment.pk})

    response = api.post(
        f"/api/v1/flows/{flow['id']}/activate", {"enroll_current_members": True}, format="json"
    )

    assert response.status_code == 200
    enrolled = Enrollment.objects.filter(flow_id=flow["id"]).values_list("contact_id", flat=True)
    assert sorted(enrolled) == sorted(members)


@pytest.mark.parametrize(
    "body", [{"enroll_current_members": "yes"}, {"enroll_current_members": 1}, {"x": True}]
)
def test_activate_body_errors(api, body):
    flow = create(api)

    response = api.post(f"/api/v1/flows/{flow['id']}/activate", body, format="json")

    assert response.status_code == 400
    assert Flow.objects.get(pk=flow["id"]).status == "draft"


def test_enrolling_current_members_of_an_event_flow_is_a_400_with_its_path(api):
    flow = create(api)

    response = api.post(
        f"/api/v1/flows/{flow['id']}/activate", {"enroll_current_members": True}, format="json"
    )

    assert error_paths(response) == {"enroll_current_members"}


def test_activating_an_archived_flow_is_a_409(api):
    flow = create(api)
    api.post(f"/api/v1/flows/{flow['id']}/archive")

    response = api.post(f"/api/v1/flows/{flow['id']}/activate")

    assert response.status_code == 409


def test_pause_and_resume(api):
    flow = create(api, status="active")

    paused = api.post(f"/api/v1/flows/{flow['id']}/pause").json()
    resumed = api.post(f"/api/v1/flows/{flow['id']}/activate").json()

    assert paused["status"] == "paused"
    assert (resumed["status"], resumed["live_version"]) == ("active", 1)


def test_pausing_a_draft_is_a_409(api):
    flow = create(api)

    assert api.post(f"/api/v1/flows/{flow['id']}/pause").status_code == 409


def test_archive_exits_active_enrollments(api):
    flow = create(api, status="active")
    enrollment = EnrollmentFactory(version=Flow.objects.get(pk=flow["id"]).live_version)

    response = api.post(f"/api/v1/flows/{flow['id']}/archive")

    assert response.json()["status"] == "archived"
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.exit_reason) == ("exited", "flow_archived")


@pytest.mark.parametrize("action", ["activate", "pause", "archive", "versions", "enrollments"])
def test_actions_on_a_missing_flow_are_404s(api, action):
    method = api.get if action in ("versions", "enrollments") else api.post

    assert method(f"/api/v1/flows/999999/{action}").status_code == 404


def test_versions_newest_first(api):
    flow = create(api, status="active")
    api.patch(f"/api/v1/flows/{flow['id']}", {"holdout_percent": 5}, format="json")
    api.post(f"/api/v1/flows/{flow['id']}/activate")

    versions = api.get(f"/api/v1/flows/{flow['id']}/versions").json()

    assert versions["count"] == 2
    assert [v["number"] for v in versions["results"]] == [2, 1]
    assert versions["results"][0]["definition"]["holdout_percent"] == 5
    assert versions["results"][1]["trigger_type"] == "event"


# --- enrollments -----------------------------------------------------------------------------


def test_flow_enrollments_list_filters_by_state(api, django_assert_max_num_queries):
    flow = create(api, status="active")
    live = Flow.objects.get(pk=flow["id"]).live_version
    at = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
    active = EnrollmentFactory(version=live, enrolled_at=at, next_run_at=at, holdout=True)
    EnrollmentFactory(version=live, state="exited", exit_reason="exit_step", enrolled_at=at)
    EnrollmentFactory()  # another flow

    with django_assert_max_num_queries(4):
        response = api.get(f"/api/v1/flows/{flow['id']}/enrollments?state=active")

    page = response.json()
    assert page["count"] == 1
    assert page["results"][0] == {
        "id": active.pk,
        "flow": flow["id"],
        "contact": active.contact_id,
        "version": 1,
        "state": "active",
        "step_id": "s1",
        "next_run_at": "2026-11-24T09:00:00Z",
        "holdout": True,
        "exit_reason": "",
        "delay_reason": "",
        "enrolled_at": "2026-11-24T09:00:00Z",
        "ended_at": None,
    }
    assert api.get(f"/api/v1/flows/{flow['id']}/enrollments").json()["count"] == 2
    assert error_paths(api.get(f"/api/v1/flows/{flow['id']}/enrollments?state=x")) == {"state"}


def test_a_contacts_enrollments_across_flows(api):
    contact = ContactFactory()
    first = EnrollmentFactory(contact=contact)
    second = EnrollmentFactory(contact=contact, version__flow=FlowFactory(), state="completed")
    EnrollmentFactory()  # someone else

    page = api.get(f"/api/v1/contacts/{contact.pk}/enrollments").json()

    assert {row["id"] for row in page["results"]} == {first.pk, second.pk}
    assert {row["flow"] for row in page["results"]} == {first.flow_id, second.flow_id}
    completed = api.get(f"/api/v1/contacts/{contact.pk}/enrollments?state=completed").json()
    assert [row["id"] for row in completed["results"]] == [second.pk]


def test_enrollments_of_a_missing_contact_are_a_404(api):
    assert api.get("/api/v1/contacts/999999/enrollments").status_code == 404


def test_the_api_needs_a_key(client):
    assert client.get("/api/v1/flows").status_code == 401
