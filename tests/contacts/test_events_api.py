import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from contacts.api.events import EventListApi
from contacts.models import Contact, Event
from tests.factories import ContactFactory, EventFactory

pytestmark = pytest.mark.django_db


def test_single_event_is_stored_and_creates_unknown_contact(api):
    response = api.post(
        "/api/v1/events",
        {"email": "New@Example.com", "name": "signup", "properties": {"plan": "pro"}},
        format="json",
    )

    assert response.status_code == 202
    event = Event.objects.get(pk=response.json()["id"])
    assert event.contact.email == "new@example.com"
    assert event.properties == {"plan": "pro"}
    assert event.source == "api"
    assert event.contact.last_activity_at == event.occurred_at


def test_replayed_idempotency_key_is_stored_once(api):
    body = {"email": "a@example.com", "name": "purchase", "idempotency_key": "order-1"}

    first = api.post("/api/v1/events", body, format="json").json()
    second = api.post("/api/v1/events", body, format="json").json()

    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert first["id"] == second["id"]
    assert Event.objects.count() == 1


def test_event_by_external_id_attaches_to_existing_contact(api):
    contact = ContactFactory(external_id="u-7")

    response = api.post("/api/v1/events", {"external_id": "u-7", "name": "login"}, format="json")

    assert response.json()["contact"] == contact.pk


def test_invalid_event_lists_every_error_and_stores_nothing(api):
    response = api.post(
        "/api/v1/events",
        {"name": "", "occurred_at": "tomorrowish", "properties": [1], "colour": "red"},
        format="json",
    )

    assert response.status_code == 400
    paths = {error["path"] for error in response.json()["errors"]}
    assert paths == {"email", "name", "occurred_at", "properties", "colour"}
    assert not Event.objects.exists()


def test_single_event_answers_as_drf_renders_it(api):
    contact = ContactFactory(email="known@example.com")

    response = api.post("/api/v1/events", {"email": "known@example.com", "name": "login"}, "json")

    event = Event.objects.get(contact=contact)
    expected = f'{{"id":{event.pk},"contact":{contact.pk},"duplicate":false}}'
    assert (response.status_code, response.content.decode()) == (202, expected)
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "GET, POST, HEAD, OPTIONS"


def test_valid_single_event_skips_drf_request_machinery(api, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("DRF's request was built for a plain single event")

    monkeypatch.setattr(EventListApi, "initialize_request", fail)

    response = api.post("/api/v1/events", {"email": "a@example.com", "name": "login"}, "json")

    assert response.status_code == 202
    assert response.json()["duplicate"] is False


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        (None, "Authentication credentials were not provided."),
        ("Bearer sf_unknown", "Invalid or revoked API key."),
        ("Bearer", "Use the header 'Authorization: Bearer <key>'."),
        ("Bearer a b", "Use the header 'Authorization: Bearer <key>'."),
    ],
)
def test_single_event_without_a_valid_key_is_401_json(authorization, detail):
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    response = client.post("/api/v1/events", {"email": "a@example.com", "name": "x"}, "json")

    assert (response.status_code, response.json()) == (401, {"detail": detail})
    assert response["WWW-Authenticate"] == "Bearer"
    assert not Event.objects.exists()


def test_single_event_with_malformed_json_is_400_for_the_whole_body(api):
    response = api.generic("POST", "/api/v1/events", b'{"name": ', content_type="application/json")

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["path"] == ""
    assert error["message"].startswith("JSON parse error")


def test_single_event_with_unstorable_value_is_400(api):
    body = b'{"email": "a@example.com", "name": "x", "properties": {"k": "\\u0000"}}'

    response = api.generic("POST", "/api/v1/events", body, content_type="application/json")

    assert response.status_code == 400
    assert "NUL characters" in response.json()["detail"]
    assert not Event.objects.exists()


def test_single_event_in_another_content_type_is_415(api):
    response = api.generic("POST", "/api/v1/events", b"name=x", content_type="text/plain")

    assert response.status_code == 415
    assert response.json() == {"detail": 'Unsupported media type "text/plain" in request.'}


def test_single_event_asking_for_html_is_406(api):
    response = api.post(
        "/api/v1/events", {"email": "a@example.com", "name": "x"}, "json", HTTP_ACCEPT="text/html"
    )

    assert response.status_code == 406
    assert response.json() == {"detail": "Could not satisfy the request Accept header."}
    assert not Event.objects.exists()


def test_single_event_for_a_client_accepting_several_types_is_compact_json(api):
    accept = "application/json, text/plain, */*"

    response = api.post(
        "/api/v1/events", {"email": "a@example.com", "name": "x"}, "json", HTTP_ACCEPT=accept
    )

    assert response.status_code == 202
    assert response.content.decode().startswith('{"id":')


