"""Flow services: create, edit, activation and versioning, pause, archive, delete."""

import datetime as dt
import threading

import pytest
from django.db import connection

from automation.flow_services import (
    FlowConflict,
    flow_activate,
    flow_archive,
    flow_create,
    flow_delete,
    flow_pause,
    flow_update,
)
from automation.models import Enrollment, Flow, FlowVersion
from segflow.errors import InvalidInput
from tests.factories import (
    ContactFactory,
    EmailTemplateFactory,
    EnrollmentFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=1)
WAIT = {"type": "wait", "duration": {"hours": 1}}


def definition(*steps, trigger=None, **keys) -> dict:
    trigger = trigger or {"type": "event", "event": "signed_up"}
    return {"trigger": trigger, "steps": list(steps) or [WAIT], **keys}


def draft(**keys) -> Flow:
    return flow_create(name="Welcome", definition=definition(**keys), now=NOW)


# --- create and edit -------------------------------------------------------------------------


def test_create_stores_the_normalised_definition_as_a_draft_without_a_version():
    flow = draft()

    flow.refresh_from_db()
    assert flow.status == "draft"
    assert flow.live_version is None
    assert flow.definition["steps"] == [{"id": "wait-1", **WAIT}]
    assert flow.definition["reentry"] == "never"
    assert not FlowVersion.objects.exists()


def test_create_refuses_an_invalid_definition_and_stores_nothing():
    with pytest.raises(InvalidInput) as raised:
        flow_create(name="Bad", definition=definition({"type": "wait"}), now=NOW)

    assert set(raised.value.errors) == {"steps[0].duration"}
    assert not Flow.objects.exists()


def test_create_active_activates_at_once():
    flow = flow_create(name="Live", definition=definition(), status="active", now=NOW)

    flow.refresh_from_db()
    assert flow.status == "active"
    assert flow.live_version.number == 1


@pytest.mark.parametrize("status", ["paused", "archived", "nonsense"])
def test_a_new_flow_is_draft_or_active(status):
    with pytest.raises(InvalidInput) as raised:
        flow_create(name="X", definition=definition(), status=status, now=NOW)

    assert list(raised.value.errors) == ["status"]


def test_update_changes_the_draft_definition_but_not_the_live_version():
    flow = flow_activate(flow=draft(), now=NOW)

    flow_update(flow=flow, name="Renamed", definition=definition({"type": "exit"}))

    flow.refresh_from_db()
    assert flow.name == "Renamed"
    assert flow.definition["steps"] == [{"id": "exit-1", "type": "exit"}]
    assert flow.live_version.definition["steps"][0]["type"] == "wait"
    assert flow.versions.count() == 1


def test_update_refuses_an_invalid_definition():
    flow = draft()

    with pytest.raises(InvalidInput):
        flow_update(flow=flow, definition=definition(holdout_percent=90))

    flow.refresh_from_db()
    assert flow.definition["holdout_percent"] == 0


def test_update_takes_only_editable_keys():
    with pytest.raises(TypeError):
        flow_update(flow=draft(), status="active")


# --- activation and versioning ---------------------------------------------------------------


def test_first_activation_freezes_version_1_with_the_trigger_columns():
    segment = SegmentFactory()
    flow = draft(trigger={"type": "segment_entered", "segment": segment.pk})

    flow = flow_activate(flow=flow, now=NOW)

    version = flow.live_version
    assert (flow.status, version.number, version.created_at) == ("active", 1, NOW)
    assert version.definition == flow.definition
    assert (version.trigger_type, version.trigger_segment_id, version.trigger_event) == (
        "segment_entered",
        segment.pk,
        None,
    )


def test_an_event_trigger_is_copied_to_its_column():
    flow = flow_activate(flow=draft(), now=NOW)

    assert (flow.live_version.trigger_type, flow.live_version.trigger_event) == (
        "event",
        "signed_up",
    )


