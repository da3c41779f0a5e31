import pytest

from automation.models import EmailTemplate
from tests.factories import EmailTemplateFactory, FlowFactory, MessageFactory

pytestmark = pytest.mark.django_db


def test_adding_a_template_that_does_not_parse_shows_the_error(admin_client):
    response = admin_client.post(
        "/admin/automation/emailtemplate/add/",
        {"name": "x", "subject": "Hi", "html": "<p>\n{{ oops </p>", "text": ""},
    )

    assert response.status_code == 200
    assert "(line 2)" in response.content.decode()
    assert not EmailTemplate.objects.exists()


def test_a_template_a_flow_sends_cannot_be_deleted_from_the_admin(admin_client):
    template = EmailTemplateFactory()
    FlowFactory(
        name="Welcome",
        status="active",
        definition={"steps": [{"id": "m", "type": "send_email", "template": template.pk}]},
    )

    admin_client.post(f"/admin/automation/emailtemplate/{template.pk}/delete/", {"post": "yes"})

    assert EmailTemplate.objects.filter(pk=template.pk).exists()


def test_the_message_log_lists_and_shows_messages_read_only(admin_client):
    message = MessageFactory(subject="Hello", headers={"Message-ID": "<1@x>"})

    listing = admin_client.get("/admin/automation/message/?status=sent")
    page = admin_client.get(f"/admin/automation/message/{message.pk}/change/")

    assert "Hello" in listing.content.decode()
    assert page.status_code == 200
    assert "&lt;1@x&gt;" in page.content.decode()
    assert admin_client.get("/admin/automation/message/add/").status_code == 403
