"""MJML layouts: the API, validation at save, and a layout around a sent message."""

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automation.layouts import compiled_layouts, layout_compile
from automation.models import EmailLayout, EmailTemplate
from automation.sending import message_prepare, messages_deliver, messages_prepare
from tests.factories import ContactFactory, EmailTemplateFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
MJML = """<mjml>
  <mj-body background-color="#eeeeee">
    <mj-section><mj-column><mj-text font-size="20px">ACME HEADER</mj-text></mj-column></mj-section>
    <mj-section><mj-column><mj-text>{{ content }}</mj-text></mj-column></mj-section>
    <mj-section><mj-column>
      <mj-text>ACME FOOTER <a href="{{ unsubscribe_url }}">Unsubscribe</a></mj-text>
    </mj-column></mj-section>
  </mj-body>
</mjml>"""


def errors_of(response) -> dict[str, str]:
    return {item["path"]: item["message"] for item in response.json()["errors"]}


def layout(**fields) -> EmailLayout:
    return EmailLayout.objects.create(**{"name": "Brand", "mjml": MJML, **fields})


# --- API ----------------------------------------------------------------------------------


def test_create_returns_201_and_the_layout_is_listed(api):
    response = api.post("/api/v1/layouts", {"name": "Brand", "mjml": MJML}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["mjml"]) == ("Brand", MJML)
    listed = api.get("/api/v1/layouts").json()
    assert [item["id"] for item in listed["results"]] == [body["id"]]
    assert api.get(f"/api/v1/layouts/{body['id']}").json()["name"] == "Brand"


@pytest.mark.parametrize(
    ("mjml", "message_part"),
    [
        ("<mjml><mj-body><mj-section>{{ content }}</mj-body></mjml>", "MJML error"),
        ("not mjml {{ content }}", "MJML error"),
        ("<mjml><mj-body><mj-text>Hi</mj-text></mj-body></mjml>", "exactly once"),
        (MJML.replace("ACME HEADER", "{{ content }}"), "exactly once"),
        (
            "<mjml><mj-head><mj-title>{{ content }}</mj-title></mj-head><mj-body></mj-body></mjml>",
            "lost in the compiled HTML",
        ),
        (
            '<mjml><mj-body><mj-include path="/etc/hostname" type="html" />'
            "<mj-raw>{{ content }}</mj-raw></mj-body></mjml>",
            "MJML error",
        ),
    ],
)
def test_mjml_that_is_no_usable_layout_is_a_400_at_mjml(api, mjml, message_part):
    response = api.post("/api/v1/layouts", {"name": "Bad", "mjml": mjml}, format="json")

    assert response.status_code == 400
    errors = errors_of(response)
    assert list(errors) == ["mjml"]
    assert message_part in errors["mjml"]
    assert not EmailLayout.objects.exists()


def test_patch_with_bad_mjml_is_a_400_and_changes_nothing(api):
    brand = layout()

    response = api.patch(
        f"/api/v1/layouts/{brand.pk}", {"name": "New", "mjml": "<mjml>"}, format="json"
    )

    assert response.status_code == 400
    assert list(errors_of(response)) == ["mjml"]
    brand.refresh_from_db()
    assert (brand.name, brand.mjml) == ("Brand", MJML)


def test_a_second_layout_with_the_same_name_is_a_400_at_name(api):
    layout()

    response = api.post("/api/v1/layouts", {"name": "Brand", "mjml": MJML}, format="json")

    assert response.status_code == 400
    assert list(errors_of(response)) == ["name"]


def test_delete_is_refused_while_a_template_uses_the_layout(api):
    brand = layout()
    template = EmailTemplateFactory(name="Welcome", layout=brand)

    refused = api.delete(f"/api/v1/layouts/{brand.pk}")
    template.delete()
    deleted = api.delete(f"/api/v1/layouts/{brand.pk}")

    assert refused.status_code == 409
    assert "'Welcome'" in refused.json()["detail"]
    assert deleted.status_code == 204
    assert not EmailLayout.objects.exists()


def test_templates_api_takes_a_layout_and_the_tracking_flags(api):
    brand = layout()
    body = {"name": "T", "subject": "S", "html": "<p>x</p>", "layout": brand.pk}

    created = api.post("/api/v1/templates", {**body, "track_clicks": False}, format="json")
    template_id = created.json()["id"]
    patched = api.patch(
        f"/api/v1/templates/{template_id}", {"layout": None, "track_opens": False}, format="json"
    )

    assert created.status_code == 201
    assert (created.json()["layout"], created.json()["track_opens"]) == (brand.pk, True)
    assert created.json()["track_clicks"] is False
    assert patched.status_code == 200
    template = EmailTemplate.objects.get(pk=template_id)
    assert (template.layout_id, template.track_opens, template.track_clicks) == (
        None,
        False,
        False,
    )


