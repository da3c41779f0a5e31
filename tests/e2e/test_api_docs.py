import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_api_docs_page_renders_our_endpoints(page, server_url, screenshot):
    page.goto(f"{server_url}/api/docs/")

    expect(page.get_by_text("Segflow API").first).to_be_visible(timeout=15_000)
    screenshot("api-docs", full_page=False)
    for path in ["/api/v1/contacts", "/api/v1/events/batch", "/api/v1/fields"]:
        expect(page.get_by_text(path, exact=True).first).to_be_attached()
