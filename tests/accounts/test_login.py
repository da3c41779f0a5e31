import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.roles import MARKETER
from accounts.services import user_role_set

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def marketer(db):
    user = get_user_model().objects.create_user(username="mia", password=PASSWORD)
    user_role_set(user=user, role=MARKETER)
    return user


@pytest.mark.parametrize(
    "path", ["/", "/contacts/", "/contacts/1/", "/fields/", "/segments/", "/settings/"]
)
def test_pages_send_anonymous_visitors_to_the_login_page(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_the_login_page_is_public_and_labels_its_inputs(client):
    response = client.get("/login/")

    assert response.status_code == 200
    page = response.content.decode()
    assert '<label for="id_username"' in page
    assert '<label for="id_password"' in page


def test_logging_in_leads_to_the_page_asked_for(client, marketer):
    response = client.post("/login/", {"username": "mia", "password": PASSWORD, "next": "/fields/"})

    assert response.status_code == 302
    assert response["Location"] == "/fields/"


def test_logging_in_without_next_leads_to_the_dashboard(client, marketer):
    response = client.post("/login/", {"username": "mia", "password": PASSWORD})

    assert response["Location"] == "/"


def test_a_wrong_password_shows_an_error_on_the_login_page(client, marketer):
    response = client.post("/login/", {"username": "mia", "password": "wrong"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_logout_is_a_post_and_ends_the_session(client, marketer):
    client.force_login(marketer)

    response = client.post("/logout/")

    assert response["Location"] == "/login/"
    assert client.get("/")["Location"] == "/login/?next=/"


def test_login_is_protected_by_csrf(marketer):
    strict = Client(enforce_csrf_checks=True)

    response = strict.post("/login/", {"username": "mia", "password": PASSWORD})

    assert response.status_code == 403


def test_a_user_without_a_role_cannot_open_marketer_pages(client):
    user = get_user_model().objects.create_user(username="nobody", password=PASSWORD)
    client.force_login(user)

    response = client.get("/contacts/")

    assert response.status_code == 403
    assert "needs the marketer role" in response.content.decode()


def test_a_marketer_cannot_open_settings(client, marketer):
    client.force_login(marketer)

    response = client.get("/settings/")

    assert response.status_code == 403


def test_the_navigation_shows_settings_to_admins_only(client, marketer):
    client.force_login(marketer)

    page = client.get("/").content.decode()

    assert 'href="/contacts/"' in page and 'href="/fields/"' in page
    assert 'href="/settings/"' not in page


def test_an_htmx_request_without_a_session_sends_the_whole_page_to_login(client):
    response = client.get("/dashboard/events/", HTTP_HX_REQUEST="true")

    assert response.status_code == 204
    assert response["HX-Redirect"] == "/login/"
