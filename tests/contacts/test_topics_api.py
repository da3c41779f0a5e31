"""GET/POST /api/v1/topics and GET/PATCH/DELETE /api/v1/topics/{key}: shapes, every 400 and
the announcements a topic change makes (segments on subscriptions follow)."""

import pytest

from contacts.models import ContactSubscription, SubscriptionTopic
from contacts.signals import contacts_changed
from tests.factories import ContactFactory, ContactSubscriptionFactory, SubscriptionTopicFactory

pytestmark = pytest.mark.django_db


def errors_of(response) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    found: dict[str, list[str]] = {}
    for error in response.json()["errors"]:
        found.setdefault(error["path"], []).append(error["message"])
    return found


@pytest.fixture
def announced():
    calls: list[tuple[list[int], frozenset[str]]] = []

    def receiver(sender, *, contact_ids, changes, **kwargs):
        calls.append((list(contact_ids), changes))

    contacts_changed.connect(receiver, dispatch_uid="test_topics_api")
    yield calls
    contacts_changed.disconnect(dispatch_uid="test_topics_api")


def test_create_returns_201_with_the_documented_shape(api):
    body = {"key": "news", "name": "Newsletter", "description": "Monthly", "default": "opt_out"}

    response = api.post("/api/v1/topics", body, format="json")

    assert response.status_code == 201
    data = response.json()
    assert {k: data[k] for k in body} == body
    assert data["double_opt_in"] is False
    assert isinstance(data["id"], int) and data["created_at"]
    topic = SubscriptionTopic.objects.get(key="news")
    assert topic.default_opt_in is False and topic.name == "Newsletter"


def test_create_defaults_to_opt_in_and_accepts_double_opt_in_with_opt_out(api):
    plain = api.post("/api/v1/topics", {"key": "tips", "name": "Tips"}, format="json").json()
    double = api.post(
        "/api/v1/topics",
        {"key": "deals", "name": "Deals", "default": "opt_out", "double_opt_in": True},
        format="json",
    ).json()

    assert (plain["default"], plain["double_opt_in"], plain["description"]) == ("opt_in", False, "")
    assert (double["default"], double["double_opt_in"]) == ("opt_out", True)


def test_list_is_paged_by_key(api):
    SubscriptionTopicFactory(key="b-topic", name="B")
    SubscriptionTopicFactory(key="a-topic", name="A", default_opt_in=False)

    data = api.get("/api/v1/topics").json()

    assert data["count"] == 2 and data["next"] is None
    assert [(t["key"], t["default"]) for t in data["results"]] == [
        ("a-topic", "opt_out"),
        ("b-topic", "opt_in"),
    ]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"name": "No key"}, "key"),
        ({"key": "news"}, "name"),
        ({"key": "News Letter", "name": "x"}, "key"),
        ({"key": "-news", "name": "x"}, "key"),
        ({"key": "n" * 65, "name": "x"}, "key"),
        ({"key": 7, "name": "x"}, "key"),
        ({"key": "news", "name": "   "}, "name"),
        ({"key": "news", "name": "a\nb"}, "name"),
        ({"key": "news", "name": "x" * 201}, "name"),
        ({"key": "news", "name": "x", "description": 3}, "description"),
        ({"key": "news", "name": "x", "description": "bell\x07"}, "description"),
        ({"key": "news", "name": "x", "default": "maybe"}, "default"),
        ({"key": "news", "name": "x", "double_opt_in": "yes"}, "double_opt_in"),
        ({"key": "news", "name": "x", "double_opt_in": True}, "double_opt_in"),
        ({"key": "news", "name": "x", "double_opt_in": True, "default": "opt_in"}, "double_opt_in"),
        ({"key": "news", "name": "x", "colour": "red"}, "colour"),
    ],
)
def test_create_refuses_bad_input_at_its_path(api, body, path):
    response = api.post("/api/v1/topics", body, format="json")

    assert path in errors_of(response)
    assert not SubscriptionTopic.objects.exists()


def test_create_refuses_a_body_that_is_not_an_object(api):
    response = api.post("/api/v1/topics", ["news"], format="json")

    assert "" in errors_of(response)


def test_create_refuses_a_key_taken(api):
    SubscriptionTopicFactory(key="news", name="Old")

    response = api.post("/api/v1/topics", {"key": "news", "name": "New"}, format="json")

    assert errors_of(response) == {"key": ["A topic with this key already exists."]}
    assert SubscriptionTopic.objects.get(key="news").name == "Old"


