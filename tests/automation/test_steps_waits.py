import datetime as dt

import pytest

from automation.engine import enrollments_advance
from tests.automation.engine_helpers import NOW, enroll, flow_version, visited
from tests.factories import (
    ContactFactory,
    ContactTagFactory,
    CustomFieldFactory,
    EventFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


def advance(enrollment, now=NOW):
    enrollments_advance(enrollments=[enrollment], now=now)
    enrollment.refresh_from_db()
    return enrollment


def wait_then_exit(wait: dict) -> list[dict]:
    return [{"id": "w", **wait}, {"id": "after", "type": "exit"}]


# wait


def test_a_wait_sleeps_until_its_start_plus_the_duration():
    version = flow_version(wait_then_exit({"type": "wait", "duration": {"hours": 2}}))
    enrollment = advance(enroll(version, step_started_at=NOW - HOUR))

    assert (enrollment.step_id, enrollment.sleeping) == ("w", True)
    assert enrollment.next_run_at == NOW + HOUR
    assert visited(enrollment) == []


def test_a_wait_that_is_over_runs_the_next_step():
    version = flow_version(wait_then_exit({"type": "wait", "duration": {"hours": 2}}))
    enrollment = advance(enroll(version, step_started_at=NOW - 2 * HOUR))

    assert visited(enrollment) == [("w", ""), ("after", "")]
    assert (enrollment.state, enrollment.exit_reason) == ("exited", "exit_step")


def test_a_wait_woken_early_sleeps_again_until_it_is_due():
    version = flow_version(wait_then_exit({"type": "wait", "duration": {"days": 1}}))
    enrollment = enroll(version, step_started_at=NOW - HOUR, sleeping=True)  # woken: due now

    enrollment = advance(enrollment)

    assert enrollment.sleeping is True
    assert enrollment.next_run_at == NOW + dt.timedelta(hours=23)
    assert visited(enrollment) == []


def test_a_wait_woken_early_exits_when_exit_when_now_holds():
    version = flow_version(
        wait_then_exit({"type": "wait", "duration": {"days": 1}}),
        exit_when={"type": "tag", "op": "has", "tag": "customer"},
    )
    contact = ContactFactory()
    ContactTagFactory(contact=contact, tag=TagFactory(name="customer"))
    enrollment = advance(enroll(version, contact, sleeping=True))

    assert (enrollment.state, enrollment.exit_reason) == ("exited", "exit_when")
    assert visited(enrollment) == []


# wait_until


@pytest.fixture
def trial_ends():
    return CustomFieldFactory(key="trial_ends", type="date")


def trial_reminder():
    return flow_version(
        wait_then_exit({"type": "wait_until", "field": "trial_ends", "offset": {"days": -1}})
    )


def test_wait_until_a_date_is_that_day_at_midnight_in_the_contacts_time_zone(trial_ends):
    contact = ContactFactory(timezone="America/New_York", fields={"trial_ends": "2026-11-10"})
    enrollment = advance(enroll(trial_reminder(), contact))

    # 2026-11-09 00:00 in New York (EST, UTC-5)
    assert enrollment.next_run_at == dt.datetime(2026, 11, 9, 5, 0, tzinfo=dt.UTC)
    assert enrollment.sleeping is True


def test_wait_until_without_a_time_zone_uses_utc(trial_ends):
    contact = ContactFactory(timezone=None, fields={"trial_ends": "2026-11-10"})
    enrollment = advance(enroll(trial_reminder(), contact))

    assert enrollment.next_run_at == dt.datetime(2026, 11, 9, tzinfo=dt.UTC)


def test_wait_until_offset_days_keep_the_local_time_across_a_dst_change():
    CustomFieldFactory(key="renews_at", type="datetime")
    version = flow_version(
        wait_then_exit({"type": "wait_until", "field": "renews_at", "offset": {"days": -1}})
    )
    # 2026-11-01 09:00 in New York is EST; the day before is still EDT (DST ends 11-01 2:00)
    contact = ContactFactory(
        timezone="America/New_York", fields={"renews_at": "2026-11-01T14:00:00Z"}
    )
    enrollment = advance(
        enroll(version, contact, now=NOW - dt.timedelta(days=3)), NOW - dt.timedelta(days=3)
    )

    # 2026-10-31 09:00 EDT, not 24 hours before (08:00 EDT)
    assert enrollment.next_run_at == dt.datetime(2026, 10, 31, 13, 0, tzinfo=dt.UTC)


def test_wait_until_a_builtin_datetime_with_an_hour_offset():
    version = flow_version(
        wait_then_exit({"type": "wait_until", "field": "created_at", "offset": {"hours": 5}})
    )
    contact = ContactFactory(created_at=NOW - HOUR)
    enrollment = advance(enroll(version, contact))

    assert enrollment.next_run_at == NOW + 4 * HOUR


def test_wait_until_without_the_field_exits(trial_ends):
    enrollment = advance(enroll(trial_reminder(), ContactFactory(fields={})))

    assert (enrollment.state, enrollment.exit_reason) == ("exited", "wait_until_field_missing")


def test_wait_until_a_moment_past_by_more_than_the_grace_exits_without_firing(trial_ends, settings):
    settings.FLOW_WAIT_UNTIL_GRACE_SECONDS = 3600
    # due 2026-11-01 00:00 UTC, now is 2026-11-02 12:00
    contact = ContactFactory(fields={"trial_ends": "2026-11-02"})
    enrollment = advance(enroll(trial_reminder(), contact))

    assert (enrollment.state, enrollment.exit_reason) == ("exited", "wait_until_passed")
    assert visited(enrollment) == [("w", "wait_until_passed")]


def test_wait_until_a_moment_past_within_the_grace_goes_on_at_once(trial_ends, settings):
    settings.FLOW_WAIT_UNTIL_GRACE_SECONDS = 13 * 3600
    contact = ContactFactory(fields={"trial_ends": "2026-11-03"})  # due 11-02 00:00, 12 h ago
    enrollment = advance(enroll(trial_reminder(), contact))

    assert [step for step, _ in visited(enrollment)] == ["w", "after"]


# wait_for_event


def waiting_for_purchase():
    return flow_version(
        [
            {
                "id": "w",
                "type": "wait_for_event",
                "event": "purchase",
                "timeout": {"days": 2},
                "on_event": [{"id": "thanks", "type": "tag", "add": ["buyer"]}],
                "on_timeout": [{"id": "nudge", "type": "tag", "add": ["nudged"]}],
            },
            {"id": "end", "type": "exit"},
        ]
    )


def test_wait_for_event_sleeps_until_the_timeout_waiting_for_its_event():
    enrollment = advance(enroll(waiting_for_purchase(), step_started_at=NOW - HOUR))

    assert (enrollment.sleeping, enrollment.waiting_for_event) == (True, "purchase")
    assert enrollment.next_run_at == NOW + dt.timedelta(hours=47)


def test_wait_for_event_takes_on_event_for_an_event_since_the_step_started():
    contact = ContactFactory()
    EventFactory(contact=contact, name="purchase", occurred_at=NOW - dt.timedelta(minutes=5))
    enrollment = enroll(waiting_for_purchase(), contact, step_started_at=NOW - HOUR, sleeping=True)

    enrollment = advance(enrollment)

    assert visited(enrollment) == [("w", "on_event"), ("thanks", ""), ("end", "")]


def test_wait_for_event_ignores_an_event_before_the_step_started():
    contact = ContactFactory()
    EventFactory(contact=contact, name="purchase", occurred_at=NOW - 2 * HOUR)
    enrollment = advance(enroll(waiting_for_purchase(), contact, step_started_at=NOW - HOUR))

    assert enrollment.sleeping is True
    assert visited(enrollment) == []


def test_wait_for_event_takes_on_timeout_once_the_timeout_passed():
    enrollment = advance(enroll(waiting_for_purchase(), step_started_at=NOW - dt.timedelta(days=2)))

    assert visited(enrollment) == [("w", "on_timeout"), ("nudge", ""), ("end", "")]
    assert enrollment.waiting_for_event is None
