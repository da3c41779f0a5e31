import datetime as dt

import pytest
from django.utils import timezone

from segments.evaluation import segment_evaluate
from segments.models import Segment, SegmentDailyStats, SegmentMembership, SegmentTransition
from segments.services import segment_create
from tests.factories import ContactFactory, ContactTagFactory, CustomFieldFactory

pytestmark = pytest.mark.django_db

IN_FRANCE = {"type": "field", "field": "country", "op": "eq", "value": "FR"}


def error_paths(response) -> set[str]:
    return {error["path"] for error in response.json()["errors"]}


def evaluated(name="France", conditions=IN_FRANCE):
    segment = segment_create(name=name, conditions=conditions)
    segment_evaluate(segment=segment, now=timezone.now())
    return segment


def test_create_returns_the_segment_and_evaluates_it(api, django_capture_on_commit_callbacks):
    ann = ContactFactory(country="FR")
    ContactFactory(country="DE")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/segments", {"name": "France", "conditions": IN_FRANCE}, format="json"
        )

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "France"
    assert body["conditions"] == IN_FRANCE
    assert body["is_time_relative"] is False
    assert body["depends_on"] == []
    segment = Segment.objects.get(pk=body["id"])
    assert segment.size == 1
    assert segment.dependency_keys == ["field:country"]
    assert list(segment.memberships.values_list("contact_id", flat=True)) == [ann.pk]


def test_create_with_invalid_tree_lists_every_error_with_its_path(api):
    conditions = {
        "all": [
            IN_FRANCE,
            {"type": "field", "field": "no_such_field", "op": "eq", "value": "x"},
            {
                "type": "event",
                "event": "login",
                "op": "performed",
                "count": {"op": "gte", "value": "five"},
            },
        ]
    }

    response = api.post(
        "/api/v1/segments", {"name": "Broken", "conditions": conditions}, format="json"
    )

    assert response.status_code == 400
    assert error_paths(response) == {"conditions.all[1].field", "conditions.all[2].count.value"}
    assert not Segment.objects.exists()


def test_create_reports_body_and_tree_errors_together(api):
    response = api.post(
        "/api/v1/segments",
        {"conditions": {"type": "tag", "op": "has"}, "colour": "red"},
        format="json",
    )

    assert response.status_code == 400
    assert error_paths(response) == {"name", "colour", "conditions.tag"}


def test_list_is_paginated(api):
    first, second = evaluated("A"), evaluated("B")

    response = api.get("/api/v1/segments?page_size=1")

    body = response.json()
    assert body["count"] == 2
    assert [segment["id"] for segment in body["results"]] == [first.pk]
    assert body["next"] is not None
    assert second.pk != first.pk


def test_get_one_segment(api):
    segment = evaluated()

    response = api.get(f"/api/v1/segments/{segment.pk}")

    assert response.status_code == 200
    assert response.json()["size"] == segment.size


def test_unknown_segment_is_404(api):
    assert api.get("/api/v1/segments/999999").status_code == 404


def test_patch_new_conditions_are_validated_and_reevaluated(
    api, django_capture_on_commit_callbacks
):
    ContactFactory(country="FR")
    bob = ContactFactory(country="DE")
    segment = evaluated()

    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(
            f"/api/v1/segments/{segment.pk}",
            {"conditions": {"type": "field", "field": "country", "op": "eq", "value": "DE"}},
            format="json",
        )

    assert response.status_code == 200
    current = segment.memberships.filter(left_at__isnull=True)
    assert list(current.values_list("contact_id", flat=True)) == [bob.pk]


def test_patch_rejects_a_cycle(api):
    base = evaluated("Base")
    reader = evaluated("Reader", {"type": "segment", "op": "in", "segment": base.pk})

    response = api.patch(
        f"/api/v1/segments/{base.pk}",
        {"conditions": {"type": "segment", "op": "in", "segment": reader.pk}},
        format="json",
    )

    assert response.status_code == 400
    assert error_paths(response) == {"conditions.segment"}
    base.refresh_from_db()
    assert base.conditions == IN_FRANCE


