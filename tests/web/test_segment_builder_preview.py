"""The builder's JSON endpoints: live preview (valid part, issues by path), impact counts,
event names and property keys; login and CSRF like every page."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from segments.selectors import segment_preview
from tests.factories import (
    ContactFactory,
    ContactTagFactory,
    CustomFieldFactory,
    EventFactory,
    SegmentFactory,
    SegmentMembershipFactory,
    SubscriptionTopicFactory,
    TagFactory,
)
from tests.web.conftest import PASSWORD
from web.segment_builder_preview import segment_change_impact, valid_part

pytestmark = pytest.mark.django_db

PREVIEW = "/segments/builder/preview/"


def post_json(client, url, body, **extra):
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


@pytest.fixture
def people():
    vip = TagFactory(name="vip")
    ann = ContactFactory(email="ann@example.com", lead_score=50, country="FR")
    bob = ContactFactory(email="bob@example.com", lead_score=5, country="DE")
    cid = ContactFactory(email="cid@example.com", lead_score=80, country="DE")
    ContactTagFactory(contact=ann, tag=vip)
    EventFactory.create_batch(3, contact=bob, name="login")
    EventFactory(contact=cid, name="login", properties={"plan": "pro"})
    return ann, bob, cid


def test_preview_counts_what_the_segments_preview_counts(marketer_client, people):
    tree = {
        "any": [
            {"all": [{"type": "field", "field": "lead_score", "op": "gte", "value": 40}]},
            {
                "type": "event",
                "event": "login",
                "op": "performed",
                "count": {"op": "gte", "value": 3},
            },
        ]
    }
    response = post_json(marketer_client, PREVIEW, {"conditions": tree})

    assert response.status_code == 200
    body = response.json()
    expected, sample = segment_preview(conditions=tree, now=timezone.now())
    assert body["count"] == expected == 3
    assert [row["id"] for row in body["sample"]] == [contact.pk for contact in sample]
    assert body["errors"] == [] and body["counted"] == "all"
    assert body["summary"].startswith("any of: Lead score is at least 40")
    assert body["sample"][0]["url"] == f"/contacts/{sample[0].pk}/"


def test_invalid_rows_are_reported_by_path_and_left_out_of_the_count(marketer_client, people):
    tree = {
        "all": [
            {"type": "field", "field": "country", "op": "eq", "value": "DE"},
            {"type": "field", "field": "lead_score", "op": "gte", "value": None},
            {"any": [{"type": "event", "event": "", "op": "performed"}]},
        ]
    }
    response = post_json(marketer_client, PREVIEW, {"conditions": tree})

    assert response.status_code == 400
    body = response.json()
    paths = {error["path"] for error in body["errors"]}
    assert paths == {"conditions.all[1].value", "conditions.all[2].any[0].event"}
    # The valid part only: the country row (bob and cid); the empty `any` goes with its row.
    assert body["count"] == 2 and body["counted"] == "part"
    assert body["summary"] == "Country is DE"


def test_an_invalid_row_in_an_any_group_does_not_widen_or_narrow_it(people):
    tree = {
        "any": [
            {"type": "tag", "op": "has", "tag": "vip"},
            {"type": "field", "field": "nope", "op": "eq", "value": "x"},
        ]
    }
    issues = [{"path": "conditions.any[1].field", "message": "Unknown field 'nope'."}]

    assert valid_part(tree, issues) == {"any": [{"type": "tag", "op": "has", "tag": "vip"}]}


def test_not_around_an_invalid_row_goes_with_it():
    tree = {"all": [{"not": {"type": "tag", "op": "has", "tag": ""}}, {"type": "x"}]}
    issues = [
        {"path": "conditions.all[0].not.tag", "message": "Must not be blank."},
        {"path": "conditions.all[1].type", "message": "Unknown condition type."},
    ]

    assert valid_part(tree, issues) is None


def test_empty_groups_are_issues_and_nothing_is_counted(marketer_client, people):
    response = post_json(marketer_client, PREVIEW, {"conditions": {"all": []}})

    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["path"] == "conditions"
    assert body["count"] is None and body["counted"] == "none"

    nested = {"all": [{"type": "tag", "op": "has", "tag": "vip"}, {"any": []}]}
    body = post_json(marketer_client, PREVIEW, {"conditions": nested}).json()
    assert [error["path"] for error in body["errors"]] == ["conditions.all[1]"]
    assert body["count"] == 1


def test_a_cycle_is_reported_at_the_segment_row(marketer_client):
    first = SegmentFactory(name="First", conditions={"all": []})
    second = SegmentFactory(
        name="Second", conditions={"all": [{"type": "segment", "op": "in", "segment": first.pk}]}
    )
    tree = {"all": [{"type": "segment", "op": "in", "segment": second.pk}]}

    body = post_json(marketer_client, PREVIEW, {"conditions": tree, "segment": first.pk}).json()

    assert body["errors"][0]["path"] == "conditions.all[0].segment"
    assert "Cycle" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        b'{"segment": 1}',
        b"[" * 50_000 + b"]" * 50_000,
        b'{"conditions": 5}',
    ],
)
def test_bad_bodies_are_400_never_500(marketer_client, raw):
    response = marketer_client.post(PREVIEW, raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"]


def test_deep_and_odd_trees_are_400_never_500(marketer_client):
    deep: dict = {"type": "tag", "op": "has", "tag": "vip"}
    for _ in range(30):
        deep = {"not": deep}
    for tree in (deep, {"all": "x"}, {"all": [], "any": []}, {"all": [None, 3, "a"]}, []):
        response = post_json(marketer_client, PREVIEW, {"conditions": tree})
        assert response.status_code == 400, tree
        assert response.json()["errors"]


def test_preview_needs_a_login(client):
    response = post_json(client, PREVIEW, {"conditions": {"all": []}})

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_preview_needs_the_csrf_token(marketer):
    client = Client(enforce_csrf_checks=True)
    client.login(username=marketer.username, password=PASSWORD)
    tree = {"conditions": {"all": [{"type": "tag", "op": "has", "tag": "vip"}]}}

    refused = post_json(client, PREVIEW, tree)
    client.get("/segments/new/")  # sets the CSRF cookie, as the page does
    token = client.cookies["csrftoken"].value
    accepted = post_json(client, PREVIEW, tree, HTTP_X_CSRFTOKEN=token)

    assert refused.status_code == 403
    assert accepted.status_code == 200


def test_a_user_without_a_role_cannot_preview(client):
    user = get_user_model().objects.create_user(username="nobody", password=PASSWORD)
    client.force_login(user)

    assert post_json(client, PREVIEW, {"conditions": {"all": []}}).status_code == 403


def test_impact_counts_who_enters_and_who_leaves(people):
    ann, bob, cid = people
    segment = SegmentFactory(
        conditions={"all": [{"type": "field", "field": "country", "op": "eq", "value": "FR"}]},
        last_evaluated_at=timezone.now(),
    )
    SegmentMembershipFactory(segment=segment, contact=ann)
    SegmentMembershipFactory(segment=segment, contact=bob)  # a member that no longer matches
    SegmentMembershipFactory(segment=segment, contact=cid, left_at=timezone.now())  # a past stay
    new_tree = {"all": [{"type": "field", "field": "lead_score", "op": "gte", "value": 50}]}

    impact = segment_change_impact(segment=segment, conditions=new_tree, now=timezone.now())

    # ann stays, bob leaves, cid (score 80, out since their last stay) enters.
    assert impact == {
        "entering": 1,
        "leaving": 1,
        "size_before": 2,
        "size_after": 2,
        "evaluated": True,
    }


def test_impact_endpoint_answers_counts_or_the_issues(marketer_client, people):
    ann, _, _ = people
    segment = SegmentFactory(conditions={"all": [{"type": "tag", "op": "has", "tag": "vip"}]})
    SegmentMembershipFactory(segment=segment, contact=ann)
    url = f"/segments/{segment.pk}/edit/impact/"

    tree = {"all": [{"type": "field", "field": "country", "op": "eq", "value": "DE"}]}
    body = post_json(marketer_client, url, {"conditions": tree}).json()
    bad = post_json(marketer_client, url, {"conditions": {"all": [{"type": "tag"}]}})

    assert (body["entering"], body["leaving"], body["size_after"]) == (2, 1, 2)
    assert bad.status_code == 400
    assert {e["path"] for e in bad.json()["errors"]} == {
        "conditions.all[0].op",
        "conditions.all[0].tag",
    }


def test_event_names_are_the_names_seen_in_the_data(marketer_client, people):
    EventFactory(name="page.viewed")

    body = marketer_client.get("/segments/builder/events/").json()

    assert body["names"] == ["login", "page.viewed"]


def test_property_keys_come_from_recent_events_of_that_name(marketer_client):
    EventFactory(name="purchase", properties={"plan": "pro", "amount": 30})
    EventFactory(name="purchase", properties={"plan": "team", "amount": 90, "coupon": True})
    EventFactory(name="login", properties={"device": "ios"})

    body = marketer_client.get("/segments/builder/event-properties/?event=purchase").json()

    assert [p["key"] for p in body["properties"]] == ["amount", "plan", "coupon"]
    types = {p["key"]: p["type"] for p in body["properties"]}
    assert types == {"amount": "number", "plan": "text", "coupon": "boolean"}
    assert marketer_client.get("/segments/builder/event-properties/").status_code == 400


def test_custom_fields_are_offered_with_their_type_and_choices(marketer_client):
    CustomFieldFactory(key="plan", label="Plan", type="choice", choices=["free", "pro"])

    page = marketer_client.get("/segments/new/")

    data = page.context["builder"]
    plan = next(field for field in data["fields"] if field["key"] == "plan")
    assert plan == {
        "key": "plan",
        "label": "Plan",
        "type": "choice",
        "choices": ["free", "pro"],
        "builtin": False,
    }


def test_a_preview_costs_a_fixed_number_of_queries(
    marketer_client, people, django_assert_num_queries
):
    CustomFieldFactory(key="plan", type="choice", choices=["free", "pro"])
    other = SegmentFactory(conditions={"all": []})
    topic = SubscriptionTopicFactory(key="news")
    leaves = [
        {"type": "field", "field": "plan", "op": "eq", "value": "pro"},
        {"type": "segment", "op": "in", "segment": other.pk},
        {"type": "subscription", "op": "subscribed", "topic": topic.key},
        {"type": "event", "event": "login", "op": "performed"},
    ]
    small = {"any": leaves}
    large = {"any": [*leaves, {"all": [{"any": leaves * 5}]}, {"not": {"not": {"any": leaves}}}]}
    marketer_client.get("/segments/new/")  # the session is set up

    # session, user, roles; validation: fields, topics, segments; compile: fields; sample,
    # tags, count; summary: fields, segment and topic names. None per condition.
    with django_assert_num_queries(12) as small_queries:
        assert post_json(marketer_client, PREVIEW, {"conditions": small}).status_code == 200
    with django_assert_num_queries(len(small_queries)):
        assert post_json(marketer_client, PREVIEW, {"conditions": large}).status_code == 200
