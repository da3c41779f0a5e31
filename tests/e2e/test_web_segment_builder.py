"""A marketer builds a segment in the browser: three levels of groups, a NOT and an event
condition, the live count equal to the API's preview, an invalid row blocking Save, then an
edit whose enter/leave impact is shown before it is saved. An API-made tree round-trips."""

import contextlib
import datetime as dt
import json

import pytest
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from segments.models import Segment
from tests.e2e.web_fixtures import marketer, marketer_page  # noqa: F401
from tests.factories import ContactFactory, ContactTagFactory, EventFactory, TagFactory

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def crowd(transactional_db):
    """30 contacts: plans, scores, logins (some from iOS) and a few churned tags."""
    churned = TagFactory(name="churned")
    recent = timezone.now() - dt.timedelta(days=2)
    for n in range(30):
        contact = ContactFactory(
            email=f"user{n:02d}@example.com",
            lead_score=n * 3,
            fields={"plan": ["free", "pro", "team"][n % 3]},
        )
        for k in range(n % 4):
            EventFactory(
                contact=contact,
                name="login",
                properties={"device": "ios" if n % 2 else "web"},
                occurred_at=recent - dt.timedelta(hours=k),
            )
        if n % 5 == 0:
            ContactTagFactory(contact=contact, tag=churned)
    EventFactory(contact=ContactFactory(email="buyer@example.com"), name="purchase")


def row(page, n):
    return page.locator(".sb-row").nth(n)


def wait_counted(page):
    expect(page.locator("#sb-status")).not_to_have_text("counting…")