def test_activating_an_unchanged_flow_again_makes_no_version():
    flow = flow_activate(flow=draft(), now=NOW)

    again = flow_activate(flow=flow, now=LATER)

    assert again.live_version_id == flow.live_version_id
    assert FlowVersion.objects.count() == 1


def test_activating_an_edited_flow_makes_the_next_version_and_in_flight_enrollments_stay():
    flow = flow_activate(flow=draft(), now=NOW)
    first = flow.live_version
    enrollment = EnrollmentFactory(version=first, step_id="wait-1")
    flow_update(flow=flow, definition=definition({"type": "exit"}))

    flow = flow_activate(flow=flow, now=LATER)

    assert flow.live_version.number == 2
    assert flow.live_version.definition["steps"][0]["type"] == "exit"
    enrollment.refresh_from_db()
    assert (enrollment.version_id, enrollment.step_id, enrollment.state) == (
        first.pk,
        "wait-1",
        "active",
    )


def test_activation_revalidates_what_the_definition_refers_to():
    template = EmailTemplateFactory()
    flow = draft()
    flow_update(flow=flow, definition=definition({"type": "send_email", "template": template.pk}))
    template.delete()

    with pytest.raises(InvalidInput) as raised:
        flow_activate(flow=flow, now=NOW)

    assert list(raised.value.errors) == ["steps[0].template"]
    flow.refresh_from_db()
    assert (flow.status, flow.live_version) == ("draft", None)


def test_an_archived_flow_cannot_be_activated():
    flow = flow_archive(flow=flow_activate(flow=draft(), now=NOW), now=NOW)

    with pytest.raises(FlowConflict):
        flow_activate(flow=flow, now=LATER)


def test_enroll_current_members_enrolls_the_segments_members_once():
    segment = SegmentFactory()
    members = [SegmentMembershipFactory(segment=segment).contact for _ in range(3)]
    SegmentMembershipFactory(segment=segment, left_at=NOW)  # left: not a member
    ContactFactory()  # not in the segment
    flow = draft(trigger={"type": "segment_entered", "segment": segment.pk})

    flow = flow_activate(flow=flow, enroll_current_members=True, now=NOW)
    flow_activate(flow=flow, enroll_current_members=True, now=LATER)  # same version again

    enrollments = Enrollment.objects.filter(flow=flow).order_by("contact_id")
    version = flow.live_version
    assert [(e.contact_id, e.trigger_key, e.version_id) for e in enrollments] == [
        (c.pk, f"activation:{version.pk}:{c.pk}", version.pk) for c in members
    ]
    assert {(e.step_id, e.next_run_at) for e in enrollments} == {("wait-1", NOW)}


def test_by_default_activation_enrolls_only_future_triggers():
    segment = SegmentFactory()
    SegmentMembershipFactory(segment=segment)

    flow_activate(flow=draft(trigger={"type": "segment_entered", "segment": segment.pk}), now=NOW)

    assert not Enrollment.objects.exists()


@pytest.mark.parametrize("left", [False, True])
def test_enroll_current_members_needs_a_segment_entered_trigger(left):
    segment = SegmentFactory()
    trigger = {"type": "segment_left", "segment": segment.pk} if left else None
    flow = draft(trigger=trigger)

    with pytest.raises(InvalidInput) as raised:
        flow_activate(flow=flow, enroll_current_members=True, now=NOW)

    assert list(raised.value.errors) == ["enroll_current_members"]
    flow.refresh_from_db()
    assert (flow.status, FlowVersion.objects.count()) == ("draft", 0)


# --- pause, archive, delete ------------------------------------------------------------------


def test_pause_stops_the_flow_and_leaves_enrollments_where_they_are():
    flow = flow_activate(flow=draft(), now=NOW)
    enrollment = EnrollmentFactory(version=flow.live_version, step_id="wait-1", next_run_at=NOW)

    flow = flow_pause(flow=flow)

    assert Flow.objects.get(pk=flow.pk).status == "paused"
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.step_id, enrollment.next_run_at) == (
        "active",
        "wait-1",
        NOW,
    )