def test_create_reports_every_error_at_once(api):
    response = api.post(
        "/api/v1/topics", {"key": "Bad Key", "name": "", "default": "x"}, format="json"
    )

    assert set(errors_of(response)) == {"key", "name", "default"}


def test_an_opt_in_topic_announces_every_contact_an_opt_out_one_none(api, announced):
    first, second = ContactFactory(), ContactFactory()

    api.post("/api/v1/topics", {"key": "quiet", "name": "Q", "default": "opt_out"}, format="json")
    assert announced == []
    api.post("/api/v1/topics", {"key": "loud", "name": "L"}, format="json")

    assert announced == [([first.pk, second.pk], frozenset({"subscriptions"}))]


def test_retrieve_and_unknown_key_404(api):
    SubscriptionTopicFactory(key="news", name="Newsletter", description="Monthly")

    assert api.get("/api/v1/topics/news").json()["name"] == "Newsletter"
    response = api.get("/api/v1/topics/nope")
    assert response.status_code == 404
    assert api.patch("/api/v1/topics/nope", {"name": "x"}, format="json").status_code == 404
    assert api.delete("/api/v1/topics/nope").status_code == 404


def test_patch_changes_the_given_attributes_only(api):
    SubscriptionTopicFactory(key="news", name="Newsletter", description="Monthly")

    response = api.patch("/api/v1/topics/news", {"name": "The letter"}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "The letter"
    assert response.json()["description"] == "Monthly"


def test_patch_accepts_a_response_echoed_back_but_not_a_new_key(api):
    SubscriptionTopicFactory(key="news", name="Newsletter")
    echoed = api.get("/api/v1/topics/news").json()

    assert api.patch("/api/v1/topics/news", echoed, format="json").status_code == 200
    response = api.patch("/api/v1/topics/news", {"key": "letters"}, format="json")
    assert errors_of(response) == {"key": ["A topic's key cannot change."]}


def test_patch_refuses_double_opt_in_on_an_opt_in_topic(api):
    SubscriptionTopicFactory(key="news", default_opt_in=True)

    response = api.patch("/api/v1/topics/news", {"double_opt_in": True}, format="json")

    assert "double_opt_in" in errors_of(response)
    both = {"double_opt_in": True, "default": "opt_out"}
    assert api.patch("/api/v1/topics/news", both, format="json").json()["double_opt_in"] is True
    response = api.patch("/api/v1/topics/news", {"default": "opt_in"}, format="json")
    assert "double_opt_in" in errors_of(response)


def test_patch_refuses_bad_values_and_unknown_keys(api):
    SubscriptionTopicFactory(key="news", name="Newsletter")

    response = api.patch(
        "/api/v1/topics/news", {"name": "", "default": 1, "extra": True}, format="json"
    )

    assert set(errors_of(response)) == {"name", "default", "extra"}
    assert SubscriptionTopic.objects.get(key="news").name == "Newsletter"


def test_a_new_default_announces_the_contacts_without_a_choice(api, announced):
    topic = SubscriptionTopicFactory(key="news", default_opt_in=True)
    chose = ContactSubscriptionFactory(topic=topic, status="subscribed").contact
    left_to_default = ContactFactory()

    api.patch("/api/v1/topics/news", {"name": "Renamed"}, format="json")
    assert announced == []
    api.patch("/api/v1/topics/news", {"default": "opt_out"}, format="json")

    assert announced == [([left_to_default.pk], frozenset({"subscriptions"}))]
    assert chose.pk not in announced[0][0]


def test_delete_removes_the_topic_and_choices_and_announces_who_was_subscribed(api, announced):
    topic = SubscriptionTopicFactory(key="news", default_opt_in=False)
    subscribed = ContactSubscriptionFactory(topic=topic, status="subscribed").contact
    ContactSubscriptionFactory(topic=topic, status="pending")
    ContactSubscriptionFactory(topic=topic, status="unsubscribed")

    response = api.delete("/api/v1/topics/news")

    assert response.status_code == 204
    assert not SubscriptionTopic.objects.filter(key="news").exists()
    assert not ContactSubscription.objects.exists()
    assert announced == [([subscribed.pk], frozenset({"subscriptions"}))]


def test_deleting_an_opt_in_topic_announces_contacts_subscribed_by_default(api, announced):
    topic = SubscriptionTopicFactory(key="news", default_opt_in=True)
    by_default = ContactFactory()
    ContactSubscriptionFactory(topic=topic, status="unsubscribed")

    api.delete("/api/v1/topics/news")

    assert announced == [([by_default.pk], frozenset({"subscriptions"}))]


def test_topics_need_an_api_key(client):
    assert client.get("/api/v1/topics").status_code == 401
