import pytest
from django.core import mail

from automation.models import EmailTemplate, Message
from tests.factories import (
    ContactFactory,
    EmailTemplateFactory,
    EnrollmentFactory,
    EventFactory,
    FlowFactory,
    FlowVersionFactory,
)

pytestmark = pytest.mark.django_db

VALID = {
    "name": "Welcome",
    "subject": "Hi {{ contact.first_name | default('there') }}",
    "html": "<p>Welcome</p>",
}


def errors_of(response) -> dict[str, str]:
    return {item["path"]: item["message"] for item in response.json()["errors"]}


def flow_sending(template, *, status="active", **kwargs):
    definition = {
        "trigger": {"type": "event", "event": "signed_up"},
        "reentry": "never",
        "steps": [
            {
                "id": "b",
                "type": "branch",
                "condition": {"all": []},
                "yes": [{"id": "m", "type": "send_email", "template": template.pk}],
                "no": [],
            }
        ],
    }
    return FlowFactory(definition=definition, status=status, **kwargs)


def test_create_returns_201_with_the_template(api):
    response = api.post("/api/v1/templates", VALID, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Welcome"
    assert (body["text"], body["transactional"]) == ("", False)
    assert EmailTemplate.objects.get(pk=body["id"]).subject == VALID["subject"]


def test_create_with_a_syntax_error_is_a_400_at_its_part_with_the_line(api):
    body = {**VALID, "html": "<p>one</p>\n<p>{{ contact.first_name }</p>", "text": "{% if %}"}

    response = api.post("/api/v1/templates", body, format="json")

    assert response.status_code == 400
    errors = errors_of(response)
    assert set(errors) == {"html", "text"}
    assert errors["html"].endswith("(line 2)")
    assert not EmailTemplate.objects.exists()


def test_create_with_a_taken_name_is_a_400_on_name(api):
    EmailTemplateFactory(name="Welcome")

    response = api.post("/api/v1/templates", VALID, format="json")

    assert response.status_code == 400
    assert set(errors_of(response)) == {"name"}


def test_create_refuses_unknown_keys(api):
    response = api.post("/api/v1/templates", {**VALID, "layout": "x"}, format="json")

    assert response.status_code == 400
    assert "layout" in errors_of(response)


def test_list_and_retrieve(api):
    template = EmailTemplateFactory()

    listed = api.get("/api/v1/templates").json()
    one = api.get(f"/api/v1/templates/{template.pk}").json()

    assert [item["id"] for item in listed["results"]] == [template.pk]
    assert one["html"] == template.html


def test_patch_changes_only_the_given_keys(api):
    template = EmailTemplateFactory(subject="Old")

    response = api.patch(f"/api/v1/templates/{template.pk}", {"subject": "New"}, format="json")

    assert response.status_code == 200
    template.refresh_from_db()
    assert template.subject == "New"
    assert template.html == "<p>Hi {{ contact.first_name | default('there') }}</p>"


def test_patch_with_a_syntax_error_changes_nothing(api):
    template = EmailTemplateFactory(subject="Old")

    response = api.patch(
        f"/api/v1/templates/{template.pk}", {"subject": "{{ x", "html": "ok"}, format="json"
    )

    assert response.status_code == 400
    assert set(errors_of(response)) == {"subject"}
    template.refresh_from_db()
    assert template.subject == "Old"


def test_delete_unused_template_is_204_and_keeps_its_messages(api):
    template = EmailTemplateFactory()
    message_id = Message.objects.create(
        template=template, idempotency_key="k", status="sent", to_email="a@example.com"
    ).pk

    response = api.delete(f"/api/v1/templates/{template.pk}")

    assert response.status_code == 204
    assert Message.objects.get(pk=message_id).template_id is None


def test_delete_refused_while_a_live_flow_sends_it_nested_in_a_branch(api):
    template = EmailTemplateFactory()
    flow = flow_sending(template, name="Onboarding")

    response = api.delete(f"/api/v1/templates/{template.pk}")

    assert response.status_code == 409
    assert f"'Onboarding' ({flow.pk})" in response.json()["detail"]
    assert EmailTemplate.objects.filter(pk=template.pk).exists()


def test_delete_refused_while_enrollments_are_in_flight_on_an_archived_flows_version(api):
    template = EmailTemplateFactory()
    flow = flow_sending(template, status="archived")
    version = FlowVersionFactory(flow=flow)
    EnrollmentFactory(version=version, state="active")

    response = api.delete(f"/api/v1/templates/{template.pk}")

    assert response.status_code == 409


def test_delete_allowed_when_only_an_archived_flow_without_enrollments_used_it(api):
    template = EmailTemplateFactory()
    flow_sending(template, status="archived")

    assert api.delete(f"/api/v1/templates/{template.pk}").status_code == 204


def test_preview_renders_for_the_contact_and_event(api):
    template = EmailTemplateFactory(
        subject="Hi {{ contact.first_name }}",
        html="<p>You left {{ event.properties.items | length }} items</p>",
    )
    contact = ContactFactory(first_name="Ada")
    event = EventFactory(contact=contact, properties={"items": [1, 2]})

    response = api.post(
        f"/api/v1/templates/{template.pk}/preview",
        {"contact": contact.pk, "event": event.pk},
        format="json",
    )

    assert response.status_code == 200
    assert response.json() == {
        "subject": "Hi Ada",
        "html": "<p>You left 2 items</p>",
        "text": "You left 2 items\n",
    }


def test_preview_with_an_undefined_value_is_a_400_naming_part_and_line(api):
    template = EmailTemplateFactory(html="<p>\n{{ contact.frist_name }}</p>")
    contact = ContactFactory()

    response = api.post(
        f"/api/v1/templates/{template.pk}/preview", {"contact": contact.pk}, format="json"
    )

    assert response.status_code == 400
    assert errors_of(response) == {"html": "'contact' has no attribute 'frist_name' (line 2)"}


def test_preview_of_a_template_injection_is_a_400(api):
    template = EmailTemplateFactory(html="{{ cycler.__init__.__globals__ }}")

    response = api.post(
        f"/api/v1/templates/{template.pk}/preview", {"contact": ContactFactory().pk}, format="json"
    )

    assert response.status_code == 400
    assert "unsafe" in errors_of(response)["html"]


def test_preview_for_a_missing_contact_is_a_400_on_contact(api):
    template = EmailTemplateFactory()

    response = api.post(f"/api/v1/templates/{template.pk}/preview", {"contact": 999}, format="json")

    assert response.status_code == 400
    assert set(errors_of(response)) == {"contact"}


def test_preview_of_a_missing_template_is_a_404(api):
    response = api.post("/api/v1/templates/999/preview", {"contact": 1}, format="json")

    assert response.status_code == 404


def test_test_send_is_202_with_the_message_marked_as_test(api):
    template = EmailTemplateFactory(subject="Hello")

    response = api.post(
        f"/api/v1/templates/{template.pk}/test", {"email": "qa@example.com"}, format="json"
    )

    assert response.status_code == 202
    message = Message.objects.get(pk=response.json()["message"])
    assert message.is_test
    assert response.json()["status"] == "sent"
    assert mail.outbox[0].subject == "[Test] Hello"


def test_test_send_with_an_invalid_address_is_a_400(api):
    template = EmailTemplateFactory()

    response = api.post(f"/api/v1/templates/{template.pk}/test", {"email": "nope"}, format="json")

    assert response.status_code == 400
    assert not Message.objects.exists()
