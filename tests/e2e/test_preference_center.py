"""A recipient manages their email in the preference center, in Chromium: opts out of one
topic and in to two (one of them double opt-in: a confirmation email, its link, the button),
then unsubscribes from everything; a marketer sees each change on the contact page."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from automation.tokens import preferences_url
from contacts.models import Contact, ContactSubscription
from tests.e2e.web_fixtures import MARKETER_PASSWORD, log_in, marketer  # noqa: F401
from tests.factories import ContactFactory, SubscriptionTopicFactory

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def reader(server_url, settings):
    """A contact and three topics; links point at the live server."""
    settings.SITE_URL = server_url
    SubscriptionTopicFactory(key="news", name="Newsletter", description="Once a month")
    SubscriptionTopicFactory(key="offers", name="Offers", default_opt_in=False)
    SubscriptionTopicFactory(
        key="digest",
        name="Weekly digest",
        description="The week's best posts, every Monday",
        default_opt_in=False,
        double_opt_in=True,
    )
    return ContactFactory(email="reader@example.com", first_name="Ada")


def choices(contact) -> dict[str, tuple[str, str]]:
    rows = ContactSubscription.objects.filter(contact=contact)
    return {
        key: (status, source)
        for key, status, source in rows.values_list("topic__key", "status", "source")
    }


def test_a_recipient_changes_topics_confirms_one_and_unsubscribes_from_all(
    page,
    server_url,
    reader,
    marketer,  # noqa: F811
    screenshot,
):
    page.set_viewport_size(DESKTOP)
    page.goto(preferences_url(contact_id=reader.pk, message_id=None))
    expect(page.get_by_text("r***@example.com")).to_be_visible()
    screenshot("before-1280")

    # opt out of one topic and in to two
    page.get_by_role("checkbox", name="Newsletter").uncheck()
    page.get_by_role("checkbox", name="Offers").check()
    page.get_by_role("checkbox", name="Weekly digest").check()
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_have_text("Your preferences are saved.")
    expect(page.locator("#pending-notice")).to_contain_text("Check your inbox")
    expect(page.locator('[data-pending="digest"]')).to_be_visible()
    expect(page.get_by_role("checkbox", name="Weekly digest")).to_be_checked()
    screenshot("pending-1280")
    assert choices(reader) == {
        "news": ("unsubscribed", "preference_center"),
        "offers": ("subscribed", "preference_center"),
        "digest": ("pending", "preference_center"),
    }

    # the confirmation email's link, then its button
    [email] = mail.outbox
    assert email.to == ["reader@example.com"] and "Weekly digest" in email.subject
    [link] = re.findall(r'href="([^"]+/c/[^"]+)"', email.alternatives[0][0])
    page.goto(link)
    expect(page.get_by_role("heading")).to_have_text("Confirm your subscription")
    assert choices(reader)["digest"][0] == "pending"  # a GET changes nothing
    page.get_by_role("button", name="Confirm my subscription").click()
    expect(page.get_by_role("heading")).to_have_text("Subscription confirmed")
    assert choices(reader)["digest"][0] == "subscribed"
    page.goto(link)  # again: still confirmed
    expect(page.get_by_role("heading")).to_have_text("Subscription confirmed")

    # back to the preferences, at phone width: unsubscribe from everything
    page.set_viewport_size(PHONE)
    page.get_by_role("link", name="Manage your email preferences").click()
    expect(page.locator("#pending-notice")).to_have_count(0)
    page.get_by_role("checkbox", name="Unsubscribe from all marketing email").check()
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_have_text("Your preferences are saved.")
    expect(
        page.get_by_role("checkbox", name="Unsubscribe from all marketing email")
    ).to_be_checked()
    screenshot("unsubscribed-390")
    assert Contact.objects.get(pk=reader.pk).email_status == "unsubscribed"

    # a marketer sees each topic's status and where it came from
    page.set_viewport_size(DESKTOP)
    page.context.clear_cookies()
    log_in(page, server_url, marketer.username, MARKETER_PASSWORD)
    page.goto(f"{server_url}/contacts/{reader.pk}/")
    topics = page.locator("#contact-topics")
    expect(topics.locator('[data-topic="news"]')).to_contain_text("unsubscribed")
    expect(topics.locator('[data-topic="news"]')).to_contain_text("preference_center")
    expect(topics.locator('[data-topic="digest"]')).to_contain_text("subscribed")
    expect(topics.locator('[data-topic="digest"]')).to_contain_text("confirmed")
    screenshot("contact-page-1280")


def test_a_pending_topic_can_ask_for_the_link_again(page, reader):
    page.goto(preferences_url(contact_id=reader.pk, message_id=None))
    page.get_by_role("checkbox", name="Weekly digest").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator('[data-pending="digest"]')).to_be_visible()

    # a second request within minutes sends nothing more, and changes no other topic
    page.get_by_role("button", name="Send the link again for Weekly digest").click()

    expect(page.get_by_role("status")).to_have_text("We sent the confirmation link again.")
    assert len(mail.outbox) == 1
    assert choices(reader) == {"digest": ("pending", "preference_center")}
    expect(page.get_by_role("checkbox", name="Newsletter")).to_be_checked()


def test_a_tampered_preferences_or_confirmation_link_is_a_404(page, server_url, reader):
    good = preferences_url(contact_id=reader.pk, message_id=None)

    assert page.goto(good[:-2] + "xx").status == 404
    assert page.goto(f"{server_url}/c/not-a-token").status == 404
