"""An admin sets the sending policy in a real browser: a bad time zone is a form error, a
good one saves; the page at desktop and phone widths."""

import pytest
from playwright.sync_api import expect

from automation.models import SendingPolicy
from tests.e2e.test_web_settings import admin_page  # noqa: F401  (the fixture)

pytestmark = pytest.mark.e2e


@pytest.mark.usefixtures("admin_page")
def test_an_admin_sets_a_cap_and_weekday_window(page, server_url, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{server_url}/settings/sending/")

    page.get_by_label("At most this many marketing emails per contact").fill("3")
    page.get_by_label("Only send marketing emails inside a send window").check()
    page.get_by_label("Window opens at").fill("08:00")
    page.get_by_label("Window closes at").fill("20:00")
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri"):
        page.get_by_label(day, exact=True).check()
    page.get_by_label("Time zone for contacts without one").fill("Europe/Pariss")
    page.get_by_role("button", name="Save sending policy").click()

    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    expect(page.locator("#id_default_timezone_error")).to_contain_text("IANA")
    screenshot("error-1280")
    assert not SendingPolicy.objects.exists()

    page.get_by_label("Time zone for contacts without one").fill("Europe/Paris")
    page.get_by_role("button", name="Save sending policy").click()

    expect(page.get_by_role("status")).to_contain_text("Sending policy saved")
    expect(page.locator("#policy-summary")).to_contain_text("08:00–20:00, Mon–Fri")
    screenshot("saved-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("saved-390")
    policy = SendingPolicy.objects.get()
    assert (policy.frequency_cap_count, policy.send_window_days) == (3, [1, 2, 3, 4, 5])
