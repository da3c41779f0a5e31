"""Publishing Celery tasks by name, after the writer's transaction commits.

Apps enqueue by task name, so a module that queues work never imports the module of its task
(the task module imports the service, not the other way round).

The durable state is always in PostgreSQL rows (pending changes, imports, schedules); a
message only wakes a worker up. So a publish that fails after the commit (the broker is down)
is logged and skipped: the request that committed still succeeds, and the beat sweeps pick the
work up once the broker is back. Publishes do not retry and give up on a dead broker after
CELERY_BROKER_CONNECTION_TIMEOUT (settings), so an outage costs a request at most that long.

Wake-ups (`wake_on_commit`) are deduplicated on Redis: a flag set with SET NX EX says "a
wake-up for this task is queued", so N writes while one is queued publish one message, not N.
The task clears the flag (`wake_clear`) before it claims work, so a write committed after the
clear publishes a fresh wake-up and one committed before it is seen by the claim. The flag
expires after WAKE_TTL in case its message is lost. Other brokers (the embedded filesystem
transport) publish every wake-up. The flag is read through one Redis client per process and
broker, kept: a new client and a producer for each check cost several times the SET itself.
A process that has just seen a flag set skips the check for WAKE_SEEN_SECONDS and rechecks
once after it (so a busy web process checks each flag about fifty times a second, not once
per request).
"""

import logging
import os
import threading
import time
from collections.abc import Sequence
from importlib import import_module

from celery import Task
from django.db import transaction

from segflow.celery import app

logger = logging.getLogger(__name__)

WAKE_TTL = 60  # seconds; the beat sweeps run every minute too
_WAKE_KEY = "segflow:wake:{}"


def enqueue_on_commit(task_name: str, *args) -> None:
    """Publish the task once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: task_publish(task_name, *args))


def wake_on_commit(*task_names: str) -> None:
    """Publish an argument-less wake-up of each task once the transaction commits, unless one
    is queued (their flags in one round trip, or none: see _committed_wake)."""
    if task_names:
        transaction.on_commit(lambda: _committed_wake(task_names))


# A wake-up this process saw queued (its flag set) is taken as still queued for this long:
# commits meanwhile skip the flag's round trip (a fifth of a single-event POST's CPU,
# docs/benchmarks.md), and a recheck of the flag follows each skip within this delay. So a
# worker that cleared the flag and claimed its rows just before a skipped commit is woken
# again at most this late, never left to the periodic sweep.
WAKE_SEEN_SECONDS = 0.02
_seen_queued_until: dict[str, float] = {}


def _committed_wake(task_names: Sequence[str]) -> None:
    if app.conf.task_always_eager:
        tasks_wake(task_names)
        return
    now = time.monotonic()
    seen = [name for name in task_names if _seen_queued_until.get(name, 0.0) > now]
    if seen:
        _rechecks.add(seen, at=now + WAKE_SEEN_SECONDS)
    unseen = [name for name in task_names if name not in seen]
    if unseen:
        _wake_and_remember(unseen)


def _wake_and_remember(task_names: Sequence[str]) -> None:
    tasks_wake(task_names)  # after it, each one's wake-up is queued (or the broker is down)
    until = time.monotonic() + WAKE_SEEN_SECONDS
    for name in task_names:
        _seen_queued_until[name] = until


class _Rechecks:
    """One daemon thread per process that wakes tasks at their due time (the rechecks of
    skipped flags); a task due already is not added twice, its recheck covers both."""

    def __init__(self) -> None:
        self._due: dict[str, float] = {}
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, task_names: Sequence[str], *, at: float) -> None:
        with self._condition:
            added = False
            for name in task_names:
                if name not in self._due:
                    self._due[name] = at
                    added = True
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="segflow-wake-rechecks", daemon=True
                )
                self._thread.start()
            elif added:
                # Only a new due time changes what the thread waits for: waking it on every
                # skipped commit cost each request a thread switch for nothing.
                self._condition.notify()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._due:
                    self._condition.wait()
                now = time.monotonic()
                due = [name for name, at in self._due.items() if at <= now]
                if not due:
                    self._condition.wait(min(self._due.values()) - now)
                    continue
                for name in due:
                    del self._due[name]
            try:
                _wake_and_remember(due)
            except Exception:  # never let the thread die: the sweep remains
                logger.exception("Wake-up recheck of %s failed", ", ".join(due))


_rechecks = _Rechecks()


def _forget_after_fork() -> None:
    """A forked child (gunicorn worker, Celery pool process) starts with no thread and no
    lock held: the parent's thread did not come along."""
    global _rechecks
    _rechecks = _Rechecks()
    _seen_queued_until.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def task_publish(task_name: str, *args, wake: bool = False) -> bool:
    """Publish now; False when the broker could not take it (logged, not raised), or when
    `wake` and a wake-up for this task is already queued."""
    if wake:
        return tasks_wake([task_name]) == [task_name]
    if app.conf.task_always_eager:
        _task(task_name).apply(args=args)
        return True
    try:
        with app.producer_or_acquire() as producer:
            app.send_task(task_name, args=args, producer=producer, retry=False)
    except Exception:
        # Broker down or unreachable: the work is durable in the database, a sweep takes it.
        logger.warning("Could not publish %s; left to the periodic sweep", task_name, exc_info=True)
        return False
    return True


