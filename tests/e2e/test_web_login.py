"""Logging in to the marketer web app, the dashboard, and what a role may open."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.e2e.web_fixtures import MARKETER_PASSWORD, marketer, marketer_page  # noqa: F401
from tests.factories import ContactFactory, EventFactory

pytestmark = pytest.mark.e2e


def test_a_marketer_logs_in_and_sees_the_dashboard(page, server_url, marketer, screenshot):  # noqa: F811
    now = timezone.now()
    contacts = ContactFactory.create_batch(15)
    for days_ago in range(12):
        EventFactory.create_batch(
            days_ago % 4 + 1,
            contact=contacts[days_ago],
            occurred_at=now - dt.timedelta(days=days_ago),
        )

    page.goto(f"{server_url}/contacts/")
    expect(page).to_have_url(f"{server_url}/login/?next=/contacts/")
    screenshot("login")
    page.get_by_label("Username").fill("mia")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    page.get_by_label("Password").fill(MARKETER_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{server_url}/contacts/")

    page.get_by_role("link", name="Dashboard").click()

    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("[data-stat=contacts-total]")).to_have_text("15")
    expect(page.locator(".chart svg")).to_be_visible()
    expect(page.locator("[data-stat=events-today]")).not_to_have_text("…")
    screenshot("dashboard")


def test_a_marketer_has_no_settings_link_and_cannot_open_settings(
    marketer_page,  # noqa: F811
    server_url,
    screenshot,
):
    page = marketer_page

    expect(page.get_by_role("link", name="Contacts", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    response = page.goto(f"{server_url}/settings/")

    assert response.status == 403
    expect(page.get_by_role("heading", name="You cannot open this page")).to_be_visible()
    screenshot("settings-forbidden", full_page=False)


def test_the_navigation_works_on_a_phone(marketer_page, server_url, screenshot):  # noqa: F811
    page = marketer_page
    page.set_viewport_size({"width": 390, "height": 844})

    page.get_by_role("button", name="Show navigation").click()
    page.get_by_role("link", name="Fields").click()

    expect(page.get_by_role("heading", name="Custom fields")).to_be_visible()
    screenshot("phone-fields", full_page=False)


def test_logging_out_returns_to_the_login_page(marketer_page, server_url):  # noqa: F811
    page = marketer_page

    page.get_by_role("button", name="Log out").click()

    expect(page).to_have_url(f"{server_url}/login/")
