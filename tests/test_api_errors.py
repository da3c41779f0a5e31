"""Project-wide API answers (segflow/api/errors.py): a body over the upload limit and a URL
with a trailing slash get the API's JSON error shape, not Django's HTML pages."""

import logging

import pytest
from django.test import override_settings

from segflow.api.errors import exception_handler
from segments.services import segment_create
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

LIMIT = 1024 * 1024  # 1 MiB: the same code path as the 20 MiB default, with smaller bodies
TOO_LARGE = b'{"email": "' + b"x" * LIMIT + b'@example.com"}'
IN_FRANCE = {"type": "field", "field": "country", "op": "eq", "value": "FR"}


@pytest.fixture
def segment():
    return segment_create(name="France", conditions=IN_FRANCE)


def _urls(segment, contact) -> list[tuple[str, str]]:
    return [
        ("post", "/api/v1/contacts"),
        ("patch", f"/api/v1/contacts/{contact.pk}"),
        ("post", "/api/v1/fields"),
        ("post", "/api/v1/events"),
        ("post", "/api/v1/events/batch"),
        ("post", "/api/v1/segments"),
        ("patch", f"/api/v1/segments/{segment.pk}"),
        ("post", f"/api/v1/segments/{segment.pk}/evaluate"),
        ("post", "/api/v1/segments/preview"),
    ]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=LIMIT)
def test_every_json_endpoint_answers_a_body_over_the_limit_with_a_json_413(api, segment, caplog):
    contact = ContactFactory()
    message = "The request body is larger than the limit of 1 MiB."

    for method, url in _urls(segment, contact):
        response = api.generic(method.upper(), url, TOO_LARGE, content_type="application/json")

        assert (method, url, response.status_code) == (method, url, 413)
        assert response.json() == {"detail": message, "errors": [{"path": "", "message": message}]}
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_the_413_names_the_configured_limit_of_20_mib():
    from django.core.exceptions import RequestDataTooBig

    response = exception_handler(RequestDataTooBig("too big"), {})

    assert response.status_code == 413
    assert response.data["detail"] == "The request body is larger than the limit of 20 MiB."


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=LIMIT)
def test_an_upload_with_a_form_field_over_the_limit_is_a_json_413(api):
    response = api.post("/api/v1/imports", {"file": "x" * (LIMIT + 1)}, format="multipart")

    assert response.status_code == 413
    assert response.json()["detail"] == "The request body is larger than the limit of 1 MiB."


def test_api_url_with_a_trailing_slash_names_the_url_without_it(api):
    response = api.get("/api/v1/contacts/")

    assert response.status_code == 404
    assert response.json() == {
        "detail": "Not found. API URLs have no trailing slash: /api/v1/contacts"
    }


def test_unknown_api_url_with_a_trailing_slash_is_a_plain_json_404(api):
    response = api.get("/api/v1/nothing-here/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
