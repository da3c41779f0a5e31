"""Settings > Subscription topics: admins list, create, edit and delete topics through
contacts.topics (the API's rules); marketers get 403."""

import pytest

from contacts.models import SubscriptionTopic
from tests.factories import (
    ContactSubscriptionFactory,
    FlowFactory,
    SegmentFactory,
    SubscriptionTopicFactory,
)

pytestmark = pytest.mark.django_db

NEW = {
    "name": "Weekly digest",
    "key": "digest",
    "description": "Every Monday",
    "default": "opt_out",
}


@pytest.mark.parametrize(
    "path",
    [
        "/settings/topics/",
        "/settings/topics/new/",
        "/settings/topics/{pk}/edit/",
        "/settings/topics/{pk}/delete/",
    ],
)
def test_marketers_get_403_and_change_nothing(marketer_client, path):
    topic = SubscriptionTopicFactory(key="news")

    assert marketer_client.get(path.format(pk=topic.pk)).status_code == 403
    assert marketer_client.post(path.format(pk=topic.pk), NEW).status_code == 403
    assert list(SubscriptionTopic.objects.values_list("key", flat=True)) == ["news"]


def test_anonymous_users_go_to_the_login_page(client):
    response = client.get("/settings/topics/")

    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_list_shows_each_topic_with_its_choice_counts(admin_client):
    topic = SubscriptionTopicFactory(key="news", name="Newsletter", default_opt_in=False)
    ContactSubscriptionFactory.create_batch(2, topic=topic, status="subscribed")
    ContactSubscriptionFactory(topic=topic, status="pending")

    response = admin_client.get("/settings/topics/")

    [row] = response.context["topics"]
    assert (row.opted_in, row.opted_out, row.pending) == (2, 0, 1)
    assert "Newsletter" in response.content.decode()


def test_creating_a_topic(admin_client):
    response = admin_client.post("/settings/topics/new/", {**NEW, "double_opt_in": "on"})

    assert response.status_code == 302
    topic = SubscriptionTopic.objects.get(key="digest")
    assert (topic.name, topic.default_opt_in, topic.double_opt_in) == ("Weekly digest", False, True)


def test_the_services_errors_land_on_their_fields(admin_client):
    SubscriptionTopicFactory(key="digest")

    taken = admin_client.post("/settings/topics/new/", NEW)
    bad = admin_client.post(
        "/settings/topics/new/",
        {**NEW, "key": "Bad key", "default": "opt_in", "double_opt_in": "on"},
    )

    assert taken.status_code == 400
    assert taken.context["form"].errors["key"] == ["A topic with this key already exists."]
    assert bad.status_code == 400
    assert set(bad.context["form"].errors) == {"key", "double_opt_in"}
    assert SubscriptionTopic.objects.count() == 1


def test_editing_a_topic_keeps_its_key(admin_client):
    topic = SubscriptionTopicFactory(key="news", name="News", default_opt_in=True)

    page = admin_client.get(f"/settings/topics/{topic.pk}/edit/")
    assert 'name="key"' not in page.content.decode()
    response = admin_client.post(
        f"/settings/topics/{topic.pk}/edit/",
        {"name": "Newsletter", "key": "other", "description": "", "default": "opt_out"},
    )

    assert response.status_code == 302
    topic.refresh_from_db()
    assert (topic.key, topic.name, topic.default_opt_in) == ("news", "Newsletter", False)


def test_deleting_a_topic_asks_first(admin_client):
    topic = SubscriptionTopicFactory(key="news")
    ContactSubscriptionFactory(topic=topic)

    confirm = admin_client.get(f"/settings/topics/{topic.pk}/delete/")
    assert "1 contact choice for it" in confirm.content.decode()
    assert SubscriptionTopic.objects.filter(pk=topic.pk).exists()
    response = admin_client.post(f"/settings/topics/{topic.pk}/delete/")

    assert response.status_code == 302
    assert not SubscriptionTopic.objects.filter(pk=topic.pk).exists()


def test_an_unknown_topic_is_a_404(admin_client):
    assert admin_client.get("/settings/topics/999999/edit/").status_code == 404
    assert admin_client.post("/settings/topics/999999/delete/").status_code == 404


def test_the_delete_page_names_the_segments_and_flows_that_read_the_topic(admin_client):
    topic = SubscriptionTopicFactory(key="news")
    on_topic = {"type": "subscription", "op": "subscribed", "topic": "news"}
    SegmentFactory(name="Readers", conditions={"all": [{"not": on_topic}]})
    SegmentFactory(name="Other", conditions={**on_topic, "topic": "offers"})
    nested = {"type": "send_email", "template": 1, "topic": "news"}
    FlowFactory(name="Digest", definition={"steps": [{"type": "branch", "yes": [nested]}]})
    FlowFactory(name="Old", status="archived", definition={"steps": [nested]})

    response = admin_client.get(f"/settings/topics/{topic.pk}/delete/")

    readers = response.context["readers"]
    assert [reader.split(" (#")[0] for reader in readers] == ["Segment “Readers”", "Flow “Digest”"]
