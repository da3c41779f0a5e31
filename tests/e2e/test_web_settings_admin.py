"""An admin creates a subscription topic and a marketer user in Settings; that marketer
logs in and cannot open Settings."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from accounts.roles import ADMIN, MARKETER, user_roles
from accounts.services import user_role_set
from contacts.models import SubscriptionTopic
from tests.e2e.web_fixtures import MARKETER_PASSWORD, log_in

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
NEW_PASSWORD = "quiet-river-7401"


@pytest.fixture
def admin_page(page, server_url, transactional_db):
    user = get_user_model().objects.create_user(username="ada", password=MARKETER_PASSWORD)
    user_role_set(user=user, role=ADMIN)
    page.set_viewport_size(DESKTOP)
    log_in(page, server_url, "ada", MARKETER_PASSWORD)
    return page


def test_an_admin_creates_a_topic_and_a_marketer_who_cannot_open_settings(
    admin_page, server_url, screenshot
):
    page = admin_page
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Subscription topics").click()
    page.get_by_role("link", name="New topic").click()

    # a double opt-in topic that is opt-in by default is refused at the field
    page.get_by_label("Name").fill("Weekly digest")
    page.get_by_label("Key").fill("digest")
    page.get_by_label("Description").fill("The week's best posts")
    page.get_by_label("Double opt-in").check()
    page.get_by_role("button", name="Create topic").click()
    expect(page.locator("#id_double_opt_in_error")).to_contain_text("opt_out")
    screenshot("topic-error-1280")
    page.get_by_label("Default").select_option("opt_out")
    page.get_by_role("button", name="Create topic").click()

    expect(page.get_by_role("status")).to_contain_text("Topic “Weekly digest” (digest) created.")
    row = page.locator('#topic-table tr[data-key="digest"]')
    expect(row).to_contain_text("opt-out")
    expect(row).to_contain_text("yes")
    topic = SubscriptionTopic.objects.get(key="digest")
    assert (topic.default_opt_in, topic.double_opt_in) == (False, True)
    screenshot("topics-1280")

    # a marketer user
    page.get_by_role("link", name="Users").click()
    page.get_by_label("Username").fill("max")
    page.get_by_label("Email").fill("max@example.com")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_label("Role", exact=True).select_option("marketer")
    page.get_by_role("button", name="Create user").click()

    expect(page.get_by_role("status")).to_contain_text("User “max” created (marketer).")
    expect(page.locator('#user-table tr[data-username="max"]')).to_contain_text("active")
    assert user_roles(get_user_model().objects.get(username="max")) == {MARKETER}
    page.set_viewport_size(PHONE)
    screenshot("users-390")

    # the marketer logs in: no Settings link, and Settings is refused
    page.set_viewport_size(DESKTOP)
    page.context.clear_cookies()
    log_in(page, server_url, "max", NEW_PASSWORD)
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    for path in ("/settings/", "/settings/topics/", "/settings/users/"):
        assert page.goto(f"{server_url}{path}").status == 403
    screenshot("marketer-403")


def test_an_admin_changes_a_role_and_deactivates_a_user(admin_page, server_url):
    max_ = get_user_model().objects.create_user(username="max", password=NEW_PASSWORD)
    user_role_set(user=max_, role=MARKETER)
    page = admin_page
    page.goto(f"{server_url}/settings/users/")

    page.get_by_label("Role of max").select_option("admin")
    page.get_by_role("button", name="Change role of max").click()
    expect(page.get_by_role("status")).to_contain_text("“max” is now admin.")
    page.get_by_role("button", name="Deactivate max").click()

    expect(page.locator('#user-table tr[data-username="max"]')).to_contain_text("deactivated")
    max_.refresh_from_db()
    assert max_.is_active is False
    page.context.clear_cookies()
    page.goto(f"{server_url}/login/")
    page.get_by_label("Username").fill("max")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{server_url}/login/")