def test_patch_name_only_keeps_conditions(api):
    segment = evaluated()

    response = api.patch(f"/api/v1/segments/{segment.pk}", {"name": "Français"}, format="json")

    assert response.json()["name"] == "Français"
    assert response.json()["conditions"] == IN_FRANCE


def test_delete_removes_the_segment(api):
    segment = evaluated()

    response = api.delete(f"/api/v1/segments/{segment.pk}")

    assert response.status_code == 204
    assert not Segment.objects.exists()


def test_delete_of_a_segment_read_by_another_is_refused(api):
    base = evaluated("Base")
    evaluated("Reader", {"type": "segment", "op": "in", "segment": base.pk})

    response = api.delete(f"/api/v1/segments/{base.pk}")

    assert response.status_code == 400
    assert error_paths(response) == {"segment"}
    assert Segment.objects.filter(pk=base.pk).exists()


def test_members_are_current_members_in_the_contacts_shape(api):
    ann = ContactFactory(country="FR")
    ContactFactory(country="DE")
    segment = evaluated()

    response = api.get(f"/api/v1/segments/{segment.pk}/members")

    body = response.json()
    assert body["count"] == 1
    assert body["results"][0]["id"] == ann.pk
    assert body["results"][0]["email"] == ann.email
    assert {"fields", "tags", "lead_score"} <= set(body["results"][0])


def test_contacts_filter_by_segment_lists_current_members_only(api):
    ann = ContactFactory(country="FR")
    bob = ContactFactory(country="FR")
    segment = evaluated()
    bob.country = "DE"
    bob.save()
    segment_evaluate(segment=segment, now=timezone.now())

    response = api.get(f"/api/v1/contacts?segment={segment.pk}")

    assert [contact["id"] for contact in response.json()["results"]] == [ann.pk]


def test_contacts_filter_by_segment_given_twice_is_400(api):
    response = api.get("/api/v1/contacts?segment=1&segment=2")

    assert response.status_code == 400
    assert error_paths(response) == {"segment"}


def test_contacts_filter_by_segment_rejects_a_non_number(api):
    response = api.get("/api/v1/contacts?segment=abc")

    assert response.status_code == 400
    assert error_paths(response) == {"segment"}


def test_evaluate_with_wait_answers_the_counts(api):
    segment = segment_create(name="France", conditions=IN_FRANCE)
    ContactFactory.create_batch(2, country="FR")

    response = api.post(f"/api/v1/segments/{segment.pk}/evaluate?wait=true")

    assert response.status_code == 200
    assert response.json() == {"size": 2, "entered": 2, "left": 0}
    assert SegmentTransition.objects.filter(segment=segment).count() == 2


def test_evaluate_without_wait_is_queued(api, django_capture_on_commit_callbacks):
    segment = segment_create(name="France", conditions=IN_FRANCE)
    ContactFactory(country="FR")

    with django_capture_on_commit_callbacks() as queued:
        response = api.post(f"/api/v1/segments/{segment.pk}/evaluate")

    assert response.status_code == 202
    assert not SegmentMembership.objects.exists()  # not in the request
    for callback in queued:
        callback()  # the task, run eagerly
    assert SegmentMembership.objects.filter(segment=segment).count() == 1


def test_evaluate_rejects_a_bad_wait_flag(api):
    segment = evaluated()

    response = api.post(f"/api/v1/segments/{segment.pk}/evaluate?wait=maybe")

    assert response.status_code == 400
    assert error_paths(response) == {"wait"}


