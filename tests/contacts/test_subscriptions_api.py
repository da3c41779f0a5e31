"""GET/PUT /api/v1/contacts/{id}/subscriptions: every topic with its status, the recorded
source and time of each change, and every 400 at its path with nothing changed."""

import datetime as dt

import pytest
import time_machine
from django.core import mail

from contacts.models import ContactSubscription
from contacts.signals import contacts_changed
from tests.factories import ContactFactory, ContactSubscriptionFactory, SubscriptionTopicFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def errors_of(response) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    found: dict[str, list[str]] = {}
    for error in response.json()["errors"]:
        found.setdefault(error["path"], []).append(error["message"])
    return found


def by_key(response) -> dict[str, dict]:
    return {item["key"]: item for item in response.json()["subscriptions"]}


@pytest.fixture
def contact():
    return ContactFactory(email="reader@example.com")


@pytest.fixture
def topics():
    return {
        "news": SubscriptionTopicFactory(key="news", name="Newsletter", default_opt_in=True),
        "offers": SubscriptionTopicFactory(key="offers", name="Offers", default_opt_in=False),
        "digest": SubscriptionTopicFactory(
            key="digest", name="Digest", default_opt_in=False, double_opt_in=True
        ),
    }


def test_get_shows_every_topic_with_its_default_or_the_contacts_choice(api, contact, topics):
    ContactSubscriptionFactory(
        contact=contact, topic=topics["offers"], status="subscribed", source="form", updated_at=NOW
    )

    response = api.get(f"/api/v1/contacts/{contact.pk}/subscriptions")

    assert response.status_code == 200
    assert response.json()["contact"] == contact.pk
    assert by_key(response) == {
        "digest": {
            "key": "digest",
            "name": "Digest",
            "status": "unsubscribed",
            "changed_at": None,
            "source": "default",
            "confirmed_at": None,
        },
        "news": {
            "key": "news",
            "name": "Newsletter",
            "status": "subscribed",
            "changed_at": None,
            "source": "default",
            "confirmed_at": None,
        },
        "offers": {
            "key": "offers",
            "name": "Offers",
            "status": "subscribed",
            "changed_at": "2026-11-24T09:00:00Z",
            "source": "form",
            "confirmed_at": None,
        },
    }


def test_get_of_an_unknown_contact_is_a_404(api):
    assert api.get("/api/v1/contacts/999999/subscriptions").status_code == 404
    body = {"subscriptions": {}}
    assert api.put("/api/v1/contacts/999999/subscriptions", body, format="json").status_code == 404


@time_machine.travel(NOW, tick=False)
def test_put_records_the_named_topics_with_source_and_time(api, contact, topics):
    response = api.put(
        f"/api/v1/contacts/{contact.pk}/subscriptions",
        {"subscriptions": {"news": "unsubscribed", "offers": "subscribed"}, "source": "signup"},
        format="json",
    )

    assert response.status_code == 200
    items = by_key(response)
    assert {key: item["status"] for key, item in items.items()} == {
        "news": "unsubscribed",
        "offers": "subscribed",
        "digest": "unsubscribed",
    }
    assert items["news"]["source"] == "signup" == items["offers"]["source"]
    assert items["news"]["changed_at"] == "2026-11-24T09:00:00Z"
    assert items["digest"]["source"] == "default"  # not named: unchanged


def test_put_source_defaults_to_api_and_a_repeat_changes_nothing(api, contact, topics):
    url = f"/api/v1/contacts/{contact.pk}/subscriptions"
    with time_machine.travel(NOW, tick=False):
        api.put(url, {"subscriptions": {"offers": "subscribed"}}, format="json")
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        items = by_key(api.put(url, {"subscriptions": {"offers": "subscribed"}}, format="json"))

    assert items["offers"]["source"] == "api"
    assert items["offers"]["changed_at"] == "2026-11-24T09:00:00Z"


