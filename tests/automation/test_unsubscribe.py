import pytest
from django.test import Client

from automation.tokens import preferences_token, unsubscribe_token
from contacts.models import Contact, ContactSubscription, Event
from contacts.signals import contacts_changed
from tests.factories import (
    ContactFactory,
    ContactSubscriptionFactory,
    MessageFactory,
    SubscriptionTopicFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return Client(enforce_csrf_checks=True)


def unsubscribe_path(contact, message=None) -> str:
    token = unsubscribe_token(
        contact_id=contact.pk if contact else None, message_id=message.pk if message else None
    )
    return f"/u/{token}"


def status_of(contact) -> str:
    return Contact.objects.get(pk=contact.pk).email_status


def test_get_shows_a_confirmation_and_changes_nothing(client):
    contact = ContactFactory(email="ada@example.com")

    response = client.get(unsubscribe_path(contact))

    assert response.status_code == 200
    assert b"Unsubscribe?" in response.content
    assert b"a***@example.com" in response.content
    assert b'method="post"' in response.content
    assert response["Cache-Control"] == "no-store"
    assert status_of(contact) == "active"
    assert not Event.objects.exists()


def test_rfc8058_one_click_post_unsubscribes_without_csrf_token_or_session(client):
    contact = ContactFactory()
    message = MessageFactory(contact=contact, step_id="s1")

    response = client.post(
        unsubscribe_path(contact, message),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert status_of(contact) == "unsubscribed"
    event = Event.objects.get(name="email.unsubscribed")
    assert event.contact_id == contact.pk
    assert event.properties["method"] == "one_click"
    assert event.properties["message_id"] == message.pk
    assert event.properties["step_id"] == "s1"


def test_the_pages_button_unsubscribes(client):
    contact = ContactFactory()

    response = client.post(unsubscribe_path(contact), {"confirm": "1"})

    assert b"You are unsubscribed" in response.content
    assert status_of(contact) == "unsubscribed"
    assert Event.objects.get(name="email.unsubscribed").properties["method"] == "link"


def test_a_repeated_post_records_one_event(client):
    contact = ContactFactory()
    message = MessageFactory(contact=contact)
    path = unsubscribe_path(contact, message)

    client.post(path, {"confirm": "1"})
    client.post(path, {"confirm": "1"})

    assert Event.objects.filter(name="email.unsubscribed").count() == 1


@pytest.mark.parametrize("status", ["bounced", "complained"])
def test_a_suppressed_address_keeps_its_status(client, status):
    contact = ContactFactory(email_status=status)

    client.post(unsubscribe_path(contact), {"confirm": "1"})

    assert status_of(contact) == status


def test_unsubscribe_is_announced_to_segments_by_the_change_signal(client):
    contact = ContactFactory()
    announced = []

    def receiver(sender, contact_ids, changes, **kwargs):
        announced.append((contact_ids, set(changes)))

    contacts_changed.connect(receiver)
    try:
        client.post(unsubscribe_path(contact), {"confirm": "1"})
    finally:
        contacts_changed.disconnect(receiver)

    assert ([contact.pk], {"field:email_status"}) in announced


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_token_is_a_404_and_changes_nothing(client, method):
    contact = ContactFactory()
    path = unsubscribe_path(contact)
    tampered = path[:-2] + ("AA" if not path.endswith("AA") else "BB")

    response = getattr(client, method)(tampered)

    assert response.status_code == 404
    assert status_of(contact) == "active"


def test_a_preferences_token_is_not_an_unsubscribe_token(client):
    contact = ContactFactory()
    token = preferences_token(contact_id=contact.pk, message_id=None)

    assert client.post(f"/u/{token}").status_code == 404


def test_a_deleted_contacts_link_is_a_404(client):
    contact = ContactFactory()
    path = unsubscribe_path(contact)
    contact.delete()

    assert client.get(path).status_code == 404


def test_a_test_sends_link_says_so(client):
    response = client.post(unsubscribe_path(None), {"confirm": "1"})

    assert response.status_code == 200
    assert b"test message" in response.content


# --- preference center -----------------------------------------------------------------------


def preferences_path(contact) -> str:
    return f"/p/{preferences_token(contact_id=contact.pk, message_id=None)}"


def test_preferences_page_lists_topics_with_the_contacts_status():
    contact = ContactFactory()
    news = SubscriptionTopicFactory(key="news", name="Newsletter", description="Monthly")
    SubscriptionTopicFactory(key="offers", name="Offers", default_opt_in=False)
    ContactSubscriptionFactory(contact=contact, topic=news, status="unsubscribed")

    response = Client().get(preferences_path(contact))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Newsletter" in html and "Monthly" in html and "Offers" in html
    assert 'name="topic:news">' in html  # not checked
    assert 'name="topic:offers">' in html


def test_preferences_post_records_choices_with_source_and_can_unsubscribe_all():
    contact = ContactFactory()
    SubscriptionTopicFactory(key="news")
    SubscriptionTopicFactory(key="offers", default_opt_in=False)
    client = Client()
    client.get(preferences_path(contact))

    response = client.post(preferences_path(contact), {"topic:offers": "on"})

    assert b"saved" in response.content
    choices = dict(
        ContactSubscription.objects.filter(contact=contact).values_list("topic__key", "status")
    )
    assert choices == {"news": "unsubscribed", "offers": "subscribed"}
    assert set(
        ContactSubscription.objects.filter(contact=contact).values_list("source", flat=True)
    ) == {"preference_center"}

    client.post(preferences_path(contact), {"unsubscribe_all": "on"})
    assert status_of(contact) == "unsubscribed"

    client.post(preferences_path(contact), {})
    assert status_of(contact) == "active"


def test_preferences_with_a_bad_token_is_a_404():
    assert Client().get("/p/not-a-token").status_code == 404
