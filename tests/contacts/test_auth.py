import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from contacts.api_keys import CACHE_SECONDS, api_key_create
from contacts.models import ApiKey

pytestmark = pytest.mark.django_db


def test_request_without_key_is_401_with_bearer_challenge():
    response = APIClient().get("/api/v1/contacts")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_wrong_key_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer sf_wrong")
    response = client.get("/api/v1/contacts")

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked API key."}


def test_create_api_key_command_prints_a_working_key_on_its_last_line(capsys):
    call_command("create_api_key", "backend")
    raw_key = capsys.readouterr().out.strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    response = client.get("/api/v1/contacts")
    assert response.status_code == 200
    assert response.json()["results"] == []
    stored = ApiKey.objects.get(name="backend")
    assert raw_key not in (stored.key_hash, stored.prefix)
    assert stored.last_used_at is not None


def test_revoked_key_is_refused(api_key):
    ApiKey.objects.update(revoked_at=timezone.now())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    response = client.get("/api/v1/contacts")

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked API key."}


def _contacts_status(raw_key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client.get("/api/v1/contacts").status_code


def test_revoked_key_is_refused_once_the_cache_window_has_passed(api_key):
    with time_machine.travel(dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC), tick=False) as clock:
        assert _contacts_status(api_key) == 200
        ApiKey.objects.update(revoked_at=timezone.now())

        # Remembered by this process for up to CACHE_SECONDS (documented in docs/api.md).
        clock.shift(CACHE_SECONDS - 1)
        assert _contacts_status(api_key) == 200
        clock.shift(2)
        assert _contacts_status(api_key) == 401


def test_valid_key_is_looked_up_once_per_cache_window(api_key):
    with time_machine.travel(dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC), tick=False) as clock:
        assert _contacts_status(api_key) == 200
        with CaptureQueriesContext(connection) as within_window:
            assert _contacts_status(api_key) == 200
        clock.shift(CACHE_SECONDS + 1)
        with CaptureQueriesContext(connection) as after_window:
            assert _contacts_status(api_key) == 200

    assert not [q for q in within_window.captured_queries if "contacts_apikey" in q["sql"]]
    assert [q for q in after_window.captured_queries if "contacts_apikey" in q["sql"]]


def test_clock_set_back_does_not_stretch_the_cache_window(api_key):
    with time_machine.travel(dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC), tick=False) as clock:
        assert _contacts_status(api_key) == 200
        ApiKey.objects.update(revoked_at=timezone.now())
        clock.shift(-3600)

        assert _contacts_status(api_key) == 401


def test_revoked_key_that_was_never_used_is_refused_at_once(api_key):
    assert _contacts_status(api_key) == 200
    _, other_key = api_key_create(name="other")
    ApiKey.objects.filter(name="other").update(revoked_at=timezone.now())

    assert _contacts_status(other_key) == 401
