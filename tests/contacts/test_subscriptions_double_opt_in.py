"""Double opt-in end to end: the API asks, the confirmation email arrives (Django's locmem
backend), its link is followed; meanwhile the contact is pending, which sends and segments
treat as not subscribed."""

import base64
import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from automation.sending import message_prepare
from contacts.models import ContactSubscription
from contacts.subscription_confirmation import subscription_confirm_token
from contacts.subscriptions import contact_subscriptions_set
from segments.evaluation import segment_evaluate
from segments.models import SegmentMembership
from segments.services import segment_create
from tests.factories import (
    ContactFactory,
    EmailTemplateFactory,
    EnrollmentFactory,
    SubscriptionTopicFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def digest():
    return SubscriptionTopicFactory(
        key="digest", name="Weekly digest", default_opt_in=False, double_opt_in=True
    )


@pytest.fixture
def contact():
    return ContactFactory(email="reader@example.com", first_name="Ada")


def status_of(contact, topic) -> tuple[str, dt.datetime | None]:
    row = ContactSubscription.objects.get(contact=contact, topic=topic)
    return row.status, row.confirmed_at


def confirm_path_in(email) -> str:
    urls = re.findall(r"https?://[^\s\"]+/c/[^\s\"<]+", email.body)
    assert len(urls) == 1, email.body
    html_urls = re.findall(r'href="(https?://[^"]+/c/[^"]+)"', email.alternatives[0][0])
    assert html_urls == urls
    return "/c/" + urls[0].split("/c/", 1)[1]


def in_segment(segment, contact) -> bool:
    current = SegmentMembership.objects.filter(segment=segment, left_at__isnull=True)
    return current.filter(contact=contact).exists()


def send_with_topic(contact, topic_key: str):
    template = EmailTemplateFactory()
    enrollment = EnrollmentFactory(contact=contact)
    step = {"id": f"m-{enrollment.pk}", "type": "send_email", "template": template.pk}
    step["topic"] = topic_key
    return message_prepare(enrollment=enrollment, step=step, now=timezone.now())


def test_double_opt_in_from_the_api_to_the_confirmed_link(
    api, contact, digest, django_capture_on_commit_callbacks
):
    # given a segment of the topic's subscribers, evaluated
    segment = segment_create(
        name="Digest readers",
        conditions={"type": "subscription", "op": "subscribed", "topic": "digest"},
    )
    segment_evaluate(segment=segment, now=timezone.now())
    url = f"/api/v1/contacts/{contact.pk}/subscriptions"

    # when the contact subscribes through the API
    with django_capture_on_commit_callbacks(execute=True):
        api.put(url, {"subscriptions": {"digest": "subscribed"}}, format="json")

    # then it is pending: mailed a link, skipped by sends, not in the segment
    assert status_of(contact, digest) == ("pending", None)
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["reader@example.com"]
    assert email.subject == "Please confirm your subscription: Weekly digest"
    assert "Hi Ada," in email.body
    assert "List-Unsubscribe" not in email.extra_headers
    skipped = send_with_topic(contact, "digest")
    assert (skipped.status, skipped.reason) == ("skipped", "opted_out:digest")
    assert not in_segment(segment, contact)

    # when the link is followed: GET shows a button (changes nothing), POST confirms
    client = Client()
    path = confirm_path_in(email)
    page = client.get(path)
    assert page.status_code == 200 and b"Confirm my subscription" in page.content
    assert status_of(contact, digest)[0] == "pending"
    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(NOW, tick=False):
        confirmed = client.post(path)

    # then it is subscribed, confirmed at that time; the segment follows; sends go out
    assert confirmed.status_code == 200 and b"Subscription confirmed" in confirmed.content
    assert status_of(contact, digest) == ("subscribed", NOW)
    assert in_segment(segment, contact)
    assert send_with_topic(contact, "digest").status == "queued"
    item = {s["key"]: s for s in api.get(url).json()["subscriptions"]}["digest"]
    assert (item["status"], item["confirmed_at"]) == ("subscribed", "2026-11-24T09:00:00Z")


def test_following_the_link_again_is_harmless(contact, digest):
    contact_subscriptions_set(
        contact_id=contact.pk, statuses={"digest": "subscribed"}, source="api", now=NOW
    )
    path = f"/c/{subscription_confirm_token(contact_id=contact.pk, topic_key='digest')}"
    client = Client()
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        client.post(path)
    with time_machine.travel(NOW + dt.timedelta(days=3), tick=False):
        again = client.post(path)
        shown = client.get(path)

    assert b"Subscription confirmed" in again.content and b"Subscription confirmed" in shown.content
    assert status_of(contact, digest) == ("subscribed", NOW + dt.timedelta(minutes=5))


def test_the_link_does_not_undo_a_later_opt_out(contact, digest):
    contact_subscriptions_set(
        contact_id=contact.pk, statuses={"digest": "subscribed"}, source="api", now=NOW
    )
    contact_subscriptions_set(
        contact_id=contact.pk, statuses={"digest": "unsubscribed"}, source="api", now=NOW
    )

    path = f"/c/{subscription_confirm_token(contact_id=contact.pk, topic_key='digest')}"
    response = Client().post(path)

    assert response.status_code == 200 and b"Nothing to confirm" in response.content
    assert status_of(contact, digest)[0] == "unsubscribed"


def swapped_payload(token: str, payload: str) -> str:
    """Another contact id and topic under the original signature."""
    signature = token.rpartition(":")[2]
    return f"{base64.urlsafe_b64encode(payload.encode()).decode().rstrip('=')}:{signature}"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token, other: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token, other: swapped_payload(token, f'[{other},"digest"]'),
        lambda token, other: "not-a-token",
        lambda token, other: token + "x" * 600,
    ],
)
def test_a_tampered_link_is_a_404_and_changes_nothing(contact, digest, mangle):
    contact_subscriptions_set(
        contact_id=contact.pk, statuses={"digest": "subscribed"}, source="api", now=NOW
    )
    other = ContactFactory()  # a real contact: only the signature can refuse its id
    contact_subscriptions_set(
        contact_id=other.pk, statuses={"digest": "subscribed"}, source="api", now=NOW
    )
    token = mangle(subscription_confirm_token(contact_id=contact.pk, topic_key="digest"), other.pk)

    client = Client()
    assert client.get(f"/c/{token}").status_code == 404
    assert client.post(f"/c/{token}").status_code == 404
    assert status_of(contact, digest)[0] == "pending"
    assert status_of(other, digest)[0] == "pending"


