"""Group commit of single-event POSTs (contacts.ingest_group): concurrent requests through the
real view share transactions, each still gets its own answer, and none is answered before its
event committed.

Groups are gathered without timing: the first group's leader waits (in the test hook) until
every other request is queued, so they all form the second group.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test import Client

from contacts import ingest_group
from contacts.api_keys import api_key_create
from contacts.models import Event
from tests.celery_worker import app_subprocess_environment

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent.parent
GATHER_TIMEOUT = 30.0  # a safety net against a hang, not a measure


def _gather_then_record(total: int, groups: list[int]):
    """A group hook: the first leader waits until the requests it did not take are all
    queued, so they form one group; every group's size is recorded."""

    def hook(events):
        groups.append(len(events))
        if len(groups) == 1:
            deadline = time.monotonic() + GATHER_TIMEOUT
            while ingest_group.queued_count() < total - len(events):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.001)

    return hook


def _post_concurrently(api_key: str, bodies: list[dict]) -> list[tuple[int, dict]]:
    """POST each body from its own thread at once; (status, JSON) per body, in order."""
    answers: list[tuple[int, dict] | None] = [None] * len(bodies)
    start = threading.Barrier(len(bodies))

    def post(index: int) -> None:
        client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key}", raise_request_exception=False)
        try:
            start.wait()
            response = client.post(
                "/api/v1/events", json.dumps(bodies[index]), content_type="application/json"
            )
            body = response.json() if response.status_code != 500 else {}
            answers[index] = (response.status_code, body)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _transactions_of(event_ids) -> int:
    """How many transactions stored these events (rows written by one share its xmin)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT xmin::text) FROM contacts_event WHERE id = ANY(%s)",
            [list(event_ids)],
        )
        return cursor.fetchone()[0]


def test_concurrent_posts_share_transactions_and_each_gets_its_own_event(api_key, monkeypatch):
    bodies = [
        {"email": f"c{n}@example.com", "name": "page.viewed", "properties": {"n": n}}
        for n in range(8)
    ]
    groups: list[int] = []
    monkeypatch.setattr(ingest_group, "group_hook", _gather_then_record(len(bodies), groups))

    answers = _post_concurrently(api_key, bodies)

    assert [status for status, _ in answers] == [202] * len(bodies)
    for body, (_, answer) in zip(bodies, answers, strict=True):
        event = Event.objects.select_related("contact").get(pk=answer["id"])
        assert event.properties == body["properties"]
        assert event.contact.email == body["email"]
        assert answer == {"id": event.pk, "contact": event.contact_id, "duplicate": False}
    assert len(groups) == 2 and sum(groups) == len(bodies)
    assert _transactions_of(answer["id"] for _, answer in answers) == 2


def test_a_failing_event_fails_alone_and_the_rest_of_its_group_is_stored(api_key, monkeypatch):
    bodies = [
        {"email": f"c{n}@example.com", "name": "boom" if n == 5 else "login"} for n in range(6)
    ]
    groups: list[int] = []
    monkeypatch.setattr(ingest_group, "group_hook", _gather_then_record(len(bodies), groups))
    real_ingest = ingest_group.events_ingest

    def ingest_failing_on_boom(*, events):
        if any(event.name == "boom" for event in events):
            raise RuntimeError("this event cannot be stored")
        return real_ingest(events=events)

    monkeypatch.setattr(ingest_group, "events_ingest", ingest_failing_on_boom)

    answers = _post_concurrently(api_key, bodies)

    assert [status for status, _ in answers] == [202] * 5 + [500]
    stored = Event.objects.filter(pk__in=[answer["id"] for _, answer in answers[:5]])
    assert sorted(stored.values_list("contact__email", flat=True)) == [
        f"c{n}@example.com" for n in range(5)
    ]
    assert not Event.objects.filter(name="boom").exists()
    assert max(groups) > 1  # the boom event did fail inside a group


def test_one_idempotency_key_twice_in_a_group_and_a_replay_answer_duplicate(api_key, monkeypatch):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    earlier = {"email": "old@example.com", "name": "purchase", "idempotency_key": "order-0"}
    original = client.post("/api/v1/events", earlier, content_type="application/json").json()
    twice = {"email": "a@example.com", "name": "purchase", "idempotency_key": "order-1"}
    bodies = [{"email": "b@example.com", "name": "login"}, twice, twice, earlier]
    groups: list[int] = []
    monkeypatch.setattr(ingest_group, "group_hook", _gather_then_record(len(bodies), groups))

    answers = _post_concurrently(api_key, bodies)

    assert [status for status, _ in answers] == [202] * len(bodies)
    [stored] = Event.objects.filter(idempotency_key="order-1")
    assert sorted(answer["duplicate"] for _, answer in answers[1:3]) == [False, True]
    assert {answer["id"] for _, answer in answers[1:3]} == {stored.pk}
    assert answers[3][1] == {**original, "duplicate": True}
    assert Event.objects.filter(idempotency_key="order-0").count() == 1
    assert len(groups) == 2


def test_one_request_at_a_time_commits_alone(api, monkeypatch):
    groups: list[list] = []
    monkeypatch.setattr(ingest_group, "group_hook", groups.append)

    for n in range(3):
        body = {"email": f"c{n}@example.com", "name": "login"}
        assert api.post("/api/v1/events", body, format="json").status_code == 202

    assert [len(group) for group in groups] == [1, 1, 1]


def test_inside_a_transaction_the_event_is_stored_without_grouping(api, monkeypatch):
    groups: list[list] = []
    monkeypatch.setattr(ingest_group, "group_hook", groups.append)

    with transaction.atomic():
        body = {"email": "a@example.com", "name": "login"}
        response = api.post("/api/v1/events", body, format="json")

    assert response.status_code == 202
    assert Event.objects.filter(pk=response.json()["id"]).exists()
    assert groups == []


# The child: concurrent POSTs through the view; the first group commits and is answered, the
# second is held after its inserts, before its commit, until the test SIGKILLs the process.
_CHILD = """
import json, os, sys, threading, time
import django
django.setup()
from django.db import connection, transaction
from django.test import Client
from contacts import ingest_group