def test_pausing_a_paused_flow_changes_nothing():
    flow = flow_pause(flow=flow_activate(flow=draft(), now=NOW))

    assert flow_pause(flow=flow).status == "paused"


@pytest.mark.parametrize("archived", [False, True])
def test_only_an_active_flow_can_be_paused(archived):
    flow = draft()
    if archived:
        flow = flow_archive(flow=flow, now=NOW)

    with pytest.raises(FlowConflict):
        flow_pause(flow=flow)


def test_reactivating_a_paused_unchanged_flow_resumes_its_version():
    flow = flow_pause(flow=flow_activate(flow=draft(), now=NOW))

    resumed = flow_activate(flow=flow, now=LATER)

    assert (resumed.status, resumed.live_version.number) == ("active", 1)
    assert FlowVersion.objects.count() == 1


def test_reactivating_a_paused_edited_flow_makes_a_new_version():
    flow = flow_pause(flow=flow_activate(flow=draft(), now=NOW))
    flow_update(flow=flow, definition=definition(holdout_percent=10))

    assert flow_activate(flow=flow, now=LATER).live_version.number == 2


def test_archive_exits_every_active_enrollment_in_one_update(django_assert_max_num_queries):
    flow = flow_activate(flow=draft(), now=NOW)
    active = EnrollmentFactory.create_batch(3, version=flow.live_version, sleeping=True)
    done = EnrollmentFactory(version=flow.live_version, state="completed", ended_at=NOW)

    with django_assert_max_num_queries(6):
        flow_archive(flow=flow, now=LATER)

    assert Flow.objects.get(pk=flow.pk).status == "archived"
    rows = Enrollment.objects.filter(pk__in=[e.pk for e in active])
    assert {(e.state, e.exit_reason, e.ended_at, e.next_run_at, e.sleeping) for e in rows} == {
        ("exited", "flow_archived", LATER, None, False)
    }
    done.refresh_from_db()
    assert (done.state, done.exit_reason, done.ended_at) == ("completed", "", NOW)


def test_archive_leaves_other_flows_enrollments_alone():
    flow = flow_activate(flow=draft(), now=NOW)
    other = EnrollmentFactory()

    flow_archive(flow=flow, now=LATER)

    other.refresh_from_db()
    assert other.state == "active"


def test_a_flow_without_enrollments_can_be_deleted_with_its_versions():
    flow = flow_activate(flow=draft(), now=NOW)

    flow_delete(flow=flow)

    assert not Flow.objects.exists() and not FlowVersion.objects.exists()


def test_a_flow_with_enrollments_cannot_be_deleted():
    flow = flow_activate(flow=draft(), now=NOW)
    EnrollmentFactory(version=flow.live_version, state="completed")

    with pytest.raises(FlowConflict, match="archive it"):
        flow_delete(flow=flow)

    assert Flow.objects.filter(pk=flow.pk).exists()


# --- concurrency -----------------------------------------------------------------------------


def race(function, count: int) -> list:
    """`function` in `count` threads, each with its own connection, released together."""
    barrier = threading.Barrier(count)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(function())
        except Exception as exc:  # re-raised in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_activations_make_one_version():
    flow = draft()

    results = race(lambda: flow_activate(flow=flow, now=NOW), 4)

    assert FlowVersion.objects.filter(flow=flow).count() == 1
    assert {result.live_version_id for result in results} == {
        Flow.objects.get(pk=flow.pk).live_version_id
    }


@pytest.mark.django_db(transaction=True)
def test_concurrent_activations_of_an_edit_make_one_new_version():
    flow = flow_activate(flow=draft(), now=NOW)
    flow_update(flow=flow, definition=definition(holdout_percent=5))

    race(lambda: flow_activate(flow=flow, now=LATER), 4)

    assert sorted(FlowVersion.objects.filter(flow=flow).values_list("number", flat=True)) == [1, 2]
