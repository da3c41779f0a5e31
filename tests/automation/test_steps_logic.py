import collections
import datetime as dt

import pytest

from automation.engine import enrollments_advance
from automation.steps.logic import split_variant
from tests.automation.engine_helpers import NOW, enroll, flow_version, visited
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def advance(*enrollments):
    enrollments_advance(enrollments=enrollments, now=NOW)
    for enrollment in enrollments:
        enrollment.refresh_from_db()


def scored_branch():
    return flow_version(
        [
            {
                "id": "hot",
                "type": "branch",
                "condition": {"type": "field", "field": "lead_score", "op": "gte", "value": 50},
                "yes": [{"id": "yes-tag", "type": "tag", "add": ["hot"]}],
                "no": [],
            },
            {"id": "rejoin", "type": "wait", "duration": {"days": 1}},
        ]
    )


def test_a_branch_takes_yes_for_matching_contacts_and_rejoins_after_it():
    version = scored_branch()
    hot = enroll(version, ContactFactory(lead_score=80))
    cold = enroll(version, ContactFactory(lead_score=10))

    advance(hot, cold)

    assert visited(hot) == [("hot", "yes"), ("yes-tag", "")]
    assert visited(cold) == [("hot", "no")]  # an empty path goes on after the branch
    assert hot.step_id == cold.step_id == "rejoin"


def test_a_branch_evaluates_its_condition_once_for_the_whole_batch(
    django_assert_max_num_queries,
):
    version = scored_branch()
    cold = [enroll(version, ContactFactory(lead_score=1)) for _ in range(20)]

    # claim, version, branch, step runs, enrollments, savepoint pairs: not one per contact
    with django_assert_max_num_queries(10):
        enrollments_advance(enrollments=cold, now=NOW)

    assert all(visited(e) == [("hot", "no")] for e in cold)


def test_an_enrollment_completes_past_the_last_step():
    enrollment = enroll(flow_version([{"id": "only", "type": "tag", "add": ["seen"]}]))

    advance(enrollment)

    assert (enrollment.state, enrollment.step_id, enrollment.ended_at) == ("completed", None, NOW)
    assert enrollment.next_run_at is None


def test_an_exit_step_ends_the_enrollment_and_skips_what_follows():
    version = flow_version(
        [
            {
                "id": "b",
                "type": "branch",
                "condition": {"type": "field", "field": "lead_score", "op": "gte", "value": 0},
                "yes": [{"id": "out", "type": "exit"}],
                "no": [],
            },
            {"id": "never", "type": "tag", "add": ["x"]},
        ]
    )
    enrollment = enroll(version)

    advance(enrollment)

    assert (enrollment.state, enrollment.exit_reason) == ("exited", "exit_step")
    assert visited(enrollment) == [("b", "yes"), ("out", "")]


def test_a_split_sends_each_contact_down_its_variant():
    version = flow_version(
        [
            {
                "id": "ab",
                "type": "split",
                "variants": [
                    {"percent": 50, "steps": [{"id": "a", "type": "tag", "add": ["a"]}]},
                    {"percent": 50, "steps": [{"id": "b", "type": "tag", "add": ["b"]}]},
                ],
            }
        ]
    )
    enrollments = [enroll(version) for _ in range(12)]

    advance(*enrollments)

    for enrollment in enrollments:
        index = split_variant(
            flow_id=version.flow_id,
            contact_id=enrollment.contact_id,
            step_id="ab",
            percents=[50, 50],
        )
        assert visited(enrollment) == [("ab", f"variant:{index}"), ("ab"[index], "")]


def test_split_variants_are_stable_and_follow_the_percentages():
    def variant(contact_id):
        return split_variant(flow_id=7, contact_id=contact_id, step_id="s", percents=[20, 80])

    counts = collections.Counter(variant(contact_id) for contact_id in range(10_000))

    assert [variant(contact_id) for contact_id in range(50)] == [variant(c) for c in range(50)]
    assert 1800 < counts[0] < 2200
    assert counts[0] + counts[1] == 10_000


def test_a_split_short_of_100_percent_lets_the_rest_skip_it():
    assert split_variant(flow_id=1, contact_id=1, step_id="s", percents=[0]) is None


def test_exit_when_is_checked_before_the_first_step():
    version = flow_version(
        [{"id": "t", "type": "tag", "add": ["x"]}],
        exit_when={"type": "field", "field": "lead_score", "op": "gt", "value": 100},
    )
    enrollment = enroll(version, ContactFactory(lead_score=101))

    advance(enrollment)

    assert (enrollment.state, enrollment.exit_reason) == ("exited", "exit_when")
    assert visited(enrollment) == []


def test_exit_when_is_checked_again_after_a_step_changed_the_contact():
    version = flow_version(
        [
            {"id": "t", "type": "tag", "add": ["stop"]},
            {"id": "never", "type": "adjust_score", "by": 5},
        ],
        exit_when={"type": "tag", "op": "has", "tag": "stop"},
    )
    enrollment = enroll(version)

    advance(enrollment)

    assert (enrollment.state, enrollment.exit_reason) == ("exited", "exit_when")
    assert visited(enrollment) == [("t", "")]
    assert enrollment.contact.lead_score == 0


def test_exit_when_applies_to_an_enrollment_a_step_just_put_to_sleep():
    version = flow_version(
        [
            {"id": "t", "type": "tag", "add": ["stop"]},
            {"id": "w", "type": "wait", "duration": {"days": 1}},
        ],
        exit_when={"type": "tag", "op": "has", "tag": "stop"},
    )
    enrollment = enroll(version, now=NOW - dt.timedelta(hours=1))

    advance(enrollment)

    assert (enrollment.state, enrollment.exit_reason) == ("exited", "exit_when")