def test_a_token_of_another_purpose_or_a_gone_contact_is_a_404(contact, digest):
    from automation.tokens import preferences_token

    other = preferences_token(contact_id=contact.pk, message_id=None)
    gone = subscription_confirm_token(contact_id=contact.pk + 1000, topic_key="digest")
    no_topic = subscription_confirm_token(contact_id=contact.pk, topic_key="nope")

    for token in (other, gone, no_topic):
        assert Client().get(f"/c/{token}").status_code == 404


def test_asking_again_while_pending_resends_at_most_every_ten_minutes(
    contact, digest, django_capture_on_commit_callbacks
):
    def ask(at):
        with django_capture_on_commit_callbacks(execute=True):
            contact_subscriptions_set(
                contact_id=contact.pk, statuses={"digest": "subscribed"}, source="api", now=at
            )

    ask(NOW)
    ask(NOW + dt.timedelta(minutes=5))
    assert len(mail.outbox) == 1
    ask(NOW + dt.timedelta(minutes=16))
    assert len(mail.outbox) == 2
    assert status_of(contact, digest) == ("pending", None)


def test_no_email_once_the_request_is_withdrawn_before_the_task_runs(
    contact, digest, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        contact_subscriptions_set(
            contact_id=contact.pk, statuses={"digest": "subscribed"}, source="api", now=NOW
        )
    contact_subscriptions_set(
        contact_id=contact.pk, statuses={"digest": "unsubscribed"}, source="api", now=NOW
    )

    for callback in queued:
        callback()

    assert mail.outbox == []


def test_a_topic_without_double_opt_in_subscribes_at_once(
    contact, django_capture_on_commit_callbacks
):
    news = SubscriptionTopicFactory(key="news", default_opt_in=False)

    with django_capture_on_commit_callbacks(execute=True):
        changed = contact_subscriptions_set(
            contact_id=contact.pk, statuses={"news": "subscribed"}, source="api", now=NOW
        )

    assert changed == ["news"]
    assert status_of(contact, news) == ("subscribed", None)
    assert mail.outbox == []


@pytest.mark.parametrize("email_status", ["bounced", "complained"])
def test_a_suppressed_address_gets_no_confirmation_email(
    digest, email_status, django_capture_on_commit_callbacks
):
    contact = ContactFactory(email="gone@example.com", email_status=email_status)

    with django_capture_on_commit_callbacks(execute=True):
        contact_subscriptions_set(
            contact_id=contact.pk, statuses={"digest": "subscribed"}, source="api", now=NOW
        )

    assert status_of(contact, digest) == ("pending", None)
    assert mail.outbox == []