total = int(os.environ["GROUP_KILL_REQUESTS"])
real_ingest = ingest_group.events_ingest
first_group = []
answered = []
lock = threading.Lock()
deadline = time.monotonic() + 60

def wait_until(done):
    while not done():
        if time.monotonic() > deadline:
            os._exit(3)  # the test then fails on what was printed
        time.sleep(0.001)

def held_ingest(*, events):
    if not first_group:
        first_group.append(len(events))
        wait_until(lambda: ingest_group.queued_count() >= total - len(events))
        return real_ingest(events=events)
    with transaction.atomic():
        stored = real_ingest(events=events)
        wait_until(lambda: len(answered) >= first_group[0])
        print("HOLDING", len(events), flush=True)
        time.sleep(600)
    return stored

ingest_group.events_ingest = held_ingest

def post(n):
    client = Client(HTTP_AUTHORIZATION="Bearer " + os.environ["GROUP_KILL_API_KEY"])
    body = {"email": f"k{n}@example.com", "name": "login", "properties": {"n": n}}
    response = client.post("/api/v1/events", json.dumps(body), content_type="application/json")
    with lock:
        print("ANSWERED", n, response.status_code, response.json()["id"], flush=True)
        answered.append(n)

threads = [threading.Thread(target=post, args=(n,)) for n in range(total)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


def test_a_process_killed_mid_group_answered_only_what_it_committed(tmp_path):
    _, raw_key = api_key_create(name="kill")
    total = 6
    env = app_subprocess_environment(
        var_dir=tmp_path / "var",  # its wake-ups go to a filesystem queue
        DJANGO_SETTINGS_MODULE="segflow.settings",
        GROUP_KILL_API_KEY=raw_key,
        GROUP_KILL_REQUESTS=str(total),
    )
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    lines = []
    watchdog = threading.Timer(120, os.killpg, (child.pid, signal.SIGKILL))
    watchdog.start()
    try:
        for line in child.stdout:
            lines.append(line.split())
            if lines[-1][0] == "HOLDING":
                break
    finally:
        watchdog.cancel()
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()

    assert lines and lines[-1][0] == "HOLDING", f"the child never held a group: {lines}"
    answered = {int(n): int(event_id) for _, n, status, event_id in lines[:-1] if status == "202"}
    held = int(lines[-1][1])
    assert answered and held > 0 and len(answered) + held == total
    stored = dict(
        Event.objects.filter(name="login", contact__email__startswith="k").values_list(
            "properties__n", "pk"
        )
    )
    assert stored == answered  # every 202 committed, once; the held group left nothing
