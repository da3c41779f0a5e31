"""A marketer creates a custom field and cannot delete one that a segment reads."""

import pytest
from playwright.sync_api import expect

from contacts.models import CustomField
from segments.services import segment_create
from tests.e2e.web_fixtures import marketer, marketer_page  # noqa: F401
from tests.factories import CustomFieldFactory

pytestmark = pytest.mark.e2e


def test_create_a_choice_field(marketer_page, server_url, screenshot):  # noqa: F811
    page = marketer_page
    page.get_by_role("link", name="Fields").click()
    page.get_by_role("link", name="New field").click()

    page.get_by_label("Label").fill("Plan")
    page.get_by_label("Key").fill("plan")
    expect(page.get_by_label("Choices")).to_be_hidden()
    page.get_by_label("Type").select_option("choice")
    page.get_by_role("button", name="Create field").click()
    expect(page.locator("#id_choices_error")).to_have_text("A choice field needs choices.")
    screenshot("create-error")

    page.get_by_label("Choices").fill("free\npro\nenterprise")
    page.get_by_role("button", name="Create field").click()

    expect(page).to_have_url(f"{server_url}/fields/")
    expect(page.locator("tr[data-key=plan]")).to_contain_text("free, pro, enterprise")
    screenshot("list")
    assert CustomField.objects.get(key="plan").choices == ["free", "pro", "enterprise"]


def test_deleting_a_field_a_segment_reads_names_the_segment(
    marketer_page,  # noqa: F811
    server_url,
    screenshot,
):
    CustomFieldFactory(key="mrr", label="MRR", type="number")
    segment_create(
        name="Big accounts",
        conditions={"all": [{"type": "field", "field": "mrr", "op": "gte", "value": 1000}]},
    )
    page = marketer_page
    page.goto(f"{server_url}/fields/")

    page.get_by_role("link", name="Delete MRR").click()

    expect(page.locator("#field-readers")).to_contain_text("Segment 'Big accounts'")
    expect(page.get_by_role("button", name="Delete field")).to_have_count(0)
    screenshot("delete-refused")
    assert CustomField.objects.filter(key="mrr").exists()
