"""Wake-up flags (segflow.queue) are read through one kept Redis client per broker: a flag
already set costs one SET, not a producer and a new client, and the protocol is unchanged
(one message while one is queued, the worker's clear lets the next write wake it again)."""

import threading
import time
import uuid

import pytest

from segflow import queue
from segflow.celery import app

TASK = "segments.tasks.process_contact_changes"


@pytest.fixture
def broker_queue():
    """Publishes go to the test Redis (not eager), into a queue of this test's own."""
    name = f"test-wake-flag-{uuid.uuid4().hex[:8]}"
    previous = app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.task_always_eager, app.conf.task_default_queue = False, name
    queue.wake_clear(TASK)
    queue._seen_queued_until.clear()  # no wake-up seen by another test's commits
    client = queue._flag_client()
    try:
        yield lambda: client.llen(name)
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = previous
        client.delete(name)
        queue.wake_clear(TASK)


@pytest.fixture
def checks(monkeypatch) -> list[list[str]]:
    """The flag checks (round trips to Redis) made, each with its task names."""
    made = []
    flags_set = queue._wake_flags_set
    monkeypatch.setattr(
        queue, "_wake_flags_set", lambda names: made.append(list(names)) or flags_set(names)
    )
    return made


def test_a_queued_wakeup_is_seen_without_a_producer(broker_queue, monkeypatch):
    assert queue.task_publish(TASK, wake=True) is True
    assert broker_queue() == 1

    def no_producer():
        raise AssertionError("a set flag needs no producer")

    monkeypatch.setattr(app, "producer_or_acquire", no_producer)
    assert [queue.task_publish(TASK, wake=True) for _ in range(3)] == [False] * 3
    assert broker_queue() == 1


def test_the_worker_clear_lets_the_next_write_wake_it_again(broker_queue):
    assert queue.task_publish(TASK, wake=True) is True
    queue.wake_clear(TASK)
    assert queue.task_publish(TASK, wake=True) is True
    assert broker_queue() == 2


def test_one_client_per_broker(broker_queue):
    assert queue._flag_client() is queue._flag_client()
    assert queue._flag_client() is not None


def test_several_wakeups_set_their_flags_at_once_and_publish_only_the_unqueued(broker_queue):
    other = "scoring.tasks.score_pending_events"
    queue.wake_clear(other)
    try:
        assert queue.tasks_wake([TASK]) == [TASK]

        # TASK's wake-up is queued already: only the other one goes out
        assert queue.tasks_wake([TASK, other]) == [other]
        assert queue.tasks_wake([TASK, other]) == []
        assert broker_queue() == 2

        queue.wake_clear(TASK)
        assert queue.tasks_wake([other, TASK]) == [TASK]
        assert broker_queue() == 3
    finally:
        queue.wake_clear(other)


def test_a_commit_right_after_a_seen_wakeup_skips_the_flag_and_is_rechecked(
    broker_queue, checks, monkeypatch
):
    monkeypatch.setattr(queue, "WAKE_SEEN_SECONDS", 0.5)

    # when: a commit wakes the task, the worker clears the flag (and claims its rows), then
    # a second commit comes while this process still takes the wake-up for queued
    queue._committed_wake([TASK])
    queue.wake_clear(TASK)
    queue._committed_wake([TASK])

    # then: the second commit cost no round trip, and the recheck woke the worker for it
    assert checks == [[TASK]]
    assert broker_queue() == 1
    deadline = time.monotonic() + 5
    while broker_queue() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert broker_queue() == 2
    assert checks == [[TASK], [TASK]]


def test_commits_while_a_wakeup_is_queued_check_the_flag_once_per_window(
    broker_queue, checks, monkeypatch
):
    monkeypatch.setattr(queue, "WAKE_SEEN_SECONDS", 0.3)

    for _ in range(50):
        queue._committed_wake([TASK])
    time.sleep(0.6)  # the recheck ran

    # one check for the first commit, one recheck for the 49 skipped; one message in all
    assert checks == [[TASK], [TASK]]
    assert broker_queue() == 1


def test_a_skipped_commit_restarts_a_recheck_thread_that_died(broker_queue, checks, monkeypatch):
    monkeypatch.setattr(queue, "WAKE_SEEN_SECONDS", 0.3)
    queue._committed_wake([TASK])  # seen queued from now on
    # given: a recheck is due but the thread that was to run it is gone
    rechecks = queue._Rechecks()
    dead = threading.Thread(target=lambda: None)
    dead.start()
    dead.join()
    rechecks._thread, rechecks._due[TASK] = dead, time.monotonic()
    monkeypatch.setattr(queue, "_rechecks", rechecks)

    queue._committed_wake([TASK])  # skipped: its task is already due

    deadline = time.monotonic() + 5
    while len(checks) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert checks == [[TASK], [TASK]]