def test_explain_tells_whether_and_why_a_contact_matches(api):
    ann = ContactFactory(country="FR")
    segment = evaluated(conditions={"all": [IN_FRANCE, {"type": "tag", "op": "has", "tag": "vip"}]})

    response = api.get(f"/api/v1/segments/{segment.pk}/explain?contact={ann.pk}")

    assert response.status_code == 200
    body = response.json()
    assert (body["segment"], body["contact"]) == (segment.pk, ann.pk)
    assert (body["result"], body["member"]) == (False, False)
    france, vip = body["tree"]["all"]
    assert (france["result"], france["actual"]) == (True, {"value": "FR"})
    assert vip["result"] is False


@pytest.mark.parametrize("query", ["", "?contact=abc", "?contact=999999"])
def test_explain_needs_an_existing_contact(api, query):
    segment = evaluated()

    response = api.get(f"/api/v1/segments/{segment.pk}/explain{query}")

    assert response.status_code == 400
    assert error_paths(response) == {"contact"}


def test_preview_counts_and_samples_an_unsaved_tree(api):
    CustomFieldFactory(key="plan", type="text")
    contacts = [ContactFactory(fields={"plan": "pro"}) for _ in range(3)]
    ContactFactory(fields={"plan": "free"})

    response = api.post(
        "/api/v1/segments/preview",
        {
            "conditions": {"type": "field", "field": "plan", "op": "eq", "value": "PRO"},
            "sample_size": 2,
        },
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [contact["id"] for contact in body["sample"]] == [c.pk for c in contacts[:2]]
    assert not Segment.objects.exists()


def test_preview_of_an_invalid_tree_is_400_with_paths(api):
    response = api.post(
        "/api/v1/segments/preview",
        {"conditions": {"any": [IN_FRANCE, {"type": "tag", "op": "owns", "tag": "x"}]}},
        format="json",
    )

    assert response.status_code == 400
    assert error_paths(response) == {"conditions.any[1].op"}


def test_history_lists_daily_stats_oldest_first(api):
    segment = evaluated()
    today = timezone.now().date()
    SegmentDailyStats.objects.create(
        segment=segment, day=today - dt.timedelta(days=1), size=5, entered=5, left=0
    )

    response = api.get(f"/api/v1/segments/{segment.pk}/history")

    results = response.json()["results"]
    assert [row["day"] for row in results] == [
        (today - dt.timedelta(days=1)).isoformat(),
        today.isoformat(),
    ]
    assert results[0] == {
        "day": (today - dt.timedelta(days=1)).isoformat(),
        "size": 5,
        "entered": 5,
        "left": 0,
    }


def test_history_since_filters_days(api):
    segment = evaluated()
    today = timezone.now().date()
    SegmentDailyStats.objects.create(segment=segment, day=today - dt.timedelta(days=3))

    response = api.get(f"/api/v1/segments/{segment.pk}/history?since={today.isoformat()}")

    assert [row["day"] for row in response.json()["results"]] == [today.isoformat()]


def test_history_rejects_a_bad_date(api):
    segment = evaluated()

    response = api.get(f"/api/v1/segments/{segment.pk}/history?since=yesterday")

    assert response.status_code == 400
    assert error_paths(response) == {"since"}


def test_segments_api_needs_an_api_key(client):
    assert client.get("/api/v1/segments").status_code == 401


def test_members_page_is_a_fixed_number_of_queries(api, django_assert_num_queries):
    for index in range(10):
        ContactTagFactory(contact=ContactFactory(country="FR"), tag__name=f"tag-{index}")
    segment = evaluated()
    api.get(f"/api/v1/segments/{segment.pk}/members")  # the API key is checked, then remembered

    # segment + its depends_on, count, page, the page's tags
    with django_assert_num_queries(5):
        response = api.get(f"/api/v1/segments/{segment.pk}/members")

    assert response.json()["count"] == 10


def test_preview_with_a_huge_event_count_is_a_400_not_a_500(api):
    tree = {
        "type": "event",
        "event": "login",
        "op": "performed",
        "count": {"op": "gte", "value": 10**30},
    }

    response = api.post("/api/v1/segments/preview", {"conditions": tree}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "conditions.count.value"
