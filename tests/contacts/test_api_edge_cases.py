"""Client input that once made the API answer 500: each must be a 4xx naming the problem, and
nothing valid around it may be lost."""

import json

import pytest
from rest_framework.test import APIClient

from contacts.builtins import normalize_email
from contacts.models import Contact, Event, Tag
from tests.factories import ContactFactory, CustomFieldFactory

pytestmark = pytest.mark.django_db


def _post_json(api, url, body: str):
    return api.generic("POST", url, body, content_type="application/json")


def test_event_with_a_number_too_large_for_a_float_is_rejected(api):
    # 1e400 parses as float("inf"), which PostgreSQL's jsonb cannot store.
    body = '{"email": "ann@example.com", "name": "purchase", "properties": {"amount": 1e400}}'

    response = _post_json(api, "/api/v1/events", body)

    assert response.status_code == 400
    assert "properties.amount" in response.json()["errors"][0]["message"]
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("bad_item", "path"),
    [
        ('{"email": "b@example.com", "name": "x", "properties": {"n": -1e999}}', "properties.n"),
        (
            '{"email": "b@example.com", "name": "x", "properties": {"s": "a\\u0000"}}',
            "properties.s",
        ),
        ('{"email": "b@example.com", "name": "x\\u0000"}', "name"),
        ('{"email": "b@example.com", "name": "x\\ud800"}', "name"),
        ('{"external_id": "u\\u0000", "name": "x"}', "external_id"),
        ('{"email": "b@\\ud800\\ud800x.com", "name": "x"}', "email"),
        ('{"email": "b@example.com", "name": "x", "\\ud800": 1}', "\ud800"),
    ],
)
def test_batch_item_with_an_unstorable_value_is_rejected_alone(api, bad_item, path):
    good = '{"email": "a@example.com", "name": "login"}'

    response = _post_json(api, "/api/v1/events/batch", f'{{"events": [{good}, {bad_item}]}}')

    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1
    assert [(r["index"], list(r["errors"])) for r in body["rejected"]] == [(1, [path])]
    assert Event.objects.get().name == "login"


