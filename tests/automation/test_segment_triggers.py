import datetime as dt

import pytest
from django.utils import timezone

from automation.models import Enrollment, Flow
from automation.trigger_watch import FEED_CONSUMER
from automation.triggers import segment_transitions_consume
from segments.models import SegmentTransition, TransitionConsumer
from segments.signals import transitions_announce
from tests.automation.live_flow import live_version
from tests.factories import ContactFactory, SegmentFactory

# Committed data: on PostgreSQL the transitions feed never shows a transaction what it wrote
# itself, so the test's transaction must not wrap the writes.
pytestmark = pytest.mark.django_db(transaction=True)


def segment_flow(kind: str, segment, **keys):
    return live_version({"type": f"segment_{kind}", "segment": segment.pk}, **keys)


def transition(segment, contact_id, kind="entered"):
    return SegmentTransition.objects.create(
        segment=segment, contact_id=contact_id, kind=kind, occurred_at=timezone.now()
    )


def consume():
    return segment_transitions_consume(now=timezone.now())


def test_a_contact_entering_the_segment_is_enrolled_once():
    segment = SegmentFactory()
    version = segment_flow("entered", segment, reentry="always")
    contact = ContactFactory()
    entered = transition(segment, contact.pk)

    assert consume() == 1
    assert consume() == 0

    enrollment = Enrollment.objects.get()
    assert (enrollment.version_id, enrollment.contact_id) == (version.pk, contact.pk)
    assert enrollment.trigger_key == f"transition:{entered.pk}"


def test_a_contact_leaving_the_segment_enrolls_into_the_left_flow_only():
    segment = SegmentFactory()
    entered_flow = segment_flow("entered", segment)
    left_flow = segment_flow("left", segment)
    contact = ContactFactory()
    transition(segment, contact.pk, kind="left")

    consume()

    assert list(Enrollment.objects.values_list("flow_id", flat=True)) == [left_flow.flow_id]
    assert entered_flow.flow_id != left_flow.flow_id


def test_transitions_of_other_segments_are_passed_over_and_enroll_nobody():
    segment = SegmentFactory()
    segment_flow("entered", segment)
    consume()  # the flows' cursor starts here
    passed = [transition(SegmentFactory(), ContactFactory().pk) for _ in range(3)]

    assert consume() == 0  # not even loaded: no flow is triggered by their segments
    assert not Enrollment.objects.exists()
    cursor = TransitionConsumer.objects.get(name=FEED_CONSUMER)
    assert (cursor.last_xact_id, cursor.last_transition_id) >= (passed[-1].xact_id, passed[-1].pk)

    entered = transition(segment, ContactFactory().pk)
    assert consume() == 1
    assert Enrollment.objects.get().trigger_key == f"transition:{entered.pk}"


def test_with_no_flow_triggered_by_a_segment_the_feed_is_passed_over():
    consume()
    for _ in range(3):
        transition(SegmentFactory(), ContactFactory().pk)

    assert consume() == 0
    segment = SegmentFactory()
    segment_flow("entered", segment)
    entered = transition(segment, ContactFactory().pk)
    assert consume() == 1
    assert Enrollment.objects.get().trigger_key == f"transition:{entered.pk}"


def test_a_deleted_contacts_transition_is_consumed_without_enrolling():
    segment = SegmentFactory()
    segment_flow("left", segment)
    gone = ContactFactory()
    gone_id = gone.pk
    gone.delete()
    transition(segment, gone_id, kind="left")

    assert consume() == 1
    assert not Enrollment.objects.exists()


def test_a_transition_from_before_the_activation_does_not_enroll():
    segment = SegmentFactory()
    version = segment_flow("entered", segment)
    transition(segment, ContactFactory().pk)
    Flow.objects.filter(pk=version.flow_id).update(
        activated_at=timezone.now() + dt.timedelta(seconds=1)
    )

    assert consume() == 1
    assert not Enrollment.objects.exists()


def test_announced_transitions_wake_the_consumer():
    segment = SegmentFactory()
    segment_flow("entered", segment)
    transition(segment, ContactFactory().pk)

    transitions_announce()  # what an evaluation's commit does (tasks run inline here)

    assert Enrollment.objects.count() == 1
