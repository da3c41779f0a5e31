import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from contacts.models import ApiKey

pytestmark = pytest.mark.django_db


def test_request_without_key_is_401_with_bearer_challenge():
    response = APIClient().get("/api/v1/contacts")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_wrong_key_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer sf_wrong")

    assert client.get("/api/v1/contacts").status_code == 401


def test_create_api_key_command_prints_a_working_key_on_its_last_line(capsys):
    call_command("create_api_key", "backend")
    raw_key = capsys.readouterr().out.strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    assert client.get("/api/v1/contacts").status_code == 200
    stored = ApiKey.objects.get(name="backend")
    assert raw_key not in (stored.key_hash, stored.prefix)
    assert stored.last_used_at is not None


def test_revoked_key_is_refused(api_key):
    ApiKey.objects.update(revoked_at=timezone.now())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")

    assert client.get("/api/v1/contacts").status_code == 401
