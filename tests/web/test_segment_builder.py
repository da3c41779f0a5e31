"""The builder page: create and edit through segments.services, errors on the form and at the
rows, the impact step before an edit is saved, and the round trip of an API-made tree."""

import json

import pytest
from django.utils import timezone

from segments.models import Segment
from tests.factories import (
    ContactFactory,
    CustomFieldFactory,
    SegmentFactory,
    SegmentMembershipFactory,
    SubscriptionTopicFactory,
)
from web.views.segment_builder import conditions_digest

pytestmark = pytest.mark.django_db

COUNTRY_DE = {"all": [{"type": "field", "field": "country", "op": "eq", "value": "DE"}]}


def builder_data(response) -> dict:
    return response.context["builder"]


def test_new_page_starts_with_an_empty_all_group(marketer_client):
    response = marketer_client.get("/segments/new/")

    assert response.status_code == 200
    assert builder_data(response)["conditions"] == {"all": []}
    assert "js/segment-builder.js" in response.content.decode()


def test_saving_a_new_segment_goes_through_the_service(marketer_client):
    response = marketer_client.post(
        "/segments/new/",
        {"name": "Germans", "description": "DE", "conditions": json.dumps(COUNTRY_DE)},
    )

    assert response.status_code == 302
    segment = Segment.objects.get(name="Germans")
    assert segment.conditions == COUNTRY_DE
    assert segment.dependency_keys  # derived by segment_create


def test_an_invalid_tree_is_not_saved_and_its_errors_go_to_the_rows(marketer_client):
    tree = {"all": [{"type": "field", "field": "lead_score", "op": "gte", "value": "many"}]}

    response = marketer_client.post(
        "/segments/new/", {"name": "Bad", "conditions": json.dumps(tree)}
    )

    assert response.status_code == 400
    assert not Segment.objects.exists()
    assert builder_data(response)["conditions"] == tree
    assert [e["path"] for e in builder_data(response)["errors"]] == ["conditions.all[0].value"]
    assert "Nothing was saved" in response.content.decode()


@pytest.mark.parametrize(
    "post",
    [
        {"name": "", "conditions": json.dumps(COUNTRY_DE)},
        {"name": "x" * 201, "conditions": json.dumps(COUNTRY_DE)},
        {"name": "Broken", "conditions": "{not json"},
        {"name": "Broken", "conditions": "[" * 10_000},
        {"name": "No tree"},
        {"name": "Scalar", "conditions": "7"},
        {"name": "List", "conditions": "[]"},
        {"name": "Null", "conditions": "null"},
    ],
)
def test_bad_form_input_is_a_form_error_never_a_500(marketer_client, post):
    response = marketer_client.post("/segments/new/", post)

    assert response.status_code == 400
    assert not Segment.objects.exists()
    assert "Nothing was saved" in response.content.decode()
    assert isinstance(builder_data(response)["conditions"], dict)  # the page can show it


def test_an_edit_that_changes_conditions_shows_its_impact_first(marketer_client):
    fr = ContactFactory(country="FR")
    ContactFactory.create_batch(2, country="DE")
    segment = SegmentFactory(
        name="French",
        conditions={"all": [{"type": "field", "field": "country", "op": "eq", "value": "FR"}]},
        last_evaluated_at=timezone.now(),
    )
    SegmentMembershipFactory(segment=segment, contact=fr)
    url = f"/segments/{segment.pk}/edit/"
    post = {"name": "German", "conditions": json.dumps(COUNTRY_DE)}

    review = marketer_client.post(url, post)

    assert review.status_code == 200
    assert review.context["impact"]["entering"] == 2
    assert review.context["impact"]["leaving"] == 1
    assert "Confirm and save" in review.content.decode()
    segment.refresh_from_db()
    assert segment.name == "French"  # nothing saved yet

    stale = marketer_client.post(url, {**post, "confirmed": conditions_digest({"all": []})})
    assert stale.context["impact"] is not None  # confirmed for another tree: shown again

    saved = marketer_client.post(url, {**post, "confirmed": conditions_digest(COUNTRY_DE)})
    assert saved.status_code == 302
    segment.refresh_from_db()
    assert (segment.name, segment.conditions) == ("German", COUNTRY_DE)


def test_renaming_without_changing_conditions_saves_at_once(marketer_client):
    segment = SegmentFactory(name="Old", conditions=COUNTRY_DE)

    response = marketer_client.post(
        f"/segments/{segment.pk}/edit/", {"name": "New", "conditions": json.dumps(COUNTRY_DE)}
    )

    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.name == "New"


def test_an_edit_that_closes_a_cycle_is_refused_at_the_row(marketer_client):
    first = SegmentFactory(conditions=COUNTRY_DE)
    second = SegmentFactory(
        conditions={"all": [{"type": "segment", "op": "in", "segment": first.pk}]}
    )
    tree = {"all": [{"type": "segment", "op": "in", "segment": second.pk}]}

    response = marketer_client.post(
        f"/segments/{first.pk}/edit/", {"name": "First", "conditions": json.dumps(tree)}
    )

    assert response.status_code == 400
    errors = builder_data(response)["errors"]
    assert errors[0]["path"] == "conditions.all[0].segment" and "Cycle" in errors[0]["message"]
    # The segment picker never offers the segment being edited.
    assert first.pk not in [s["id"] for s in builder_data(response)["segments"]]


def test_a_missing_segment_is_a_404(marketer_client):
    assert marketer_client.get("/segments/999999/edit/").status_code == 404


COMPLEX_TREE = {
    "all": [
        {"type": "field", "field": "plan", "op": "in", "value": ["pro", "team"]},
        {
            "any": [
                {
                    "type": "event",
                    "event": "login",
                    "op": "performed",
                    "count": {"op": "gte", "value": 5},
                    "within": {"days": 30},
                    "where": [
                        {"property": "device", "op": "eq", "value": "ios"},
                        {"property": "duration", "op": "between", "value": [10, 60.5]},
                    ],
                },
                {"not": {"all": [{"type": "tag", "op": "has", "tag": "churned"}]}},
                {"type": "email", "op": "not_opened", "within": {"hours": 48}, "template": 3},
            ]
        },
        {
            "not": {
                "type": "field",
                "field": "created_at",
                "op": "within_last",
                "value": {"days": 7},
            }
        },
        {"type": "field", "field": "lead_score", "op": "between", "value": [10, 100]},
        {"type": "field", "field": "trial_ends", "op": "before", "value": "2026-12-31"},
        {"type": "field", "field": "email", "op": "is_set"},
        {"type": "subscription", "op": "subscribed", "topic": "news"},
    ]
}


def test_an_api_made_tree_opens_in_the_builder_and_saves_back_unchanged(api, marketer_client):
    CustomFieldFactory(key="plan", type="choice", choices=["free", "pro", "team"])
    CustomFieldFactory(key="trial_ends", type="date")
    SubscriptionTopicFactory(key="news")
    created = api.post(
        "/api/v1/segments", {"name": "Engaged", "conditions": COMPLEX_TREE}, format="json"
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]

    page = marketer_client.get(f"/segments/{pk}/edit/")
    opened = builder_data(page)["conditions"]
    # What the page's form sends back unchanged (the browser test checks the script keeps it).
    saved = marketer_client.post(
        f"/segments/{pk}/edit/", {"name": "Engaged", "conditions": json.dumps(opened)}
    )

    assert saved.status_code == 302  # unchanged conditions: no impact step
    after = api.get(f"/api/v1/segments/{pk}").json()["conditions"]
    assert json.dumps(after, sort_keys=True) == json.dumps(COMPLEX_TREE, sort_keys=True)
