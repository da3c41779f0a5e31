"""A marketer opens a segment page (conditions in words, size chart, members), explains a
member and a non-member, and compares two segments (table and chart), at 1280 and 390 px."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from segments.models import SegmentDailyStats
from segments.services import segment_create
from tests.e2e.web_fixtures import marketer, marketer_page  # noqa: F401
from tests.factories import ContactFactory, CustomFieldFactory, EventFactory

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def segments(transactional_db):
    CustomFieldFactory(key="plan", label="Plan", type="choice", choices=["free", "pro"])
    now = timezone.now()
    for n in range(12):
        contact = ContactFactory(
            email=f"user{n}@example.com",
            first_name=f"User{n}",
            fields={"plan": "pro" if n % 2 else "free"},
        )
        for k in range(n % 4):
            EventFactory(contact=contact, name="login", occurred_at=now - dt.timedelta(days=k))
        if n % 3 == 0:
            EventFactory(contact=contact, name="email.opened", occurred_at=now)
    # Evaluated at once (tasks run eagerly on commit).
    pro = segment_create(
        name="Pro users",
        conditions={"all": [{"type": "field", "field": "plan", "op": "eq", "value": "pro"}]},
    )
    active = segment_create(
        name="Active lately",
        conditions={
            "any": [
                {
                    "type": "event",
                    "event": "login",
                    "op": "performed",
                    "count": {"op": "gte", "value": 2},
                    "within": {"days": 30},
                },
                {"not": {"type": "segment", "op": "in", "segment": pro.pk}},
            ]
        },
    )
    today = now.date()
    for back, (size, entered, left) in enumerate([(6, 1, 0), (5, 2, 1), (4, 4, 0)]):
        SegmentDailyStats.objects.update_or_create(
            segment=pro,
            day=today - dt.timedelta(days=back * 3),
            defaults={"size": size, "entered": entered, "left": left},
        )
    return pro, active


def test_open_a_segment_and_explain_a_member_and_an_outsider(
    marketer_page,  # noqa: F811
    server_url,
    segments,
    screenshot,
):
    pro, _ = segments
    page = marketer_page
    page.set_viewport_size(DESKTOP)
    page.get_by_role("link", name="Segments", exact=True).click()
    expect(page.locator("#segment-table")).to_contain_text("Plan is pro")
    screenshot("list-1280")

    page.get_by_role("link", name="Pro users", exact=True).click()

    expect(page.get_by_role("heading", name="Pro users")).to_be_visible()
    expect(page.locator("#conditions-summary")).to_have_text("Plan is pro.")
    expect(page.locator("[data-stat=size]")).to_have_text("6")
    expect(page.locator("#size-chart svg")).to_be_visible()
    expect(page.locator("#moves-chart svg")).to_be_visible()
    expect(page.locator("#member-table tbody tr")).to_have_count(6)

    page.get_by_label("Contact email or id").fill("user3@example.com")
    page.get_by_role("button", name="Explain", exact=True).click()

    expect(page.locator("#explain-verdict")).to_have_text("matches now")
    member_line = page.locator("#explain-outline [data-result=true]").last
    expect(member_line).to_contain_text("Plan is pro")
    expect(member_line).to_contain_text("value: pro")
    screenshot("explain-member-1280")

    page.get_by_label("Contact email or id").fill("user4@example.com")
    page.get_by_label("Contact email or id").press("Enter")

    expect(page.locator("#explain-verdict")).to_have_text("does not match now")
    expect(page.locator("#explain-outline [data-result=false]").last).to_contain_text("value: free")
    page.set_viewport_size(PHONE)
    screenshot("explain-outsider-390")

    # A member row's own Explain button, at phone width.
    page.locator("#member-table").get_by_role("button", name="Explain user1@example.com").click()
    expect(page.locator("#explain-result")).to_contain_text("user1@example.com")
    expect(page.locator("#explain-verdict")).to_have_text("matches now")


def test_compare_two_segments(marketer_page, server_url, segments, screenshot):  # noqa: F811
    pro, active = segments
    page = marketer_page
    page.set_viewport_size(PHONE)
    page.goto(f"{server_url}/segments/")
    screenshot("list-390")
    page.set_viewport_size(DESKTOP)

    page.get_by_label("Compare Pro users").check()
    page.get_by_label("Compare Active lately").check()
    page.get_by_role("button", name="Compare selected").click()

    expect(page).to_have_url(f"{server_url}/segments/compare/?ids={active.pk}%2C{pro.pk}")
    table = page.locator("#compare-table")
    expect(table).to_contain_text("Pro users")
    expect(table.locator(f"tr[data-segment='{pro.pk}'] [data-figure=size]")).to_have_text("6")
    expect(page.locator("#overlap-table [data-figure=both]")).to_be_visible()
    expect(page.locator("#activity-chart svg")).to_be_visible()

    page.get_by_label("Events per member for").select_option("login")
    page.get_by_role("button", name="Show").click()

    expect(page.locator("#event-chart svg")).to_be_visible()
    expect(
        table.locator(f"tr[data-segment='{pro.pk}'] [data-figure=events-per-member]")
    ).to_contain_text("2.00 (12)")
    screenshot("compare-1280")
    page.set_viewport_size(PHONE)
    screenshot("compare-390")


def test_bad_compare_address_shows_a_message(marketer_page, server_url, segments, screenshot):  # noqa: F811
    page = marketer_page
    page.goto(f"{server_url}/segments/compare/?ids=1,banana")

    expect(page.locator("#compare-error")).to_contain_text("'banana' is not")
    screenshot("compare-error")
