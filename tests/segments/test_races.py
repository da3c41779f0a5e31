"""Concurrent edits of what segments read, through the API on PostgreSQL: every answer is a
success or a JSON 4xx (never a 500), no cycle is ever stored, and no segment is left reading a
deleted segment or custom field (segments.graph_lock). About 30 trials each."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from contacts.models import CustomField
from segments.dependencies import DependencyGraph
from segments.evaluation import segment_evaluate
from segments.models import Segment, SegmentDailyStats
from segments.services import segment_create, segment_update
from segments.tree import iter_conditions
from segments.validation import stored_conditions_problem
from tests.factories import ContactFactory, CustomFieldFactory, SegmentFactory

pytestmark = pytest.mark.django_db(transaction=True)

TRIALS = 30
IN_FRANCE = {"type": "field", "field": "country", "op": "eq", "value": "FR"}
SUCCESS = {200, 201, 202, 204}


def reads(segment_id: int) -> dict:
    return {"type": "segment", "op": "in", "segment": segment_id}


class Racers:
    """Threads that each keep their own database connection for the whole test (a new one
    per trial would cost more than the trial); `race` releases calls together."""

    def __init__(self, count: int = 2):
        self.count = count
        self.pool = ThreadPoolExecutor(max_workers=count)

    def _all_workers(self, call: Callable[[], object]) -> list:
        barrier = threading.Barrier(self.count)

        def run():
            barrier.wait()  # every worker takes exactly one of these
            return call()

        return [future.result() for future in [self.pool.submit(run) for _ in range(self.count)]]

    def race(self, *calls: Callable[[], object]) -> list:
        """Run the calls at once, one per thread; their results in order (or the first
        error, re-raised)."""
        assert len(calls) == self.count
        barrier = threading.Barrier(self.count)

        def run(call):
            barrier.wait()
            return call()

        futures = [self.pool.submit(run, call) for call in calls]
        return [future.result() for future in futures]

    def close(self) -> None:
        self._all_workers(lambda: connection.close())
        self.pool.shutdown()


@pytest.fixture
def racers():
    racers = Racers()
    yield racers
    racers.close()


class Caller:
    """One API client per call, so each thread has its own; answers (status, JSON body)."""

    def __init__(self, api_key: str):
        self.api_key = api_key

    def __call__(self, method: str, url: str, body: dict | None = None) -> Callable:
        def call() -> tuple[int, dict | None]:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.api_key}")
            response = getattr(client, method)(url, body, format="json")
            return response.status_code, (response.json() if response.content else None)

        return call


@pytest.fixture
def call(api_key) -> Caller:
    return Caller(api_key)


def assert_success_or_json_4xx(*answers: tuple[int, dict | None]) -> None:
    for status, body in answers:
        assert status in SUCCESS or (400 <= status < 500 and "detail" in body), (status, body)


def assert_graph_consistent() -> None:
    """No stored cycle; every segment's stored conditions still validate (they read no
    deleted segment or field) and its depends_on rows match them."""
    graph = DependencyGraph.load()
    for segment in Segment.objects.all():
        assert stored_conditions_problem(segment.conditions, segment_id=segment.pk) == ""
        assert graph.upstream[segment.pk] == {
            node["segment"] for node in _segment_nodes(segment.conditions)
        }
        seen, stack = set(), list(graph.upstream[segment.pk])
        while stack:
            read = stack.pop()
            assert read != segment.pk, f"cycle through segment {segment.pk}"
            if read not in seen:
                seen.add(read)
                stack.extend(graph.upstream[read])


def _segment_nodes(tree: dict) -> list[dict]:
    return [node for node in iter_conditions(tree) if node.get("type") == "segment"]


def error_messages(body: dict) -> list[tuple[str, str]]:
    return [(error["path"], error["message"]) for error in body["errors"]]


def test_two_patches_closing_a_cycle_save_one_and_refuse_the_other(call, racers):
    for _ in range(TRIALS):
        a, b = SegmentFactory(name="A"), SegmentFactory(name="B")

        first, second = racers.race(
            call("patch", f"/api/v1/segments/{a.pk}", {"conditions": reads(b.pk)}),
            call("patch", f"/api/v1/segments/{b.pk}", {"conditions": reads(a.pk)}),
        )

        assert_success_or_json_4xx(first, second)
        assert sorted([first[0], second[0]]) == [200, 400]
        (_, refused) = first if first[0] == 400 else second
        [(path, message)] = error_messages(refused)
        assert path == "conditions.segment" and message.startswith("Cycle: segment ")
        assert_graph_consistent()
        Segment.objects.all().delete()


def test_a_sequential_three_segment_cycle_is_a_400(call):
    a, b, c = (segment_create(name=name, conditions=IN_FRANCE) for name in "ABC")
    assert call("patch", f"/api/v1/segments/{a.pk}", {"conditions": reads(b.pk)})()[0] == 200
    assert call("patch", f"/api/v1/segments/{b.pk}", {"conditions": reads(c.pk)})()[0] == 200

    status, body = call("patch", f"/api/v1/segments/{c.pk}", {"conditions": reads(a.pk)})()

    assert status == 400
    assert error_messages(body) == [
        ("conditions.segment", f"Cycle: segment {a.pk} -> {b.pk} refers back to this segment.")
    ]
    assert_graph_consistent()


def test_reading_a_field_while_it_is_deleted_ends_one_way_or_the_other(call, racers):
    on_plan = {"type": "field", "field": "plan", "op": "eq", "value": "pro"}
    for _ in range(TRIALS):
        CustomFieldFactory(key="plan", type="text")
        segment = SegmentFactory(name="Pro")

        patched, deleted = racers.race(
            call("patch", f"/api/v1/segments/{segment.pk}", {"conditions": on_plan}),
            call("delete", "/api/v1/fields/plan"),
        )

        assert_success_or_json_4xx(patched, deleted)
        if patched[0] == 200:  # the segment was saved first: the delete is refused
            assert deleted[0] == 400
            [(path, message)] = error_messages(deleted[1])
            assert path == "key" and f"Segment 'Pro' (#{segment.pk})" in message
            assert CustomField.objects.filter(key="plan").exists()
        else:  # the field was deleted first: the segment does not read it
            assert (patched[0], deleted[0]) == (400, 204)
            assert error_messages(patched[1]) == [("conditions.field", "Unknown field 'plan'.")]
        assert_graph_consistent()
        Segment.objects.all().delete()
        CustomField.objects.all().delete()


def test_reading_a_segment_while_it_is_deleted_ends_one_way_or_the_other(call, racers):
    for _ in range(TRIALS):
        reader, read = SegmentFactory(name="Reader"), SegmentFactory(name="Read")

        patched, deleted = racers.race(
            call("patch", f"/api/v1/segments/{reader.pk}", {"conditions": reads(read.pk)}),
            call("delete", f"/api/v1/segments/{read.pk}"),
        )

        assert_success_or_json_4xx(patched, deleted)
        if patched[0] == 200:  # saved first: the read segment is in use
            assert deleted[0] == 400
            assert Segment.objects.filter(pk=read.pk).exists()
        else:
            assert (patched[0], deleted[0]) == (400, 204)
            assert error_messages(patched[1]) == [
                ("conditions.segment", f"Segment {read.pk} does not exist.")
            ]
        assert_graph_consistent()
        Segment.objects.all().delete()


@pytest.fixture
def contacts():
    return ContactFactory.create_batch(50, country="FR")


def delete_while_evaluating(segment: Segment, *, call: Caller, racers: Racers) -> None:
    """DELETE races a real evaluation of the segment: the delete wins (204) and takes every
    row with it; the evaluation finishes first (200) or finds the segment gone (404)."""
    deleted, evaluated = racers.race(
        call("delete", f"/api/v1/segments/{segment.pk}"),
        call("post", f"/api/v1/segments/{segment.pk}/evaluate?wait=true"),
    )

    assert_success_or_json_4xx(deleted, evaluated)
    assert deleted[0] == 204
    assert evaluated[0] in (200, 404)
    assert not Segment.objects.exists()
    assert not SegmentDailyStats.objects.exists()


def test_delete_right_after_create_while_its_evaluation_runs(call, racers, contacts):
    for _ in range(TRIALS):
        segment = segment_create(name="France", conditions=IN_FRANCE)  # refresh queued

        delete_while_evaluating(segment, call=call, racers=racers)


def test_delete_right_after_a_conditions_change_while_its_evaluation_runs(call, racers, contacts):
    for index in range(TRIALS):
        segment = segment_create(name="France", conditions=IN_FRANCE)
        segment_evaluate(segment=segment, now=timezone.now())  # members and a daily stats row
        country = {**IN_FRANCE, "value": "DE" if index % 2 else "FR"}
        segment_update(segment=segment, conditions={"not": country})  # refresh queued

        delete_while_evaluating(segment, call=call, racers=racers)
