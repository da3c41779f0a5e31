import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def test_home_sends_visitors_to_the_login_page(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_home_is_the_dashboard_once_logged_in(client):
    client.force_login(get_user_model().objects.create_superuser("root", password="x" * 12))

    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert '<h1 class="h3 mb-4">Dashboard</h1>' in page
    for link in ('href="/contacts/"', 'href="/fields/"', 'href="/settings/"'):
        assert link in page


def test_healthz_answers_without_login(client):
    assert client.get("/healthz").json() == {"status": "ok"}