def test_body_nested_beyond_the_json_parsers_recursion_limit_is_rejected(api):
    body = '{"email": "ann@example.com", "name": "x", "properties": ' + "[" * 100_000

    response = _post_json(api, "/api/v1/events", body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == ""


@pytest.mark.parametrize("occurred_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_event_time_that_overflows_when_converted_to_utc_is_rejected(api, occurred_at):
    response = api.post(
        "/api/v1/events",
        {"email": "ann@example.com", "name": "login", "occurred_at": occurred_at},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "occurred_at"


def test_since_that_overflows_when_converted_to_utc_is_rejected(api):
    response = api.get("/api/v1/events", {"since": "0001-01-01T00:00:00+05:00"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "since"


def test_datetime_field_value_that_overflows_in_utc_is_rejected(api):
    CustomFieldFactory(key="renews_at", type="datetime")

    response = api.post(
        "/api/v1/contacts",
        {"email": "ann@example.com", "fields": {"renews_at": "9999-12-31T23:30:00-01:00"}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "fields.renews_at"


@pytest.mark.parametrize("name", ["ΟΔΟΣ", "İstanbul"])
def test_tag_whose_python_and_postgresql_lower_case_differ_is_stored(api, name):
    # Python lower-cases a final sigma to "ς" and "İ" to "i̇"; PostgreSQL to "σ" and "i".
    response = api.post(
        "/api/v1/contacts", {"email": "ann@example.com", "tags": [name]}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["tags"] == [name]


def test_tag_differing_only_in_case_reuses_the_stored_tag(api):
    api.post("/api/v1/contacts", {"email": "ann@example.com", "tags": ["ΟΔΟΣ"]}, format="json")

    response = api.post(
        "/api/v1/contacts", {"email": "bob@example.com", "tags": ["οδοσ"]}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["tags"] == ["ΟΔΟΣ"]
    assert Tag.objects.count() == 1


def test_contact_id_beyond_the_database_range_is_not_found(api):
    response = api.get("/api/v1/contacts/99999999999999999999999")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_unmatched_api_url_answers_json_404(api):
    response = api.get("/api/v1/contacts/not-a-number")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_page_size_that_is_not_a_positive_number_is_rejected(api):
    response = api.get("/api/v1/contacts", {"page_size": "0"})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"path": "page_size", "message": "Must be a whole number >= 1."}
    ]


def test_page_size_above_the_maximum_is_capped(api):
    ContactFactory.create_batch(2)

    response = api.get("/api/v1/contacts", {"page_size": "5000"})

    assert response.status_code == 200
    assert response.json()["count"] == 2


def test_form_encoded_body_is_unsupported_media_type(api):
    response = api.post("/api/v1/contacts", {"email": "ann@example.com"})

    assert response.status_code == 415
    assert response.json()["detail"].startswith("Unsupported media type")
    assert not Contact.objects.exists()


@pytest.mark.parametrize("field", ["first_name", "email", "country"])
def test_number_for_a_text_attribute_is_rejected(api, field):
    response = api.post("/api/v1/contacts", {"external_id": "u-1", field: 42}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [{"path": field, "message": "Must be a string."}]


def test_integer_external_id_is_read_as_its_digits(api):
    response = api.post("/api/v1/contacts", {"external_id": 42}, format="json")

    assert response.status_code == 201
    assert response.json()["external_id"] == "42"


def test_field_key_with_surrounding_whitespace_is_rejected(api):
    response = api.post(
        "/api/v1/fields", {"key": "plan\n", "label": "Plan", "type": "text"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "key"


@pytest.mark.parametrize("params", [{"page": ""}, {"page_size": ""}, {"email": ""}])
def test_empty_optional_query_parameter_means_not_given(api, params):
    ContactFactory.create_batch(2)

    response = api.get("/api/v1/contacts", params)

    assert response.status_code == 200
    assert response.json()["count"] == 2


def test_session_caller_without_csrf_token_is_refused_with_403(django_user_model):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_user("ann", password="x" * 12))

    response = client.post("/api/v1/contacts", {"email": "bob@example.com"}, format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Contact.objects.exists()


def test_email_with_a_lone_surrogate_in_its_domain_is_invalid():
    # Django's validator accepts it; the database driver cannot encode it.
    with pytest.raises(ValueError, match="invalid code points"):
        normalize_email("ann@\ud800example.com")


def test_batch_item_with_an_integer_beyond_64_bits_is_stored_exactly(api):
    number = "1" + "0" * 29 + "1"
    item = f'{{"email": "a@example.com", "name": "x", "properties": {{"n": {number}}}}}'

    response = _post_json(api, "/api/v1/events/batch", f'{{"events": [{item}]}}')

    assert response.status_code == 202
    assert response.json()["accepted"] == 1
    assert Event.objects.get().properties == {"n": 10**30 + 1}


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_batch_with_a_non_finite_literal_is_a_parse_error(api, literal):
    good = '{"email": "a@example.com", "name": "login"}'
    bad = f'{{"email": "b@example.com", "name": "x", "properties": {{"n": {literal}}}}}'

    response = _post_json(api, "/api/v1/events/batch", f'{{"events": [{good}, {bad}]}}')

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["path"] == ""
    assert "not JSON compliant" in error["message"]
    assert not Event.objects.exists()


def test_batch_item_nested_deeper_than_the_limit_is_rejected_alone(api):
    good = '{"email": "a@example.com", "name": "login"}'
    deep = '{"email": "b@example.com", "name": "x", "properties": {"a": ' + "[" * 500 + "]" * 500
    deep += "}}"

    response = _post_json(api, "/api/v1/events/batch", f'{{"events": [{good}, {deep}]}}')

    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1
    assert [(r["index"], list(r["errors"])) for r in body["rejected"]] == [
        (1, ["properties.a" + "[0]" * 20])
    ]


def test_batch_nested_beyond_what_any_parser_reads_is_rejected(api):
    body = '{"events": [' + "[" * 5000 + "]" * 5000 + "]}"

    response = _post_json(api, "/api/v1/events/batch", body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == ""


def test_batch_emails_are_normalised_however_they_are_written(api):
    emails = [" Ann@Example.COM ", "BOB@BÜCHER.DE", '"cy.d"@example.com', "dee+x@Example.co.uk"]
    items = ", ".join(f'{{"email": {json.dumps(e)}, "name": "login"}}' for e in emails)

    response = _post_json(api, "/api/v1/events/batch", f'{{"events": [{items}]}}')

    assert response.status_code == 202
    assert response.json()["accepted"] == 4
    assert sorted(Contact.objects.values_list("email", flat=True)) == [
        '"cy.d"@example.com',
        "ann@example.com",
        "bob@bücher.de",
        "dee+x@example.co.uk",
    ]
