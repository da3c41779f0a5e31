"""The admin pages of email layouts: MJML checked as the API checks it, deletion protected."""

import pytest

from automation.models import EmailLayout
from tests.factories import EmailTemplateFactory

pytestmark = pytest.mark.django_db

MJML = "<mjml><mj-body><mj-section><mj-column><mj-text>{{ content }}</mj-text></mj-column>"
MJML += "</mj-section></mj-body></mjml>"


def test_adding_a_layout_with_bad_mjml_shows_the_error_and_saves_nothing(admin_client):
    response = admin_client.post(
        "/admin/automation/emaillayout/add/", {"name": "Brand", "mjml": "<mjml>{{ content }}"}
    )

    assert response.status_code == 200
    assert "MJML error" in response.content.decode()
    assert not EmailLayout.objects.exists()


def test_adding_a_valid_layout_saves_it_and_lists_it(admin_client):
    response = admin_client.post(
        "/admin/automation/emaillayout/add/", {"name": "Brand", "mjml": MJML}
    )
    listing = admin_client.get("/admin/automation/emaillayout/")

    assert response.status_code == 302
    assert EmailLayout.objects.get().name == "Brand"
    assert "Brand" in listing.content.decode()


def test_a_layout_a_template_uses_cannot_be_deleted_from_the_admin(admin_client):
    layout = EmailLayout.objects.create(name="Brand", mjml=MJML)
    EmailTemplateFactory(name="Welcome", layout=layout)

    page = admin_client.post(f"/admin/automation/emaillayout/{layout.pk}/delete/", {"post": "yes"})

    assert EmailLayout.objects.filter(pk=layout.pk).exists()
    assert "Welcome" in page.content.decode()
