"""Open and click tracking along a recipient's path: a message prepared and delivered (locmem
backend), its sent HTML parsed, the pixel and the links followed with the test client."""

import datetime as dt
import email
import email.policy
from html.parser import HTMLParser

import pytest
import time_machine
from django.core import mail, signing
from django.test import Client

from automation.engine import enrollments_advance
from automation.models import Message
from automation.sending import message_prepare, message_send_test, messages_deliver
from automation.tokens import CLICK_SALT, click_token, open_token
from contacts.models import Event
from tests.automation.engine_helpers import enroll, flow_version
from tests.factories import ContactFactory, EmailTemplateFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 28, 9, 10, tzinfo=dt.UTC)
SHOP = "https://shop.example.com/cart?id=7&utm_source=email"
BODY = (
    "<html><body><p>Hi {{ contact.first_name }}</p>"
    '<p><a href="https://shop.example.com/cart?id=7&amp;utm_source=email">Your cart</a></p>'
    "<p><a class=\"btn\" href='https://blog.example.com/'>Blog</a></p>"
    '<p><a href="mailto:help@shop.io">Mail us</a> <a href="tel:+3312345">Call</a> '
    '<a href="#top">Top</a> <a data-segflow-notrack href="https://private.example.com/">P</a></p>'
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> '
    '<a href="{{ preferences_url }}">Preferences</a></p>'
    "</body></html>"
)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and "href" in attrs:
            self.hrefs.append(attrs["href"])
        if tag == "img":
            self.images.append(attrs["src"])


def sent_html() -> str:
    """The HTML part of the one email the backend received, as a mail client reads it."""
    assert len(mail.outbox) == 1
    raw = email.message_from_bytes(mail.outbox[0].message().as_bytes(), policy=email.policy.default)
    return raw.get_body(("html",)).get_content()


