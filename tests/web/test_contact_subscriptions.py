"""The contact page's Subscriptions section: each topic's status (pending included), and the
source and time of the contact's own choice, or the topic's default."""

import datetime as dt

import pytest

from tests.factories import ContactFactory, ContactSubscriptionFactory, SubscriptionTopicFactory

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)


def test_each_topic_shows_status_source_and_time(marketer_client):
    contact = ContactFactory()
    news = SubscriptionTopicFactory(key="news", name="Newsletter")
    digest = SubscriptionTopicFactory(key="digest", name="Digest", default_opt_in=False)
    SubscriptionTopicFactory(key="tips", name="Tips", default_opt_in=False)
    ContactSubscriptionFactory(
        contact=contact,
        topic=news,
        status="unsubscribed",
        source="preference_center",
        updated_at=AT,
    )
    ContactSubscriptionFactory(
        contact=contact, topic=digest, status="pending", source="api", updated_at=AT
    )

    page = marketer_client.get(f"/contacts/{contact.pk}/").content.decode()

    section = page.split('id="contact-topics"', 1)[1].split("</ul>", 1)[0]
    rows = {
        key: section.split(f'data-topic="{key}"', 1)[1].split("</li>", 1)[0]
        for key in ("news", "digest", "tips")
    }
    assert "unsubscribed" in rows["news"] and "preference_center, " in rows["news"]
    assert "2026-11-20 09:30" in rows["news"]
    assert "pending confirmation" in rows["digest"] and "api, " in rows["digest"]
    assert "unsubscribed" in rows["tips"] and "topic default (opt-out)" in rows["tips"]