def tasks_wake(task_names: Sequence[str]) -> list[str]:
    """Publish a wake-up of each task whose wake-up is not queued yet; the tasks published
    (a broker that could not take them is logged, not raised)."""
    if app.conf.task_always_eager:
        for task_name in task_names:
            _task(task_name).apply()
        return list(task_names)
    published = []
    try:
        due = _wake_flags_set(task_names)
        if due:
            with app.producer_or_acquire() as producer:
                for task_name in due:
                    app.send_task(task_name, producer=producer, retry=False)
                    published.append(task_name)
    except Exception:
        # Broker down or unreachable: the work is durable in the database, a sweep takes it.
        logger.warning(
            "Could not publish %s; left to the periodic sweep", ", ".join(task_names), exc_info=True
        )
    return published


def wake_clear(task_name: str) -> None:
    """Called by a woken task before it claims work: the next write wakes it again."""
    if app.conf.task_always_eager:
        return
    try:
        client = _flag_client()
        if client is not None:
            client.delete(_WAKE_KEY.format(task_name))
    except Exception:
        logger.warning("Could not clear the wake-up flag of %s", task_name, exc_info=True)


def _wake_flags_set(task_names: Sequence[str]) -> list[str]:
    """The tasks whose flag this call set (all of them when there is no flag store): their
    wake-ups are to be published. One round trip for all the flags."""
    client = _flag_client()
    if client is None:
        return list(task_names)
    keys = [_WAKE_KEY.format(task_name) for task_name in task_names]
    if len(keys) == 1:  # the common case: one command
        return list(task_names) if client.set(keys[0], "1", nx=True, ex=WAKE_TTL) else []
    # One command for all (a pipeline costs more client time than the round trip it saves).
    positions = client.eval(_FLAGS_SET_LUA, len(keys), *keys, WAKE_TTL)
    return [task_names[position - 1] for position in positions]


# SET NX EX on each key; the 1-based positions of the keys it set.
_FLAGS_SET_LUA = """
local set = {}
for position, key in ipairs(KEYS) do
    if redis.call('SET', key, '1', 'NX', 'EX', ARGV[1]) then set[#set + 1] = position end
end
return set
"""


# broker URL -> a synchronous client on its Redis, or None for another transport
_flag_clients: dict[str, object] = {}


def _flag_client():
    """A synchronous client on the broker's Redis (the channel's own client belongs to
    kombu's event loop in a worker), or None for another transport. Made once per broker
    URL from a producer's channel, with the broker's connection settings (timeouts
    included); its connection pool reconnects by itself after an outage."""
    url = app.conf.broker_write_url or app.conf.broker_url
    if url not in _flag_clients:
        with app.producer_or_acquire() as producer:
            channel = producer.channel
            if channel.connection.driver_type != "redis":
                client = None
            else:
                with channel.conn_or_acquire() as client:
                    pass
        _flag_clients[url] = client
    return _flag_clients[url]


def _task(task_name: str) -> Task:
    """The task object, importing its module (eager mode runs it in this process)."""
    if task_name not in app.tasks:
        import_module(task_name.rpartition(".")[0])
    return app.tasks[task_name]