def api_preview(page, server_url, headers) -> int:
    tree = json.loads(page.locator("input[name=conditions]").input_value())
    response = page.request.post(
        f"{server_url}/api/v1/segments/preview",
        data=json.dumps({"conditions": tree}),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status == 200, response.text()
    return response.json()["count"]


def shown_count(page) -> int:
    return int(page.locator("#sb-count").inner_text().replace(",", ""))


def create_plan_field(page, server_url):
    page.goto(f"{server_url}/fields/new/")
    page.get_by_label("Label").fill("Plan")
    page.get_by_label("Key").fill("plan")
    page.get_by_label("Type").select_option("choice")
    page.get_by_label("Choices").fill("free\npro\nteam")
    page.get_by_role("button", name="Create field").click()
    expect(page).to_have_url(f"{server_url}/fields/")


def test_build_check_save_and_edit_a_segment(
    marketer_page,  # noqa: F811
    server_url,
    crowd,
    api_headers,
    screenshot,
):
    page = marketer_page
    page.set_viewport_size(DESKTOP)
    create_plan_field(page, server_url)
    page.goto(f"{server_url}/segments/new/")
    page.get_by_label("Name").fill("Engaged paying users")
    expect(page.locator("#sb-issues")).to_have_text("1 issue to fix before saving")
    expect(page.locator("#sb-save")).to_be_disabled()

    # Level 1 (ALL): plan is one of pro, team.
    page.get_by_role("button", name="+ Condition").click()
    first = row(page, 0)
    first.get_by_label("Field").select_option("plan")
    first.get_by_label("Operator").select_option("in")
    first.get_by_role("checkbox", name="pro").check()
    first.get_by_role("checkbox", name="team").check()
    expect(first.locator(".sb-sentence")).to_have_text("Plan is one of “pro”, “team”")

    # Level 2 (ANY): performed login at least 2 times in the last 30 days, from iOS ...
    page.locator(".sb-group").first.get_by_role("button", name="+ Group").last.click()
    login = row(page, 1)
    login.get_by_label("Condition type").select_option("event")
    login.get_by_label("Event name").fill("login")
    login.get_by_label("How many times").select_option("gte")
    login.get_by_label("Number of times").fill("2")
    login.get_by_label("Time window unit").select_option("days")
    login.get_by_label("Time window amount").fill("30")
    login.get_by_role("button", name="+ Property filter").click()
    login = row(page, 1)
    login.get_by_label("Property", exact=True).fill("device")
    login.get_by_label("Property value").fill("ios")
    expect(login.locator(".sb-sentence")).to_contain_text(
        "performed login at least 2 times in the last 30 days (since "
    )
    expect(login.locator(".sb-sentence")).to_contain_text("where device is “ios”")

    # ... or level 3 (ALL): lead score at least 60 and NOT tagged churned.
    level2 = page.locator(".sb-group").nth(1)
    level2.get_by_role("button", name="+ Group").last.click()
    score = row(page, 2)
    score.get_by_label("Field").select_option("lead_score")
    score.get_by_label("Operator").select_option("gte")
    score.get_by_label("Value").fill("60")
    page.locator(".sb-group").nth(2).get_by_role("button", name="+ Condition").last.click()
    tag = row(page, 3)
    tag.get_by_label("Condition type").select_option("tag")
    tag = row(page, 3)
    tag.get_by_label("Tag").fill("churned")
    tag.get_by_role("button", name="Negate this condition (NOT)").click()
    expect(row(page, 3).locator(".sb-not")).to_have_text("NOT")

    # The live count is the API's preview count of the same tree.
    wait_counted(page)
    expect(page.locator("#sb-status")).to_have_text("Counted now, not saved.")
    expected = api_preview(page, server_url, api_headers)
    assert shown_count(page) == expected > 0
    expect(page.locator("#sb-sample li")).to_have_count(min(expected, 10))
    tree = json.loads(page.locator("input[name=conditions]").input_value())
    assert tree["all"][1]["any"][1]["all"][1] == {
        "not": {"type": "tag", "op": "has", "tag": "churned"}
    }
    screenshot("built-1280")

    # An incomplete row is flagged, left out of the count, and blocks Save.
    page.locator(".sb-group").nth(2).get_by_role("button", name="+ Condition").last.click()
    wait_counted(page)
    expect(row(page, 4)).to_have_class("sb-row sb-invalid")
    expect(row(page, 4).locator(".sb-issue")).to_contain_text("Required")
    expect(page.locator("#sb-save")).to_be_disabled()
    expect(page.locator("#sb-status")).to_have_text("Counted without the 1 flagged issue.")
    assert shown_count(page) == expected
    page.locator("#sb-issues").click()
    expect(row(page, 4).get_by_label("Field")).to_be_focused()
    screenshot("invalid-row-1280")
    page.set_viewport_size(PHONE)
    screenshot("invalid-row-390")
    page.set_viewport_size(DESKTOP)
    row(page, 4).get_by_role("button", name="Remove condition").click()
    wait_counted(page)
    expect(page.locator("#sb-save")).to_be_enabled()

    # Keyboard reorder: the tag row moves above the score row within its group.
    row(page, 3).get_by_role("button", name="Move condition up").focus()
    page.keyboard.press("Enter")
    expect(row(page, 2).locator(".sb-sentence")).to_contain_text("has tag “churned”")
    expect(row(page, 2).get_by_role("button", name="Move condition down")).to_be_focused()
    page.keyboard.press("Enter")  # and back down
    expect(row(page, 3).locator(".sb-sentence")).to_contain_text("has tag “churned”")

    page.locator("#sb-save").click()
    expect(page.locator(".alert-success")).to_contain_text("Engaged paying users")
    segment = Segment.objects.get(name="Engaged paying users")
    assert segment.conditions == tree
    size = segment.memberships.current().count()
    assert size == expected  # evaluated at once (tasks run eagerly in tests)

    # Edit: lower the score bar, see who would enter and leave, then confirm.
    page.goto(f"{server_url}/segments/{segment.pk}/edit/")
    wait_counted(page)
    assert shown_count(page) == expected
    row(page, 2).get_by_label("Value").fill("30")
    wait_counted(page)
    after = api_preview(page, server_url, api_headers)
    assert shown_count(page) == after > expected
    page.get_by_role("button", name="Review and save").click()
    expect(page.locator("#sb-impact")).to_be_visible()
    expect(page.locator("#sb-impact-entering")).to_have_text(str(after - expected))
    expect(page.locator("#sb-impact-leaving")).to_have_text("0")
    screenshot("impact-1280")
    page.set_viewport_size(PHONE)
    screenshot("impact-390")
    segment.refresh_from_db()
    assert segment.conditions == tree  # not saved before the confirmation
    page.get_by_role("button", name="Confirm and save").click()
    expect(page.locator(".alert-success")).to_be_visible()
    segment.refresh_from_db()
    assert segment.conditions["all"][1]["any"][1]["all"][0]["value"] == 30


def test_an_api_made_tree_round_trips_through_the_builder(
    marketer_page,  # noqa: F811
    server_url,
    crowd,
    api_headers,
    screenshot,
):
    page = marketer_page
    tree = {
        "any": [
            {"not": {"not": {"type": "tag", "op": "has_not", "tag": "churned"}}},
            {
                "all": [
                    {
                        "type": "event",
                        "event": "login",
                        "op": "not_performed",
                        "count": {"op": "lte", "value": 1},
                        "within": {"hours": 12},
                        "where": [{"property": "device", "op": "in", "value": ["ios", "web"]}],
                    },
                    {
                        "type": "field",
                        "field": "created_at",
                        "op": "older_than",
                        "value": {"days": 3},
                    },
                    {"type": "email", "op": "clicked", "flow": 4},
                ]
            },
            {"type": "field", "field": "email_status", "op": "neq", "value": "bounced"},
        ]
    }
    response = page.request.post(
        f"{server_url}/api/v1/segments",
        data=json.dumps({"name": "From the API", "conditions": tree}),
        headers={**api_headers, "Content-Type": "application/json"},
    )
    assert response.status == 201, response.text()
    pk = response.json()["id"]

    page.set_viewport_size(PHONE)
    page.goto(f"{server_url}/segments/{pk}/edit/")
    wait_counted(page)
    screenshot("round-trip-390")
    screenshot("round-trip-390-screen", full_page=False)  # the count bar at the bottom
    assert json.loads(page.locator("input[name=conditions]").input_value()) == tree
    page.get_by_role("button", name="Review and save").click()

    expect(page.locator(".alert-success")).to_be_visible()
    saved = page.request.get(f"{server_url}/api/v1/segments/{pk}", headers=api_headers).json()
    assert saved["conditions"] == tree


def test_typing_is_debounced_and_a_late_answer_never_replaces_a_newer_one(
    marketer_page,  # noqa: F811
    server_url,
    crowd,
):
    page = marketer_page
    page.goto(f"{server_url}/segments/new/")
    wait_counted(page)
    held, asked = [], []

    def answer(route, count):
        body = {"count": count, "counted": "all", "summary": "", "errors": [], "sample": []}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    def handle(route):
        asked.append(json.loads(route.request.post_data))
        if len(asked) == 1:
            held.append(route)  # the first answer comes late
        else:
            answer(route, 222)

    page.get_by_role("button", name="+ Condition").click()
    page.locator(".sb-row").first.get_by_label("Field").select_option("lead_score")
    wait_counted(page)
    page.route("**/segments/builder/preview/", handle)
    value = page.locator(".sb-row").first.get_by_label("Value")
    value.press_sequentially("1")
    expect(page.locator("#sb-status")).to_have_text("counting…")
    while not held:
        page.wait_for_timeout(50)
    value.press_sequentially("2345", delay=40)  # typing is never blocked
    expect(page.locator("#sb-count")).to_have_text("222")
    # The stale request was aborted (then it cannot be fulfilled); if it lands, it is ignored.
    with contextlib.suppress(PlaywrightError):
        answer(held[0], 111)
    page.wait_for_timeout(500)

    expect(page.locator("#sb-count")).to_have_text("222")
    expect(value).to_have_value("12345")
    # One request for "1", one for the rest of the number typed (debounced).
    assert len(asked) == 2
    assert asked[1]["conditions"]["all"][0]["value"] == 12345
