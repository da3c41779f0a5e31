"""An admin creates an API key in Settings (shown once) and revokes it."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from accounts.roles import ADMIN
from accounts.services import user_role_set
from contacts.api_keys import api_key_check
from tests.e2e.web_fixtures import MARKETER_PASSWORD, log_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def admin_page(page, server_url, transactional_db):
    user = get_user_model().objects.create_user(username="ada", password=MARKETER_PASSWORD)
    user_role_set(user=user, role=ADMIN)
    log_in(page, server_url, "ada", MARKETER_PASSWORD)
    return page


def test_an_admin_creates_a_key_sees_it_once_and_revokes_it(admin_page, server_url, screenshot):
    page = admin_page
    page.get_by_role("link", name="Settings").click()

    page.get_by_label("Name").fill("website")
    page.get_by_role("button", name="Create key").click()

    raw_key = page.get_by_label("New API key").input_value()
    assert api_key_check(raw_key) is not None
    screenshot("key-created")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke website").click()

    expect(page.get_by_role("status")).to_contain_text("API key “website” revoked.")
    expect(page.locator("#key-table")).to_contain_text("revoked")
    expect(page.get_by_label("New API key")).to_have_count(0)
    assert api_key_check(raw_key) is None
