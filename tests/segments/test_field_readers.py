"""A custom field that segment conditions read can be neither deleted nor retyped: the
segments could no longer be evaluated (their evaluation answered 500)."""

import pytest

from contacts.models import CustomField
from tests.factories import CustomFieldFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def segment_on_plan(api):
    CustomFieldFactory(key="plan", type="choice", choices=["free", "pro"])
    condition = {"type": "field", "field": "plan", "op": "eq", "value": "pro"}
    response = api.post(
        "/api/v1/segments", {"name": "Pro users", "conditions": condition}, format="json"
    )
    assert response.status_code == 201
    return response.json()["id"]


def test_field_read_by_a_segment_cannot_be_deleted(api, segment_on_plan):
    response = api.delete("/api/v1/fields/plan")

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["path"] == "key"
    assert f"Segment 'Pro users' (#{segment_on_plan})" in error["message"]
    assert CustomField.objects.filter(key="plan").exists()


def test_field_read_by_a_segment_cannot_change_type(api, segment_on_plan):
    response = api.patch("/api/v1/fields/plan", {"type": "text"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "type"
    assert CustomField.objects.get(key="plan").type == "choice"


def test_field_read_by_a_segment_keeps_other_changes(api, segment_on_plan):
    response = api.patch("/api/v1/fields/plan", {"label": "Billing plan"}, format="json")

    assert response.status_code == 200
    assert response.json()["label"] == "Billing plan"


def test_segment_still_evaluates_after_a_refused_delete(api, segment_on_plan):
    api.delete("/api/v1/fields/plan")

    response = api.post(f"/api/v1/segments/{segment_on_plan}/evaluate?wait=true")

    assert response.status_code == 200


def test_field_no_longer_read_can_be_deleted(api, segment_on_plan):
    api.delete(f"/api/v1/segments/{segment_on_plan}")

    response = api.delete("/api/v1/fields/plan")

    assert response.status_code == 204
