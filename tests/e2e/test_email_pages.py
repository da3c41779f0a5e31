"""A recipient follows the links of an email a flow sent: the preference center and the
unsubscribe page, in Chromium."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from automation.sending import message_prepare, messages_deliver
from contacts.models import Contact, ContactSubscription
from tests.factories import EmailTemplateFactory, EnrollmentFactory, SubscriptionTopicFactory

pytestmark = pytest.mark.e2e


@pytest.fixture
def sent_email(server_url, settings):
    """An email sent through the send path, its links pointing at the live server."""
    settings.SITE_URL = server_url
    SubscriptionTopicFactory(key="news", name="Newsletter", description="Once a month")
    SubscriptionTopicFactory(key="offers", name="Offers", default_opt_in=False)
    template = EmailTemplateFactory(
        html='<p>Hi</p><a href="{{ preferences_url }}">Preferences</a> '
        '<a href="{{ unsubscribe_url }}">Unsubscribe</a>'
    )
    enrollment = EnrollmentFactory(contact__email="reader@example.com")
    step = {"id": "m", "type": "send_email", "template": template.pk}
    message = message_prepare(enrollment=enrollment, step=step, now=enrollment.enrolled_at)
    messages_deliver(messages=[message], now=enrollment.enrolled_at)
    html = mail.outbox[-1].alternatives[0][0]
    links = dict(re.findall(r'href="([^"]+)">(\w+)<', html))
    return enrollment.contact, {name: url for url, name in links.items()}


def test_preference_center_in_a_browser(page, sent_email):
    contact, links = sent_email

    page.goto(links["Preferences"])
    expect(page.get_by_text("r***@example.com")).to_be_visible()
    newsletter = page.get_by_role("checkbox", name="Newsletter")
    offers = page.get_by_role("checkbox", name="Offers")
    expect(newsletter).to_be_checked()
    expect(offers).not_to_be_checked()
    newsletter.uncheck()
    offers.check()
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_have_text("Your preferences are saved.")
    expect(page.get_by_role("checkbox", name="Newsletter")).not_to_be_checked()
    choices = dict(
        ContactSubscription.objects.filter(contact=contact).values_list("topic__key", "status")
    )
    assert choices == {"news": "unsubscribed", "offers": "subscribed"}


def test_unsubscribe_link_confirms_then_unsubscribes(page, sent_email):
    contact, links = sent_email

    page.goto(links["Unsubscribe"])
    expect(page.get_by_role("heading")).to_have_text("Unsubscribe?")
    assert Contact.objects.get(pk=contact.pk).email_status == "active"
    page.get_by_role("button", name="Unsubscribe").click()

    expect(page.get_by_role("heading")).to_have_text("You are unsubscribed")
    assert Contact.objects.get(pk=contact.pk).email_status == "unsubscribed"