def test_put_announces_the_change_so_segments_follow(api, contact, topics):
    announced = []

    def receiver(sender, *, contact_ids, changes, **kwargs):
        announced.append((list(contact_ids), changes))

    contacts_changed.connect(receiver, dispatch_uid="test_subscriptions_api")
    try:
        url = f"/api/v1/contacts/{contact.pk}/subscriptions"
        api.put(url, {"subscriptions": {"offers": "subscribed"}}, format="json")
        api.put(url, {"subscriptions": {"offers": "subscribed"}}, format="json")
    finally:
        contacts_changed.disconnect(dispatch_uid="test_subscriptions_api")

    assert announced == [([contact.pk], frozenset({"subscriptions"}))]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, {"subscriptions"}),
        ({"subscriptions": ["news"]}, {"subscriptions"}),
        ({"subscriptions": "news"}, {"subscriptions"}),
        ({"subscriptions": {"nope": "subscribed"}}, {"subscriptions.nope"}),
        ({"subscriptions": {"news": "pending"}}, {"subscriptions.news"}),
        ({"subscriptions": {"news": "yes"}}, {"subscriptions.news"}),
        ({"subscriptions": {"news": True}}, {"subscriptions.news"}),
        ({"subscriptions": {"news": None}}, {"subscriptions.news"}),
        (
            {"subscriptions": {"news": "off", "nope": "subscribed", "offers": "subscribed"}},
            {"subscriptions.news", "subscriptions.nope"},
        ),
        ({"subscriptions": {}, "source": "Sign Up"}, {"source"}),
        ({"subscriptions": {}, "source": "default"}, {"source"}),
        ({"subscriptions": {}, "source": "s" * 33}, {"source"}),
        ({"subscriptions": {}, "source": 5}, {"source"}),
        ({"subscriptions": {}, "confirmed": "yes"}, {"confirmed"}),
        ({"subscriptions": {}, "other": 1}, {"other"}),
    ],
)
def test_put_refuses_bad_input_at_its_path_and_changes_nothing(
    api, contact, topics, body, expected
):
    response = api.put(f"/api/v1/contacts/{contact.pk}/subscriptions", body, format="json")

    assert set(errors_of(response)) == expected
    assert not ContactSubscription.objects.exists()


def test_put_names_the_unknown_topic_in_its_message(api, contact, topics):
    response = api.put(
        f"/api/v1/contacts/{contact.pk}/subscriptions",
        {"subscriptions": {"nope": "subscribed"}},
        format="json",
    )

    assert errors_of(response) == {"subscriptions.nope": ["Unknown topic 'nope'."]}


def test_put_of_a_body_that_is_not_an_object_is_a_400(api, contact, topics):
    response = api.put(f"/api/v1/contacts/{contact.pk}/subscriptions", ["x"], format="json")

    assert "" in errors_of(response)


@time_machine.travel(NOW, tick=False)
def test_put_subscribed_to_a_double_opt_in_topic_is_pending_and_mails_a_link(
    api, contact, topics, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.put(
            f"/api/v1/contacts/{contact.pk}/subscriptions",
            {"subscriptions": {"digest": "subscribed"}},
            format="json",
        )

    assert by_key(response)["digest"]["status"] == "pending"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["reader@example.com"]
    assert "Digest" in mail.outbox[0].subject
    assert "/c/" in mail.outbox[0].body


def test_put_confirmed_skips_double_opt_in(
    api, contact, topics, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.put(
            f"/api/v1/contacts/{contact.pk}/subscriptions",
            {"subscriptions": {"digest": "subscribed"}, "confirmed": True, "source": "import"},
            format="json",
        )

    item = by_key(response)["digest"]
    assert (item["status"], item["source"]) == ("subscribed", "import")
    assert mail.outbox == []


def test_subscriptions_need_an_api_key(client, contact):
    assert client.get(f"/api/v1/contacts/{contact.pk}/subscriptions").status_code == 401
