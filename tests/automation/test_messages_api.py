import datetime as dt

import pytest

from tests.factories import ContactFactory, EmailTemplateFactory, FlowFactory, MessageFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


def test_list_is_newest_first_with_the_log_fields(api):
    older = MessageFactory(created_at=T0, subject="One", step_id="s1")
    newer = MessageFactory(created_at=T0 + dt.timedelta(minutes=1), status="skipped")

    response = api.get("/api/v1/messages")

    assert ids(response) == [newer.pk, older.pk]
    item = response.json()["results"][1]
    assert set(item) == {
        "id",
        "contact",
        "template",
        "flow",
        "step",
        "status",
        "reason",
        "subject",
        "to_email",
        "is_test",
        "created_at",
        "sent_at",
    }
    assert (item["subject"], item["step"], item["contact"]) == ("One", "s1", older.contact_id)


def test_filters_by_contact_flow_template_and_status(api):
    contact, flow, template = ContactFactory(), FlowFactory(), EmailTemplateFactory()
    by_contact = MessageFactory(contact=contact)
    by_flow = MessageFactory(flow=flow)
    by_template = MessageFactory(template=template)
    failed = MessageFactory(status="failed")

    assert ids(api.get(f"/api/v1/messages?contact={contact.pk}")) == [by_contact.pk]
    assert ids(api.get(f"/api/v1/messages?flow={flow.pk}")) == [by_flow.pk]
    assert ids(api.get(f"/api/v1/messages?template={template.pk}")) == [by_template.pk]
    assert ids(api.get("/api/v1/messages?status=failed")) == [failed.pk]


@pytest.mark.parametrize("query", ["status=lost", "contact=abc", "flow=-1"])
def test_bad_filters_are_400s_naming_the_parameter(api, query):
    response = api.get(f"/api/v1/messages?{query}")

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == query.split("=")[0]


def test_detail_adds_html_text_and_headers(api):
    message = MessageFactory(
        html="<p>Hi</p>",
        text="Hi",
        headers={"List-Unsubscribe": "<https://x/u/t>", "Message-ID": "<1@x>"},
    )

    body = api.get(f"/api/v1/messages/{message.pk}").json()

    assert (body["html"], body["text"]) == ("<p>Hi</p>", "Hi")
    assert body["headers"] == {"List-Unsubscribe": "<https://x/u/t>", "Message-ID": "<1@x>"}


def test_detail_of_a_missing_message_is_404(api):
    assert api.get("/api/v1/messages/999").status_code == 404


def test_list_needs_an_api_key(client):
    assert client.get("/api/v1/messages").status_code == 401
