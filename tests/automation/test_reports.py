"""Flow reports: step funnel, enrollments, messages and the goal's lift (automation.reports)."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from automation.models import Enrollment
from automation.reports import flow_report
from contacts.models import Contact, Event
from tests.factories import (
    ContactFactory,
    EnrollmentFactory,
    EventFactory,
    FlowFactory,
    FlowVersionFactory,
    MessageFactory,
    StepRunFactory,
)

pytestmark = pytest.mark.django_db

NOW = timezone.now()
DEFINITION = {
    "trigger": {"type": "event", "event": "signed_up"},
    "reentry": "never",
    "goal": {"event": "purchase", "within": {"days": 7}},
    "holdout_percent": 10,
    "steps": [
        {"id": "w1", "type": "wait", "duration": {"hours": 1}},
        {
            "id": "b1",
            "type": "branch",
            "condition": {"type": "tag", "op": "has", "tag": "vip"},
            "yes": [{"id": "e1", "type": "send_email", "template": 1}],
            "no": [],
        },
        {"id": "h1", "type": "webhook", "url": "https://example.com/hook"},
    ],
}


@pytest.fixture
def version():
    flow = FlowFactory(definition=DEFINITION)
    live = FlowVersionFactory(flow=flow, number=2, definition=DEFINITION)
    flow.live_version = live
    flow.save()
    return live


def _enroll(version, *, state="active", step_id=None, runs=(), **kwargs):
    enrollment = EnrollmentFactory(version=version, state=state, step_id=step_id, **kwargs)
    attempts: dict[str, int] = {}
    for step, status, *outcome in runs:  # a step's runs are its attempts 1, 2, ...
        attempts[step] = attempts.get(step, 0) + 1
        StepRunFactory(
            enrollment=enrollment,
            step_id=step,
            status=status,
            attempt=attempts[step],
            outcome=outcome[0] if outcome else "",
        )
    return enrollment


def _steps(report):
    return {step["id"]: step for step in report["steps"]}


def test_steps_count_entered_completed_and_waiting(version):
    # given
    _enroll(
        version,
        state="completed",
        runs=[
            ("w1", "done"),
            ("b1", "done"),
            ("e1", "done"),
            ("h1", "failed", "retry"),
            ("h1", "done"),
        ],
    )
    _enroll(version, step_id="e1", runs=[("w1", "done"), ("b1", "done"), ("e1", "started")])
    _enroll(version, step_id="w1")
    _enroll(version, state="exited", exit_reason="exit_when", runs=[("w1", "done")])
    _enroll(version, state="exited", exit_reason="exit_when", step_id="w1")  # before w1 ended

    # when
    steps = _steps(flow_report(flow=version.flow))

    # then
    assert steps["w1"] == {
        "id": "w1",
        "type": "wait",
        "in_current_definition": True,
        "entered": 5,
        "completed": 3,
        "waiting": 1,
        "failed": 0,
    }
    assert (steps["b1"]["entered"], steps["b1"]["completed"], steps["b1"]["waiting"]) == (2, 2, 0)
    assert (steps["e1"]["entered"], steps["e1"]["completed"], steps["e1"]["waiting"]) == (2, 1, 1)
    assert (steps["h1"]["entered"], steps["h1"]["completed"], steps["h1"]["failed"]) == (1, 1, 0)


def test_a_step_that_failed_for_good_is_counted_failed_not_completed(version):
    runs = [("w1", "done"), ("b1", "done"), ("h1", "failed", "retry"), ("h1", "failed", "failed")]
    _enroll(version, state="completed", runs=runs)

    step = _steps(flow_report(flow=version.flow))["h1"]

    assert (step["entered"], step["completed"], step["failed"]) == (1, 0, 1)


def test_steps_are_listed_in_document_order_with_their_type(version):
    report = flow_report(flow=version.flow)

    assert [(step["id"], step["type"]) for step in report["steps"]] == [
        ("w1", "wait"),
        ("b1", "branch"),
        ("e1", "send_email"),
        ("h1", "webhook"),
    ]


def test_a_step_only_an_old_version_has_is_listed_after_while_reached(version):
    old_definition = {
        **DEFINITION,
        "steps": [{"id": "old", "type": "wait", "duration": {"days": 1}}],
    }
    old = FlowVersionFactory(flow=version.flow, number=1, definition=old_definition)
    _enroll(old, step_id="old")

    steps = flow_report(flow=version.flow)["steps"]

    assert steps[-1] == {
        "id": "old",
        "type": "wait",
        "in_current_definition": False,
        "entered": 1,
        "completed": 0,
        "waiting": 1,
        "failed": 0,
    }


def test_a_step_of_an_old_version_nobody_reached_is_left_out(version):
    old_definition = {
        **DEFINITION,
        "steps": [{"id": "old", "type": "wait", "duration": {"days": 1}}],
    }
    FlowVersionFactory(flow=version.flow, number=1, definition=old_definition)

    assert "old" not in _steps(flow_report(flow=version.flow))


def test_enrollments_by_state_and_exits_and_failures_by_reason(version):
    _enroll(version, step_id="w1")
    _enroll(version, state="completed")
    _enroll(version, state="exited", exit_reason="exit_when")
    _enroll(version, state="exited", exit_reason="exit_when")
    _enroll(version, state="exited", exit_reason="exit step")
    _enroll(version, state="failed", exit_reason="webhook failed: HTTP 500")

    report = flow_report(flow=version.flow)

    assert report["enrollments"] == {
        "total": 6,
        "active": 1,
        "completed": 1,
        "exited": 3,
        "failed": 1,
    }
    assert report["exits"] == {"exit_when": 2, "exit step": 1}
    assert list(report["exits"]) == ["exit_when", "exit step"]  # most frequent first
    assert report["failures"] == {"webhook failed: HTTP 500": 1}


def test_messages_by_status_and_skipped_by_reason(version):
    flow = version.flow
    for status, reason in [
        ("sent", ""),
        ("sent", ""),
        ("skipped", "holdout"),
        ("skipped", "unsubscribed"),
        ("skipped", "holdout"),
        ("failed", "template error: 'contact' has no attribute 'x' (html, line 1)"),
        ("unknown", ""),
    ]:
        MessageFactory(flow=flow, status=status, reason=reason)
    MessageFactory(flow=flow, status="sent", is_test=True)
    MessageFactory(status="sent")  # another flow's

    messages = flow_report(flow=flow)["messages"]

    assert messages == {
        "queued": 0,
        "sending": 0,
        "sent": 2,
        "skipped": 3,
        "failed": 1,
        "unknown": 1,
        "skipped_by_reason": {"holdout": 2, "unsubscribed": 1},
    }


def test_a_flow_without_a_goal_reports_goal_null():
    flow = FlowFactory()

    assert flow_report(flow=flow)["goal"] is None


def _enroll_at(version, enrolled_at, *, holdout=False, purchase_after=None):
    contact = ContactFactory()
    _enroll(version, state="completed", contact=contact, holdout=holdout, enrolled_at=enrolled_at)
    if purchase_after is not None:
        EventFactory(contact=contact, name="purchase", occurred_at=enrolled_at + purchase_after)
    return contact


def test_goal_conversions_count_the_goal_event_within_the_window_after_enrolling(version):
    enrolled = NOW - dt.timedelta(days=20)
    # treated: in the window, at its last moment, after it, before enrolling, none
    _enroll_at(version, enrolled, purchase_after=dt.timedelta(days=2))
    _enroll_at(version, enrolled, purchase_after=dt.timedelta(days=7))
    _enroll_at(version, enrolled, purchase_after=dt.timedelta(days=7, seconds=1))
    _enroll_at(version, enrolled, purchase_after=-dt.timedelta(hours=1))
    _enroll_at(version, enrolled)
    # holdout: one converts, one performs another event
    _enroll_at(version, enrolled, holdout=True, purchase_after=dt.timedelta(hours=3))
    other = _enroll_at(version, enrolled, holdout=True)
    EventFactory(contact=other, name="login", occurred_at=enrolled + dt.timedelta(hours=1))

    goal = flow_report(flow=version.flow)["goal"]

    assert goal["event"] == "purchase" and goal["within"] == {"days": 7}
    assert goal["treated"] == {"enrollments": 5, "conversions": 2, "rate": 0.4}
    assert goal["holdout"] == {"enrollments": 2, "conversions": 1, "rate": 0.5}
    assert goal["lift"]["absolute"] == pytest.approx(-0.1)
    assert "fewer than 30" in goal["caveat"]
    assert "z-test" in goal["method"] and "Wald" in goal["method"]


def _bulk_enroll(version, *, holdout: bool, enrollments: int, conversions: int):
    contacts = Contact.objects.bulk_create(
        Contact(email=f"{'h' if holdout else 't'}{i}@bulk.example.com") for i in range(enrollments)
    )
    Enrollment.objects.bulk_create(
        Enrollment(
            flow=version.flow,
            version=version,
            contact=contact,
            state="completed",
            trigger_key=f"bulk:{contact.pk}",
            holdout=holdout,
            enrolled_at=NOW - dt.timedelta(days=10),
        )
        for contact in contacts
    )
    Event.objects.bulk_create(
        Event(contact=contact, name="purchase", occurred_at=NOW - dt.timedelta(days=9))
        for contact in contacts[:conversions]
    )


def test_the_lift_has_its_wald_interval_and_z_test(version):
    # given 60 / 200 treated and 40 / 200 holdout conversions
    _bulk_enroll(version, holdout=False, enrollments=200, conversions=60)
    _bulk_enroll(version, holdout=True, enrollments=200, conversions=40)

    # when
    goal = flow_report(flow=version.flow)["goal"]

    # then: p1 - p0 = 0.1; unpooled SE = sqrt(.3*.7/200 + .2*.8/200) = 0.0430116;
    # pooled SE = sqrt(.25*.75*(2/200)) = 0.0433013; z = 2.3094; two-sided p = 0.020921
    lift = goal["lift"]
    assert lift["absolute"] == pytest.approx(0.1)
    assert lift["relative"] == pytest.approx(0.5)
    assert lift["ci95"] == pytest.approx([0.1 - 0.0843012, 0.1 + 0.0843012], abs=1e-6)
    assert lift["z"] == pytest.approx(2.309401, abs=1e-5)
    assert lift["p_value"] == pytest.approx(0.020921, abs=1e-5)
    assert lift["significant"] is True
    assert goal["caveat"] is None


def test_no_holdout_means_no_lift(version):
    _enroll_at(version, NOW - dt.timedelta(days=1), purchase_after=dt.timedelta(hours=1))

    goal = flow_report(flow=version.flow)["goal"]

    assert goal["treated"]["rate"] == 1.0
    assert goal["holdout"] == {"enrollments": 0, "conversions": 0, "rate": None}
    assert goal["lift"] is None
    assert "holdout_percent" in goal["caveat"]


def test_equal_rates_of_zero_are_no_difference(version):
    _enroll_at(version, NOW - dt.timedelta(days=1))
    _enroll_at(version, NOW - dt.timedelta(days=1), holdout=True)

    lift = flow_report(flow=version.flow)["goal"]["lift"]

    assert (lift["absolute"], lift["z"], lift["p_value"], lift["significant"]) == (0, 0, 1, False)


def test_the_report_takes_a_handful_of_queries_whatever_the_size(
    version, django_assert_max_num_queries
):
    _bulk_enroll(version, holdout=False, enrollments=300, conversions=30)
    _bulk_enroll(version, holdout=True, enrollments=50, conversions=2)
    for enrollment in Enrollment.objects.all()[:100]:
        StepRunFactory(enrollment=enrollment, step_id="w1")
        MessageFactory(flow=version.flow, enrollment=enrollment, contact=enrollment.contact)
    flow = type(version.flow).objects.get(pk=version.flow_id)

    with django_assert_max_num_queries(6):
        report = flow_report(flow=flow)

    assert report["enrollments"]["total"] == 350
    assert _steps(report)["w1"]["completed"] == 100


# --- API -------------------------------------------------------------------------------------


def test_the_report_api_returns_the_report(api, version):
    _enroll(version, step_id="w1")

    response = api.get(f"/api/v1/flows/{version.flow_id}/report")

    assert response.status_code == 200
    body = response.json()
    assert body["flow"] == {"id": version.flow_id, "name": version.flow.name, "status": "draft"}
    assert body["steps"][0]["waiting"] == 1
    assert body["goal"]["treated"]["enrollments"] == 1


def test_the_report_of_an_unknown_flow_is_404(api):
    assert api.get("/api/v1/flows/999999/report").status_code == 404


def test_the_report_needs_an_api_key(version):
    assert APIClient().get(f"/api/v1/flows/{version.flow_id}/report").status_code == 401
