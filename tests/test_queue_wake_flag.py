"""Wake-up flags (segflow.queue) are read through one kept Redis client per broker: a flag
already set costs one SET, not a producer and a new client, and the protocol is unchanged
(one message while one is queued, the worker's clear lets the next write wake it again)."""

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
    client = queue._flag_client()
    try:
        yield lambda: client.llen(name)
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = previous
        client.delete(name)
        queue.wake_clear(TASK)


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