def test_templates_api_refuses_an_unknown_layout_and_non_boolean_flags(api):
    body = {"name": "T", "subject": "S", "html": "<p>x</p>"}

    unknown = api.post("/api/v1/templates", {**body, "layout": 999_999}, format="json")
    flag = api.post("/api/v1/templates", {**body, "track_opens": "yes"}, format="json")

    assert unknown.status_code == 400
    assert errors_of(unknown) == {"layout": "No layout with id 999999."}
    assert flag.status_code == 400
    assert list(errors_of(flag)) == ["track_opens"]
    assert not EmailTemplate.objects.exists()


def test_preview_shows_the_layout_and_the_text_of_the_template_body_only(api):
    template = EmailTemplateFactory(
        html="<p>Hello {{ contact.first_name }}</p>", layout=layout(), text=""
    )
    contact = ContactFactory(first_name="Ada")

    response = api.post(
        f"/api/v1/templates/{template.pk}/preview", {"contact": contact.pk}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert "ACME HEADER" in body["html"] and "ACME FOOTER" in body["html"]
    assert "<p>Hello Ada</p>" in body["html"]
    assert body["html"].index("ACME HEADER") < body["html"].index("Hello Ada")
    assert body["text"] == "Hello Ada\n"
    assert "/t/" not in body["html"]


# --- Sending ------------------------------------------------------------------------------


def sent_message(template, contact=None):
    enrollment = EnrollmentFactory(contact=contact or ContactFactory(first_name="Ada"))
    step = {"id": "mail-1", "type": "send_email", "template": template.pk}
    message = message_prepare(enrollment=enrollment, step=step, now=NOW)
    messages_deliver(messages=[message], now=NOW)
    message.refresh_from_db()
    return message


def test_a_sent_message_has_the_layout_its_links_tracked_and_the_text_of_its_body():
    template = EmailTemplateFactory(
        html='<p>Hello {{ contact.first_name }}, <a href="https://shop.io/">shop</a></p>',
        layout=layout(),
    )

    message = sent_message(template)

    [email] = mail.outbox
    html = email.alternatives[0][0]
    assert html == message.html
    assert "ACME HEADER" in html and "<p>Hello Ada, <a href=" in html
    assert 'href="https://shop.io/"' not in html and "/t/c/" in html
    assert html.count("/t/o/") == 1 and html.index("/t/o/") < html.index("</body>")
    # the layout's {{ unsubscribe_url }}: the message's own link, not wrapped
    unsubscribe = message.headers["List-Unsubscribe"].split(">", 1)[0][1:]
    assert f'href="{unsubscribe}"' in html
    assert email.body == "Hello Ada, shop (https://shop.io/)\n"
    assert "ACME" not in message.text


def test_an_edited_layout_is_used_from_the_next_message():
    brand = layout()
    template = EmailTemplateFactory(html="<p>Hi</p>", layout=brand)
    first = sent_message(template)

    brand.mjml = MJML.replace("ACME HEADER", "NEW HEADER")
    brand.save()
    second = sent_message(template)

    assert "ACME HEADER" in first.html
    assert "NEW HEADER" in second.html and "ACME HEADER" not in second.html


def send_items(templates) -> list:
    return [
        (
            EnrollmentFactory(contact=ContactFactory()),
            {"id": "mail-1", "type": "send_email", "template": template.pk},
        )
        for template in templates
    ]


def test_a_batch_reads_its_layouts_in_one_query():
    with_layouts = [EmailTemplateFactory(layout=layout(name=f"L{i}")) for i in range(3)]
    plain = send_items([EmailTemplateFactory() for _ in range(3)] * 2)
    layered = send_items(with_layouts * 2)

    with CaptureQueriesContext(connection) as plain_queries:
        messages_prepare(items=plain, now=NOW)
    with CaptureQueriesContext(connection) as layered_queries:
        messages = messages_prepare(items=layered, now=NOW)

    assert len(layered_queries) == len(plain_queries) + 1
    assert all("ACME HEADER" in m.html for m in messages)


def test_a_layout_broken_after_save_fails_the_message_with_the_reason():
    brand = layout()
    EmailLayout.objects.filter(pk=brand.pk).update(
        mjml="<mjml>{{ content }}"
    )  # past the API's check
    compiled_layouts.clear()
    template = EmailTemplateFactory(layout=EmailLayout.objects.get(pk=brand.pk))

    message = sent_message(template)

    assert message.status == "failed"
    assert message.reason.startswith("template error: MJML error")
    assert message.reason.endswith("(layout)")
    assert not mail.outbox


def test_the_compiled_layout_is_cached_per_layout_and_change():
    brand = layout()

    first = compiled_layouts.get(brand)
    again = compiled_layouts.get(EmailLayout.objects.get(pk=brand.pk))

    assert first is again
    assert layout_compile(MJML) is not first
