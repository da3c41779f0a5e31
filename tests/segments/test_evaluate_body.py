"""POST /api/v1/segments/{id}/evaluate takes no body: empty or `{}`, anything else is a 400
rather than silently ignored (its one option, `wait`, is in the query string)."""

import pytest

from segments.services import segment_create

pytestmark = pytest.mark.django_db

IN_FRANCE = {"type": "field", "field": "country", "op": "eq", "value": "FR"}


@pytest.fixture
def url():
    segment = segment_create(name="France", conditions=IN_FRANCE)
    return f"/api/v1/segments/{segment.pk}/evaluate"


@pytest.mark.parametrize("body", [b"", b"{}", b" { } "])
def test_an_empty_body_or_empty_object_queues_the_evaluation(api, url, body):
    response = api.generic("POST", url, body, content_type="application/json")

    assert response.status_code == 202
    assert response.json() == {"detail": "Evaluation queued."}


def test_an_empty_body_without_a_content_type_queues_the_evaluation(api, url):
    response = api.post(url)

    assert response.status_code == 202
    assert response.json() == {"detail": "Evaluation queued."}


@pytest.mark.parametrize("body", [b'{"wait": true}', b"[]", b"null", b"0", b'"x"'])
def test_any_other_json_body_is_refused(api, url, body):
    response = api.generic("POST", url, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "errors": [{"path": "", "message": "The body must be empty or {}: evaluate takes none."}],
    }


def test_a_body_that_is_not_json_is_refused(api, url):
    response = api.generic("POST", url, b"wait=true", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("JSON parse error")