def links_of(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def path_of(url: str) -> str:
    return url.removeprefix("http://127.0.0.1:8000")


def sent(*, contact=None, **template_fields) -> Message:
    template = EmailTemplateFactory(html=BODY, **template_fields)
    contact = contact or ContactFactory(first_name="Ada", email="ada@example.com")
    enrollment = EnrollmentFactory(contact=contact)
    step = {"id": "mail-1", "type": "send_email", "template": template.pk}
    message = message_prepare(enrollment=enrollment, step=step, now=NOW)
    messages_deliver(messages=[message], now=NOW)
    message.refresh_from_db()
    assert message.status == "sent"
    return message


def events(name: str) -> list[Event]:
    return list(Event.objects.filter(name=name).order_by("id"))


@pytest.fixture
def client():
    return Client()


def test_a_click_from_the_sent_email_records_the_event_and_redirects_to_the_url(client):
    message = sent()
    links = links_of(sent_html())
    wrapped = [h for h in links.hrefs if "/t/c/" in h]
    assert len(wrapped) == 2  # the cart and the blog

    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        response = client.get(path_of(wrapped[0]))

    assert response.status_code == 302
    assert response["Location"] == SHOP  # the link as the browser read it (&amp; decoded)
    assert "no-store" in response["Cache-Control"]
    [clicked] = events("email.clicked")
    assert clicked.contact_id == message.contact_id
    assert clicked.source == "segflow"
    assert clicked.occurred_at == NOW + dt.timedelta(minutes=5)
    assert clicked.properties == {
        "message_id": message.pk,
        "template_id": message.template_id,
        "flow_id": message.flow_id,
        "step_id": "mail-1",
        "url": SHOP,
    }
    assert client.get(path_of(wrapped[1]))["Location"] == "https://blog.example.com/"
    assert len(events("email.clicked")) == 2


def test_the_pixel_records_one_open_per_message_per_hour(client):
    message = sent()
    [pixel] = [src for src in links_of(sent_html()).images if "/t/o/" in src]

    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        first = client.get(path_of(pixel))
    with time_machine.travel(NOW + dt.timedelta(minutes=40), tick=False):
        again = client.get(path_of(pixel))  # a mail proxy's prefetch, then the reader
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        later = client.get(path_of(pixel))

    for response in (first, again, later):
        assert response.status_code == 200
        assert response["Content-Type"] == "image/gif"
        assert response.content.startswith(b"GIF89a")
        assert "no-store" in response["Cache-Control"]
        assert response["Pragma"] == "no-cache"
    opened = events("email.opened")
    assert [e.occurred_at for e in opened] == [
        NOW + dt.timedelta(minutes=1),
        NOW + dt.timedelta(hours=1),
    ]
    assert {e.contact_id for e in opened} == {message.contact_id}
    assert opened[0].properties == {
        "message_id": message.pk,
        "template_id": message.template_id,
        "flow_id": message.flow_id,
        "step_id": "mail-1",
    }


def test_the_pixel_sits_before_the_end_of_the_body_and_the_stored_html_is_what_was_sent():
    message = sent()

    html = sent_html()

    assert message.html.strip() == html.strip()
    assert html.index("/t/o/") < html.index("</body>")


def test_unsubscribe_preferences_mailto_tel_anchor_and_notrack_links_are_not_wrapped():
    message = sent()

    hrefs = links_of(sent_html()).hrefs

    assert "mailto:help@shop.io" in hrefs
    assert "tel:+3312345" in hrefs
    assert "#top" in hrefs
    assert "https://private.example.com/" in hrefs
    unsubscribe = [h for h in hrefs if "/u/" in h]
    preferences = [h for h in hrefs if "/p/" in h]
    assert len(unsubscribe) == len(preferences) == 1
    assert path_of(unsubscribe[0]).startswith("/u/")
    assert Client().get(path_of(unsubscribe[0])).status_code == 200  # still the real page
    assert message.headers["List-Unsubscribe"].startswith(f"<{unsubscribe[0]}>")


def test_tracking_off_sends_the_original_links_and_no_pixel():
    sent(track_opens=False, track_clicks=False)

    html = sent_html()
    links = links_of(html)

    assert "/t/" not in html
    assert "https://shop.example.com/cart?id=7&utm_source=email" in links.hrefs
    assert links.images == []


def test_clicks_off_keeps_links_but_adds_the_pixel():
    sent(track_clicks=False)

    html = sent_html()

    assert "/t/c/" not in html
    assert html.count("/t/o/") == 1


@pytest.mark.parametrize("token", ["garbage", "e30", "WzEsMl0:abc", "x" * 9000])
def test_a_garbage_click_token_is_a_404_and_records_nothing(client, token):
    sent()

    assert client.get(f"/t/c/{token}").status_code == 404
    assert client.get(f"/t/o/{token}").status_code == 404
    assert not Event.objects.filter(name__in=["email.opened", "email.clicked"]).exists()


def test_a_click_token_with_a_changed_url_or_message_is_a_404_and_records_nothing(client):
    message = sent()
    [wrapped, _] = [h for h in links_of(sent_html()).hrefs if "/t/c/" in h]
    token = path_of(wrapped).removeprefix("/t/c/")
    payload, signature = token.rsplit(":", 1)
    other_url = signing.b64_encode(f'[{message.pk},"https://evil.example/"]'.encode()).decode()
    other_message = signing.b64_encode(f'[{message.pk + 1},"{SHOP}"]'.encode()).decode()
    # another salt's valid token for the same message: an open token is no click token
    forged = [
        f"{other_url}:{signature}",
        f"{other_message}:{signature}",
        f"{payload}:{signature[:-2]}xx",
        open_token(message_id=message.pk),
        signing.Signer(salt=CLICK_SALT + ".other").sign_object([message.pk, SHOP]),
        f"{payload}",
    ]

    for token in forged:
        assert client.get(f"/t/c/{token}").status_code == 404, token

    assert not events("email.clicked")
    assert client.get(path_of(wrapped)).status_code == 302  # the real one still works


def test_an_open_token_with_a_changed_message_id_is_a_404_and_records_nothing(client):
    message = sent()
    token = open_token(message_id=message.pk)
    payload, signature = token.rsplit(":", 1)
    changed = signing.b64_encode(str(message.pk + 1).encode()).decode()

    for bad in (f"{changed}:{signature}", "garbage", click_token(message_id=message.pk, url=SHOP)):
        assert client.get(f"/t/o/{bad}").status_code == 404

    assert not events("email.opened")


def test_a_deleted_contacts_pixel_still_answers_and_its_click_still_redirects(client):
    message = sent()
    links = links_of(sent_html())
    [pixel] = [src for src in links.images if "/t/o/" in src]
    click = next(h for h in links.hrefs if "/t/c/" in h)
    message.contact.delete()  # the message log goes with it

    assert client.get(path_of(pixel)).status_code == 200
    assert client.get(path_of(click))["Location"] == SHOP
    assert not Event.objects.filter(name__in=["email.opened", "email.clicked"]).exists()


def test_a_test_send_is_not_tracked():
    template = EmailTemplateFactory(html=BODY)

    message = message_send_test(
        template=template, to_email="me@example.com", contact=ContactFactory(first_name="Ada")
    )

    assert message.status == "sent"
    assert "/t/" not in sent_html()
    assert "https://shop.example.com/cart?id=7&amp;utm_source=email" in message.html


def test_the_events_follow_the_contact_identity_by_external_id(client):
    contact = ContactFactory(external_id="crm-7", email="old@example.com")
    sent(contact=contact)
    contact.email = "new@example.com"
    contact.save()
    click = next(h for h in links_of(sent_html()).hrefs if "/t/c/" in h)

    client.get(path_of(click))

    [clicked] = events("email.clicked")
    assert clicked.contact_id == contact.pk


def test_a_flows_email_opened_and_clicked_leaves_both_events_naming_the_flow_and_step(client):
    # given: a flow whose first step sends the email, run by the engine
    template = EmailTemplateFactory(html=BODY)
    version = flow_version([{"id": "welcome", "type": "send_email", "template": template.pk}])
    contact = ContactFactory(first_name="Ada", email="ada@example.com")
    enrollment = enroll(version, contact, now=NOW)
    enrollments_advance(enrollments=[enrollment], now=NOW)
    message = Message.objects.get(enrollment=enrollment)
    links = links_of(sent_html())

    # when: the recipient opens it and clicks the cart link
    with time_machine.travel(NOW + dt.timedelta(minutes=3), tick=False):
        client.get(path_of(next(src for src in links.images if "/t/o/" in src)))
        response = client.get(path_of(next(h for h in links.hrefs if "/t/c/" in h)))

    # then
    assert response["Location"] == SHOP
    expected = {
        "message_id": message.pk,
        "template_id": template.pk,
        "flow_id": version.flow_id,
        "step_id": "welcome",
    }
    [opened] = events("email.opened")
    [clicked] = events("email.clicked")
    assert (opened.contact_id, opened.properties) == (contact.pk, expected)
    assert (clicked.contact_id, clicked.properties) == (contact.pk, {**expected, "url": SHOP})
