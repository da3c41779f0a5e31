"""A marketer in the admin: contacts made through the API, their fields and tags, form errors."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


@pytest.fixture
def contacts_from_api(page, server_url, api_headers):
    """Two contacts and a choice field, created over HTTP like an integration would."""
    api = page.request
    field = api.post(
        f"{server_url}/api/v1/fields",
        headers=api_headers,
        data={"key": "plan", "label": "Plan", "type": "choice", "choices": ["free", "pro"]},
    )
    assert field.status == 201, field.text()
    for email, name, plan, tags in [
        ("jane@example.com", "Jane", "pro", ["vip", "beta"]),
        ("bob@example.com", "Bob", "free", []),
    ]:
        response = api.post(
            f"{server_url}/api/v1/contacts",
            headers=api_headers,
            data={
                "email": email,
                "first_name": name,
                "fields": {"plan": plan},
                "tags": tags,
            },
        )
        assert response.status == 201, response.text()
    return ["jane@example.com", "bob@example.com"]


def _open_contact(page, server_url, email):
    page.goto(f"{server_url}/admin/contacts/contact/?q={email}")
    page.get_by_role("link", name=email).click()
    expect(page.locator("h1")).to_have_text("Change contact")


def test_staff_sees_contacts_created_through_the_api(
    logged_in_page, server_url, contacts_from_api, screenshot
):
    page = logged_in_page

    page.goto(f"{server_url}/admin/contacts/contact/")

    screenshot("contact-list")
    for email in contacts_from_api:
        expect(page.get_by_role("link", name=email)).to_be_visible()


def test_contact_page_shows_custom_fields_and_tags(
    logged_in_page, server_url, contacts_from_api, screenshot
):
    page = logged_in_page

    _open_contact(page, server_url, "jane@example.com")

    screenshot("contact-change")
    expect(page.locator("#id_fields")).to_have_value('{"plan": "pro"}')
    tags = page.locator("#contacttag_set-group")
    expect(tags).to_contain_text("vip")
    expect(tags).to_contain_text("beta")


def test_bad_custom_field_value_shows_a_form_error(
    logged_in_page, server_url, contacts_from_api, screenshot
):
    page = logged_in_page
    _open_contact(page, server_url, "bob@example.com")

    page.fill("#id_fields", '{"plan": "platinum"}')
    with page.expect_navigation() as navigation:
        page.click("input[name=_save]")

    screenshot("contact-error")
    assert navigation.value.status == 200
    expect(page.locator(".errornote")).to_be_visible()
    expect(page.locator(".field-fields .errorlist")).to_contain_text(
        "'platinum' is not one of the field's choices"
    )
