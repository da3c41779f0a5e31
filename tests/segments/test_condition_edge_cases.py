"""Condition values at the edges of Python's date range: a 400 naming the value, never a 500."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("op", "value"),
    [
        ("before", "0001-01-01T00:00:00+05:00"),
        ("after", "9999-12-31T23:59:59-05:00"),
        ("after", "9999-12-31"),
        ("between", ["2026-01-01", "9999-12-31"]),
    ],
)
def test_date_bound_beyond_the_representable_range_is_rejected(api, op, value):
    condition = {"type": "field", "field": "created_at", "op": op, "value": value}

    response = api.post("/api/v1/segments/preview", {"conditions": condition}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"].startswith("conditions.value")


def test_last_representable_day_is_accepted_as_a_bound(api):
    condition = {"type": "field", "field": "created_at", "op": "before", "value": "9999-12-30"}

    response = api.post("/api/v1/segments/preview", {"conditions": condition}, format="json")

    assert response.status_code == 200
