"""Double opt-in on a real Celery worker and a real SMTP server: the API's request queues the
confirmation task, the worker sends the email, and its link confirms the subscription."""

import re

import pytest
from django.test import Client

from contacts.models import ContactSubscription
from tests.automation.conftest import flow_worker, smtp_sink  # noqa: F401
from tests.factories import ContactFactory, SubscriptionTopicFactory

pytestmark = [pytest.mark.integration, pytest.mark.postgresql]

TIMEOUT = 60.0


def test_the_worker_mails_the_confirmation_link_and_following_it_confirms(
    api,
    flow_worker,  # noqa: F811
    smtp_sink,  # noqa: F811
):
    SubscriptionTopicFactory(key="digest", name="Digest", default_opt_in=False, double_opt_in=True)
    contact = ContactFactory(email="ada@example.com")
    flow_worker.start()

    response = api.put(
        f"/api/v1/contacts/{contact.pk}/subscriptions",
        {"subscriptions": {"digest": "subscribed"}},
        format="json",
    )
    assert response.json()["subscriptions"][0]["status"] == "pending"
    [received] = smtp_sink.wait_for(1, timeout=TIMEOUT)

    assert received.rcpt_tos == ("ada@example.com",)
    assert received.message["Subject"] == "Please confirm your subscription: Digest"
    text = received.message.get_body(preferencelist=("plain",)).get_content()
    [path] = re.findall(r"https?://[^/\s]+(/c/\S+)", text)  # the worker's SITE_URL
    Client().post(path)
    row = ContactSubscription.objects.get(contact=contact, topic__key="digest")
    assert row.status == "subscribed" and row.confirmed_at is not None
