import datetime as dt
import threading

import pytest
from django.db import connection

from automation import scheduler
from automation.engine import enrollments_advance
from automation.models import Enrollment, StepRun
from automation.scheduler import scheduler_tick, steps_reset_stuck
from tests.automation.engine_helpers import NOW, enroll, flow_version, visited
from tests.factories import ContactFactory, StepRunFactory

pytestmark = pytest.mark.django_db

TWO_WAITS = [
    {"id": "first", "type": "wait", "duration": {"hours": 1}},
    {"id": "second", "type": "wait", "duration": {"hours": 1}},
]


def test_a_due_enrollment_runs_its_step_and_sleeps_on_the_next():
    # given
    enrollment = enroll(flow_version(TWO_WAITS), step_started_at=NOW - dt.timedelta(hours=1))
    # when
    advanced = scheduler_tick(now=NOW)
    # then
    enrollment.refresh_from_db()
    assert advanced == 1
    assert visited(enrollment) == [("first", "")]
    assert (enrollment.step_id, enrollment.sleeping) == ("second", True)
    assert enrollment.next_run_at == NOW + dt.timedelta(hours=1)


def test_an_enrollment_not_yet_due_is_left_alone():
    enrollment = enroll(flow_version(TWO_WAITS), next_run_at=NOW + dt.timedelta(seconds=1))

    assert scheduler_tick(now=NOW) == 0
    assert visited(enrollment) == []


def test_a_paused_flows_enrollments_do_not_advance():
    enrollment = enroll(flow_version(TWO_WAITS, status="paused"))

    assert scheduler_tick(now=NOW) == 0
    enrollment.refresh_from_db()
    assert enrollment.next_run_at == NOW


def test_a_tick_claims_batch_after_batch_until_nothing_is_due(monkeypatch):
    monkeypatch.setattr(scheduler, "BATCH", 3)
    version = flow_version(TWO_WAITS)
    enrollments = [enroll(version) for _ in range(7)]

    assert scheduler_tick(now=NOW) == 7
    assert StepRun.objects.count() == 0  # every one started its wait
    assert all(visited(e) == [] for e in enrollments)
    assert not Enrollment.objects.filter(next_run_at__lte=NOW).exists()


def test_a_tick_out_of_time_wakes_the_scheduler_again_for_the_rest(monkeypatch):
    # given: a budget spent after the first batch (tasks run inline in these tests)
    monkeypatch.setattr(scheduler, "BATCH", 2)
    monkeypatch.setattr(scheduler, "TIME_BUDGET", 0)
    version = flow_version(TWO_WAITS)
    for _ in range(5):
        enroll(version, now=NOW - dt.timedelta(minutes=1))
    # when
    advanced = scheduler_tick(now=NOW)
    # then: this tick did one batch, the wake-up's ticks the rest
    assert advanced == 2
    assert not Enrollment.objects.filter(next_run_at__lte=NOW).exists()


def test_the_same_batch_advanced_twice_runs_no_step_twice():
    version = flow_version(TWO_WAITS)
    started = NOW - dt.timedelta(hours=1)
    batch = [enroll(version, step_started_at=started) for _ in range(3)]

    assert enrollments_advance(enrollments=batch, now=NOW) == 3
    assert enrollments_advance(enrollments=batch, now=NOW) == 0
    assert StepRun.objects.count() == 3
    assert all(visited(e) == [("first", "")] for e in batch)


def test_reset_stuck_counts_expired_leases_only():
    version = flow_version([{"id": "hook", "type": "webhook", "url": "https://example.com/"}])
    expired = enroll(version, next_run_at=NOW - dt.timedelta(seconds=1))
    StepRunFactory(enrollment=expired, step_id="hook", status="started")
    leased = enroll(version, next_run_at=NOW + dt.timedelta(minutes=4))
    StepRunFactory(enrollment=leased, step_id="hook", status="started")
    enroll(version)  # due, but no step under way

    assert steps_reset_stuck(now=NOW - dt.timedelta(minutes=1)) == 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scheduler, "task_publish", lambda *args, **kwargs: True)
        assert steps_reset_stuck(now=NOW) == 1


@pytest.mark.postgresql  # row locks between connections
@pytest.mark.django_db(transaction=True)
def test_two_ticks_at_once_on_their_own_connections_run_every_step_exactly_once():
    # given: 2,000 due enrollments, each at a wait that is over
    version = flow_version(TWO_WAITS)
    started = NOW - dt.timedelta(hours=2)
    contacts = ContactFactory.create_batch(2000)
    Enrollment.objects.bulk_create(
        Enrollment(
            flow=version.flow,
            version=version,
            contact=contact,
            step_id="first",
            next_run_at=started,
            step_started_at=started,
            trigger_key=f"race:{contact.pk}",
        )
        for contact in contacts
    )
    counts: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def tick():
        try:
            barrier.wait()
            counts.append(scheduler_tick(now=NOW))
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then
    assert errors == []
    assert sum(counts) == 2000
    assert StepRun.objects.filter(step_id="first").count() == 2000
    assert StepRun.objects.values("enrollment").distinct().count() == 2000
    assert Enrollment.objects.filter(step_id="second", sleeping=True).count() == 2000
