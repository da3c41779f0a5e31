"""A marketer finds a contact, reads its page and timeline, and edits a field (a bad value
first, then a good one)."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from contacts.models import Contact
from segments.services import segment_create
from tests.e2e.web_fixtures import marketer, marketer_page  # noqa: F401
from tests.factories import (
    ContactFactory,
    ContactTagFactory,
    CustomFieldFactory,
    EventFactory,
    SubscriptionTopicFactory,
    TagFactory,
)
from web.selectors import TIMELINE_PAGE_SIZE

pytestmark = pytest.mark.e2e


@pytest.fixture
def jane(transactional_db):
    CustomFieldFactory(key="plan", label="Plan", type="choice", choices=["free", "pro"])
    CustomFieldFactory(key="seats", label="Seats", type="number")
    CustomFieldFactory(key="trial_ends", label="Trial ends", type="date")
    ContactFactory.create_batch(5)
    contact = ContactFactory(
        email="jane@example.com",
        first_name="Jane",
        last_name="Doe",
        external_id="crm-1001",
        lead_score=37,
        fields={"plan": "pro", "seats": 5, "trial_ends": "2026-12-15"},
    )
    for name in ("vip", "beta"):
        ContactTagFactory(contact=contact, tag=TagFactory(name=name))
    # Evaluated at once (tasks run eagerly on commit): Jane becomes a member.
    segment_create(
        name="Pro users",
        conditions={"all": [{"type": "field", "field": "plan", "op": "eq", "value": "pro"}]},
    )
    SubscriptionTopicFactory(key="news", name="Newsletter")
    start = timezone.now() - dt.timedelta(days=3)
    for n in range(TIMELINE_PAGE_SIZE + 4):
        EventFactory(
            contact=contact,
            name="page.viewed" if n % 3 else "login",
            properties={"path": f"/pricing/{n}"} if n % 3 else {},
            occurred_at=start + dt.timedelta(minutes=17 * n),
        )
    return contact


def test_search_a_contact_and_open_its_page(marketer_page, server_url, jane, screenshot):  # noqa: F811
    page = marketer_page
    page.get_by_role("link", name="Contacts", exact=True).click()
    screenshot("list")

    page.get_by_label("Search", exact=True).fill("crm-1001")
    page.get_by_role("button", name="Search").click()

    rows = page.locator("#contact-table tbody tr")
    expect(rows).to_have_count(1)
    page.get_by_role("link", name="jane@example.com").click()
    expect(page.get_by_role("heading", name="Jane Doe")).to_be_visible()
    expect(page.locator("[data-field=plan]")).to_have_text("pro")
    expect(page.locator("#contact-tags")).to_contain_text("vip")
    expect(page.locator("#contact-segments")).to_contain_text("Pro users")
    expect(page.locator("#contact-topics")).to_contain_text("Newsletter")
    expect(page.locator(".timeline-event")).to_have_count(TIMELINE_PAGE_SIZE)
    screenshot("contact")

    page.get_by_role("button", name="Load older events").click()

    expect(page.locator(".timeline-event")).to_have_count(TIMELINE_PAGE_SIZE + 4)
    expect(page.get_by_role("button", name="Load older events")).to_have_count(0)


def test_edit_a_field_with_an_error_then_fix_it(marketer_page, server_url, jane, screenshot):  # noqa: F811
    page = marketer_page
    page.goto(f"{server_url}/contacts/{jane.pk}/")
    page.get_by_role("link", name="Edit fields and tags").click()

    page.get_by_label("Seats").fill("a dozen")
    page.get_by_label("Plan").select_option("free")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    expect(page.locator("#id_cf_seats_error")).to_have_text("'a dozen' is not a number.")
    expect(page.get_by_label("Seats")).to_have_attribute("aria-invalid", "true")
    screenshot("edit-error")
    assert Contact.objects.get(pk=jane.pk).fields["plan"] == "pro"

    page.get_by_label("Seats").fill("12")
    page.get_by_label("Tags").fill("vip, beta, champion")
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(f"{server_url}/contacts/{jane.pk}/")
    expect(page.get_by_role("status")).to_contain_text("Contact saved.")
    expect(page.locator("[data-field=seats]")).to_have_text("12")
    expect(page.locator("[data-field=plan]")).to_have_text("free")
    expect(page.locator("#contact-tags")).to_contain_text("champion")
    screenshot("edit-saved")


def test_the_contact_list_at_phone_width(marketer_page, server_url, jane, screenshot):  # noqa: F811
    page = marketer_page
    page.set_viewport_size({"width": 390, "height": 844})

    page.goto(f"{server_url}/contacts/{jane.pk}/")

    expect(page.get_by_role("heading", name="Jane Doe")).to_be_visible()
    screenshot("phone-contact")