def test_single_event_asking_for_indented_json_gets_it_from_drf_renderer(api):
    accept = "application/json; indent=2"

    response = api.post(
        "/api/v1/events", {"email": "a@example.com", "name": "x"}, "json", HTTP_ACCEPT=accept
    )

    assert response.status_code == 202
    assert response.content.decode().startswith('{\n  "id": ')


def test_single_event_with_charset_and_json_accept_takes_the_same_answer(api):
    response = api.generic(
        "POST",
        "/api/v1/events",
        b'{"email": "a@example.com", "name": "login"}',
        content_type="application/json; charset=utf-8",
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 202
    assert response.json()["contact"] == Contact.objects.get(email="a@example.com").pk


def test_single_event_from_a_logged_in_admin_needs_the_csrf_token(admin_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin_user)

    response = client.post("/api/v1/events", {"email": "a@example.com", "name": "x"}, "json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Event.objects.exists()


def test_batch_stores_valid_items_and_reports_invalid_ones_by_index(api):
    events = [
        {"email": "a@example.com", "name": "login"},
        {"email": "broken", "name": "login"},
        {"email": "b@example.com", "name": "login", "idempotency_key": "k1"},
        {"email": "b@example.com", "name": "login", "idempotency_key": "k1"},
        "not an object",
        {"external_id": "u-9", "name": "page.viewed", "properties": {"url": "/pricing"}},
    ]

    response = api.post("/api/v1/events/batch", {"events": events}, format="json")

    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 4 and body["duplicates"] == 1
    assert [r["index"] for r in body["rejected"]] == [1, 4]
    assert "email" in body["rejected"][0]["errors"]
    assert Event.objects.count() == 3
    assert Contact.objects.count() == 3


def test_batch_over_the_limit_is_400(api):
    events = [{"email": "a@example.com", "name": "x"}] * 1001

    response = api.post("/api/v1/events/batch", {"events": events}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "events"
    assert not Event.objects.exists()


def test_batch_without_events_list_is_400(api):
    not_a_list = api.post("/api/v1/events/batch", {"events": "x"}, format="json")
    not_an_object = api.post("/api/v1/events/batch", [1, 2], format="json")

    expected = [{"path": "events", "message": 'Send {"events": [...]}, a list of events.'}]
    assert (not_a_list.status_code, not_a_list.json()["errors"]) == (400, expected)
    assert (not_an_object.status_code, not_an_object.json()["errors"]) == (400, expected)


def test_batch_with_a_key_beside_events_is_400_naming_it(api):
    response = api.post(
        "/api/v1/events/batch",
        {"events": [{"email": "ann@example.com", "name": "login"}], "source": "crm"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"path": "source", "message": "Unknown key. Allowed: events."}
    ]
    assert not Event.objects.exists()


def test_batch_with_a_misspelt_events_key_names_both_problems(api):
    response = api.post("/api/v1/events/batch", {"event": []}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"path": "events", "message": 'Send {"events": [...]}, a list of events.'},
        {"path": "event", "message": "Unknown key. Allowed: events."},
    ]


def test_last_activity_only_moves_forward(api):
    contact = ContactFactory(email="a@example.com")
    later = timezone.now() - dt.timedelta(hours=1)
    earlier = later - dt.timedelta(days=3)
    api.post(
        "/api/v1/events",
        {"email": "a@example.com", "name": "x", "occurred_at": later.isoformat()},
        format="json",
    )
    api.post(
        "/api/v1/events",
        {"email": "a@example.com", "name": "x", "occurred_at": earlier.isoformat()},
        format="json",
    )

    contact.refresh_from_db()
    assert contact.last_activity_at == later


def test_email_sent_is_not_contact_activity(api):
    contact = ContactFactory(email="a@example.com")

    api.post("/api/v1/events", {"email": "a@example.com", "name": "email.sent"}, format="json")

    contact.refresh_from_db()
    assert contact.last_activity_at is None


def test_list_events_newest_first_with_filters(api):
    contact = ContactFactory()
    now = timezone.now()
    old = EventFactory(contact=contact, name="login", occurred_at=now - dt.timedelta(days=10))
    new = EventFactory(contact=contact, name="login", occurred_at=now - dt.timedelta(days=1))
    EventFactory(contact=contact, name="purchase", occurred_at=now)
    EventFactory(name="login")

    all_logins = api.get("/api/v1/events", {"contact": contact.pk, "name": "login"}).json()
    recent = api.get(
        "/api/v1/events",
        {"contact": contact.pk, "name": "login", "since": (now - dt.timedelta(days=2)).isoformat()},
    ).json()

    assert [e["id"] for e in all_logins["results"]] == [new.pk, old.pk]
    assert [e["id"] for e in recent["results"]] == [new.pk]
