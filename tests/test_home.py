import pytest

pytestmark = pytest.mark.django_db


def test_home_says_the_web_app_is_not_built_yet_and_links_the_admin_and_docs(client):
    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "is not built yet" in page
    for link in ('href="/admin/"', 'href="/api/docs/"', 'href="/api/schema/"'):
        assert link in page
    assert "docs/api.md" in page
