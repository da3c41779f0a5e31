import pytest

from contacts.api_keys import api_key_check, api_key_create
from contacts.models import ApiKey
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db


def test_admins_see_the_api_keys(admin_client):
    ApiKeyFactory(name="website")

    page = admin_client.get("/settings/").content.decode()

    assert "website" in page


def test_creating_a_key_shows_it_once_and_it_works(admin_client):
    response = admin_client.post("/settings/api-keys/", {"name": "crm"})

    raw_key = response.context["new_key"]
    assert raw_key in response.content.decode()
    assert api_key_check(raw_key).name == "crm"
    assert raw_key not in admin_client.get("/settings/").content.decode()


def test_a_key_needs_a_name(admin_client):
    response = admin_client.post("/settings/api-keys/", {"name": ""})

    assert response.status_code == 400
    assert not ApiKey.objects.exists()


def test_revoking_a_key_stops_it_at_once_in_this_process(admin_client):
    api_key, raw_key = api_key_create(name="old")
    assert api_key_check(raw_key) is not None

    response = admin_client.post(f"/settings/api-keys/{api_key.pk}/revoke/")

    assert response.status_code == 302
    assert api_key_check(raw_key) is None


def test_a_marketer_can_neither_see_nor_create_keys(marketer_client):
    assert marketer_client.get("/settings/").status_code == 403
    assert marketer_client.post("/settings/api-keys/", {"name": "x"}).status_code == 403
    assert not ApiKey.objects.exists()


def test_revoking_needs_a_post(admin_client):
    api_key = ApiKeyFactory()

    assert admin_client.get(f"/settings/api-keys/{api_key.pk}/revoke/").status_code == 405
