import datetime as dt
import email
import email.policy
import threading

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection, transaction
from django.test import override_settings

from automation import sending
from automation.message_rows import messages_handoff_claim
from automation.models import Message
from automation.sending import (
    enrollment_message_key,
    message_mark_unknown,
    message_prepare,
    message_send_test,
    messages_deliver,
    messages_prepare,
)
from automation.tokens import unsubscribe_token_read
from contacts.models import Contact, Event
from tests.factories import (
    ContactFactory,
    ContactSubscriptionFactory,
    EmailTemplateFactory,
    EnrollmentFactory,
    EventFactory,
    MessageFactory,
    SubscriptionTopicFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


def send_step(template, *, step_id="mail-1", topic=None) -> dict:
    step = {"id": step_id, "type": "send_email", "template": template.pk}
    if topic:
        step["topic"] = topic
    return step


def prepared(*, contact=None, template=None, holdout=False, topic=None, **enrollment) -> Message:
    template = template or EmailTemplateFactory()
    enrollment = EnrollmentFactory(
        contact=contact or ContactFactory(first_name="Ada"), holdout=holdout, **enrollment
    )
    return message_prepare(enrollment=enrollment, step=send_step(template, topic=topic), now=NOW)


class FailingForSomeBackend(LocmemBackend):
    """Refuses mail to addresses starting with "fail" (a provider rejecting one message)."""

    def send_messages(self, messages):
        if any(m.to[0].startswith("fail") for m in messages):
            raise ConnectionResetError("the server hung up")
        return super().send_messages(messages)


# --- message_prepare -------------------------------------------------------------------------


def test_prepare_renders_a_sending_message_with_its_key_addresses_and_content():
    template = EmailTemplateFactory(
        subject="Hi {{ contact.first_name }}",
        html="<p>Cart: {{ event.properties.total }}</p>",
        track_opens=False,  # tracking: tests/automation/test_tracking*.py
    )
    contact = ContactFactory(first_name="Ada", email="ada@example.com")
    event = EventFactory(contact=contact, name="cart.updated", properties={"total": 42})
    enrollment = EnrollmentFactory(contact=contact, trigger_event=event)

    message = message_prepare(enrollment=enrollment, step=send_step(template), now=NOW)

    message.refresh_from_db()
    assert message.status == "queued"
    assert message.idempotency_key == f"enrollment:{enrollment.pk}:mail-1"
    assert (message.to_email, message.subject) == ("ada@example.com", "Hi Ada")
    assert message.html == "<p>Cart: 42</p>"
    assert message.text == "Cart: 42\n"
    assert (message.flow_id, message.enrollment_id, message.step_id) == (
        enrollment.flow_id,
        enrollment.pk,
        "mail-1",
    )
    assert message.created_at == NOW


@override_settings(SITE_URL="https://mail.example.com", DEFAULT_FROM_EMAIL="News <news@shop.io>")
def test_marketing_message_has_one_click_unsubscribe_headers_and_our_message_id():
    message = prepared()

    headers = message.headers
    assert headers["Message-ID"].endswith("@shop.io>")
    assert f"segflow.{message.pk}" in headers["Message-ID"]
    url, mailto = headers["List-Unsubscribe"].split(", ")
    assert url.startswith("<https://mail.example.com/u/") and url.endswith(">")
    assert mailto == "<mailto:news@shop.io?subject=unsubscribe>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = unsubscribe_token_read(url[1:-1].rsplit("/", 1)[1])
    assert (token.contact_id, token.message_id) == (message.contact_id, message.pk)


def test_transactional_message_has_no_list_unsubscribe_headers():
    message = prepared(template=EmailTemplateFactory(transactional=True))

    assert set(message.headers) == {"Message-ID"}


def test_unsubscribe_url_in_the_body_is_signed_for_the_message():
    message = prepared(
        template=EmailTemplateFactory(html="{{ unsubscribe_url }}", track_opens=False)
    )

    token = unsubscribe_token_read(message.html.rsplit("/", 1)[1])
    assert (token.contact_id, token.message_id) == (message.contact_id, message.pk)


def test_prepare_twice_returns_the_same_row_unchanged():
    template = EmailTemplateFactory(subject="First")
    enrollment = EnrollmentFactory()
    first = message_prepare(enrollment=enrollment, step=send_step(template), now=NOW)
    template.subject = "Second"
    template.save()

    again = message_prepare(enrollment=enrollment, step=send_step(template), now=NOW)

    assert again.pk == first.pk
    assert again.subject == "First"
    assert Message.objects.count() == 1


def test_holdout_is_skipped_first():
    message = prepared(holdout=True, contact=ContactFactory(email=None, external_id="x1"))

    assert (message.status, message.reason) == ("skipped", "holdout")


def test_holdout_comes_before_a_deleted_template():
    template = EmailTemplateFactory()
    enrollment = EnrollmentFactory(holdout=True)
    step = send_step(template)
    template.delete()

    message = message_prepare(enrollment=enrollment, step=step, now=NOW)

    assert (message.status, message.reason) == ("skipped", "holdout")


def test_contact_without_email_is_skipped():
    message = prepared(contact=ContactFactory(email=None, external_id="x1"))

    assert (message.status, message.reason) == ("skipped", "missing_email")


@pytest.mark.parametrize("status", ["unsubscribed", "bounced", "complained"])
def test_suppressed_email_status_is_skipped_with_it_as_reason(status):
    message = prepared(contact=ContactFactory(email_status=status))

    assert (message.status, message.reason) == ("skipped", status)
    assert message.html == ""


def test_transactional_template_reaches_an_unsubscribed_contact():
    message = prepared(
        contact=ContactFactory(email_status="unsubscribed"),
        template=EmailTemplateFactory(transactional=True),
    )

    assert message.status == "queued"


@pytest.mark.parametrize("status", ["bounced", "complained"])
def test_transactional_template_does_not_reach_a_bounced_or_complained_contact(status):
    message = prepared(
        contact=ContactFactory(email_status=status),
        template=EmailTemplateFactory(transactional=True),
    )

    assert (message.status, message.reason) == ("skipped", status)


def test_contact_opted_out_of_the_steps_topic_is_skipped():
    contact = ContactFactory()
    topic = SubscriptionTopicFactory(key="news")
    ContactSubscriptionFactory(contact=contact, topic=topic, status="unsubscribed")

    message = prepared(contact=contact, topic="news")

    assert (message.status, message.reason) == ("skipped", "opted_out:news")
    assert message.topic == "news"


def test_topic_default_opt_out_skips_contacts_without_a_choice():
    SubscriptionTopicFactory(key="offers", default_opt_in=False)

    message = prepared(topic="offers")

    assert (message.status, message.reason) == ("skipped", "opted_out:offers")


def test_contact_subscribed_to_an_opt_out_topic_is_sent_to():
    contact = ContactFactory()
    topic = SubscriptionTopicFactory(key="offers", default_opt_in=False)
    ContactSubscriptionFactory(contact=contact, topic=topic, status="subscribed")

    assert prepared(contact=contact, topic="offers").status == "queued"


def test_transactional_template_ignores_topics():
    contact = ContactFactory()
    topic = SubscriptionTopicFactory(key="news")
    ContactSubscriptionFactory(contact=contact, topic=topic, status="unsubscribed")

    message = prepared(
        contact=contact, topic="news", template=EmailTemplateFactory(transactional=True)
    )

    assert message.status == "queued"


def test_template_error_fails_the_message_with_its_reason():
    message = prepared(template=EmailTemplateFactory(html="<p>\n{{ contact.frist_name }}</p>"))

    message.refresh_from_db()
    assert message.status == "failed"
    assert message.reason == (
        "template error: 'contact' has no attribute 'frist_name' (html, line 2)"
    )


def test_deleted_template_fails_the_message():
    template = EmailTemplateFactory()
    enrollment = EnrollmentFactory()
    step = send_step(template)
    template.delete()

    message = message_prepare(enrollment=enrollment, step=step, now=NOW)

    assert message.status == "failed"
    assert "is gone" in message.reason


# --- messages_prepare (a batch) --------------------------------------------------------------


def enrollments_with_events(count: int, **contact) -> list:
    """`count` enrollments of one flow version, each with its contact (tagged) and event."""
    first = EnrollmentFactory(contact=ContactFactory(**contact))
    enrollments = [first] + [
        EnrollmentFactory(version=first.version, contact=ContactFactory(**contact))
        for _ in range(count - 1)
    ]
    for enrollment in enrollments:
        enrollment.contact.tags.create(name=f"tag-{enrollment.contact_id}")
        enrollment.trigger_event = EventFactory(contact=enrollment.contact, properties={"n": 1})
    return enrollments


def test_prepare_batch_returns_one_message_per_item_in_order_and_replays_existing_rows():
    template = EmailTemplateFactory(subject="Hi {{ contact.email }}")
    step = send_step(template)
    enrollments = [EnrollmentFactory() for _ in range(3)]
    earlier = message_prepare(enrollment=enrollments[1], step=step, now=NOW)
    Message.objects.filter(pk=earlier.pk).update(subject="as it was")

    messages = messages_prepare(items=[(e, step) for e in enrollments], now=NOW)

    assert [m.idempotency_key for m in messages] == [
        enrollment_message_key(enrollment_id=e.pk, step_id=step["id"]) for e in enrollments
    ]
    assert (messages[1].pk, messages[1].subject) == (earlier.pk, "as it was")
    assert [m.subject for m in (messages[0], messages[2])] == [
        f"Hi {enrollments[0].contact.email}",
        f"Hi {enrollments[2].contact.email}",
    ]
    assert Message.objects.count() == 3
    assert all(m.pk == Message.objects.get(idempotency_key=m.idempotency_key).pk for m in messages)


def test_prepare_batch_decides_each_item_as_alone():
    news = SubscriptionTopicFactory(key="news", default_opt_in=True)
    news_out, news_in = ContactFactory(fields={"plan": "pro"}), ContactFactory(fields={"plan": "a"})
    ContactSubscriptionFactory(contact=news_out, topic=news, status="unsubscribed")
    ContactSubscriptionFactory(contact=news_in, topic=news, status="subscribed")
    template = EmailTemplateFactory(html="<p>{{ contact.fields.plan }}</p>")
    cases = {
        "holdout": EnrollmentFactory(holdout=True),
        "missing_email": EnrollmentFactory(contact=ContactFactory(email=None, external_id="x9")),
        "bounced": EnrollmentFactory(contact=ContactFactory(email_status="bounced")),
        "opted_out": EnrollmentFactory(contact=news_out),
        "subscribed": EnrollmentFactory(contact=news_in),
        "failed": EnrollmentFactory(contact=ContactFactory(fields={})),
        "default": EnrollmentFactory(contact=ContactFactory(fields={"plan": "team"})),
    }
    step = send_step(template, topic="news")

    messages = messages_prepare(items=[(e, step) for e in cases.values()], now=NOW)

    outcome = {case: (m.status, m.reason) for case, m in zip(cases, messages, strict=True)}
    assert outcome["holdout"] == ("skipped", "holdout")
    assert outcome["missing_email"] == ("skipped", "missing_email")
    assert outcome["bounced"] == ("skipped", "bounced")
    assert outcome["opted_out"] == ("skipped", "opted_out:news")
    assert outcome["subscribed"] == ("queued", "")
    assert outcome["failed"][0] == "failed"
    assert "'contact.fields' has no attribute 'plan'" in outcome["failed"][1]
    assert outcome["default"] == ("queued", "")  # no choice of its own: the topic's default
    stored = dict(Message.objects.values_list("pk", "status"))
    assert stored == {m.pk: m.status for m in messages}


def test_a_subject_too_long_to_store_fails_that_message_only():
    template = EmailTemplateFactory(subject="{{ contact.first_name * 600 }}")
    long, short = ContactFactory(first_name="ab"), ContactFactory(first_name="a")
    step = send_step(template)

    messages = messages_prepare(
        items=[(EnrollmentFactory(contact=c), step) for c in (long, short)], now=NOW
    )

    assert [m.status for m in messages] == ["failed", "queued"]
    assert messages[0].reason == "template error: longer than 1000 characters (subject)"
    assert len(Message.objects.get(pk=messages[1].pk).subject) == 600


def test_prepare_batch_with_a_key_twice_makes_one_message():
    enrollment = EnrollmentFactory()
    step = send_step(EmailTemplateFactory())

    first, second = messages_prepare(items=[(enrollment, step), (enrollment, step)], now=NOW)

    assert first is second
    assert Message.objects.count() == 1


# The claim, then one transaction (a savepoint here, inside the test's): the sent update,
# the contacts' identities, the email.sent ingest in a savepoint of its own (its own
# savepoint, contacts resolved, constraints, events inserted, segments' pending change,
# releases).
DELIVER_QUERIES = 13

# Existing keys, contacts, templates, topic choices, ids from the sequence, tags, trigger
# events, the insert (the flows come attached to the enrollments, as the engine gives them).
PREPARE_QUERIES = 8


@pytest.mark.postgresql
@pytest.mark.parametrize("size", [5, 50])
def test_prepare_batch_costs_the_same_queries_whatever_its_size(size, django_assert_num_queries):
    SubscriptionTopicFactory(key="news")
    enrollments = enrollments_with_events(size)
    template = EmailTemplateFactory(html="{{ contact.tags | join(',') }} {{ event.properties.n }}")
    step = send_step(template, topic="news")

    with django_assert_num_queries(PREPARE_QUERIES):
        messages = messages_prepare(items=[(e, step) for e in enrollments], now=NOW)

    assert [m.status for m in messages] == ["queued"] * size
    assert messages[0].html.startswith(f"tag-{enrollments[0].contact_id} 1")


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_prepare_a_key_written_by_another_transaction_meanwhile_returns_that_row():
    enrollment = EnrollmentFactory()
    step = send_step(EmailTemplateFactory(subject="Mine"))
    key = enrollment_message_key(enrollment_id=enrollment.pk, step_id=step["id"])
    written, release = threading.Event(), threading.Event()

    def other_worker():
        try:
            with transaction.atomic():
                MessageFactory(idempotency_key=key, subject="Theirs", contact=enrollment.contact)
                written.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    written.wait(10)
    # The insert waits for the other transaction's key, which commits meanwhile.
    threading.Timer(0.5, release.set).start()
    with transaction.atomic():
        message = messages_prepare(items=[(enrollment, step)], now=NOW)[0]
    thread.join(10)

    assert message.subject == "Theirs"
    assert Message.objects.get().pk == message.pk


# --- messages_deliver ------------------------------------------------------------------------


def test_deliver_sends_multipart_text_and_html_with_the_logged_headers():
    message = prepared(template=EmailTemplateFactory(html="<p>Hello</p>", track_opens=False))

    messages_deliver(messages=[message], now=NOW)

    assert len(mail.outbox) == 1
    raw = email.message_from_bytes(mail.outbox[0].message().as_bytes(), policy=email.policy.default)
    assert raw["Message-ID"] == message.headers["Message-ID"]
    # folded over lines (RFC 5322 folding whitespace), the same value
    assert " ".join(raw["List-Unsubscribe"].split()) == message.headers["List-Unsubscribe"]
    assert raw["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert raw.get_content_type() == "multipart/alternative"
    assert raw.get_body(("plain",)).get_content().strip() == "Hello"
    assert raw.get_body(("html",)).get_content().strip() == "<p>Hello</p>"
    message.refresh_from_db()
    assert (message.status, message.sent_at) == ("sent", NOW)


def test_deliver_records_one_email_sent_event_per_message():
    message = prepared()

    messages_deliver(messages=[message], now=NOW)

    event = Event.objects.get(name="email.sent")
    assert event.contact_id == message.contact_id
    assert event.source == "segflow"
    assert event.idempotency_key == f"message:{message.pk}"
    assert event.properties == {
        "message_id": message.pk,
        "template_id": message.template_id,
        "flow_id": message.flow_id,
        "step_id": "mail-1",
    }


def test_a_database_error_recording_email_sent_keeps_the_outcomes_and_the_next_claim(
    monkeypatch,
):
    def failing_ingest(**kwargs):
        with connection.cursor() as cursor:  # aborts the transaction unless in a savepoint
            cursor.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(sending, "events_ingest", failing_ingest)
    monkeypatch.setattr(sending, "HANDOFF_CHUNK", 2)
    messages = [prepared() for _ in range(3)]

    messages_deliver(messages=messages, now=NOW)

    assert len(mail.outbox) == 3
    assert list(Message.objects.values_list("status", flat=True)) == ["sent"] * 3
    assert not Event.objects.filter(name="email.sent").exists()


def test_the_email_sent_event_lands_on_the_contact_whose_email_changed_meanwhile():
    contact = ContactFactory(email="old@example.com")
    message = prepared(contact=contact)
    Contact.objects.filter(pk=contact.pk).update(email="new@example.com")

    messages_deliver(messages=[message], now=NOW)

    assert Event.objects.get(name="email.sent").contact_id == contact.pk
    assert not Contact.objects.filter(email="old@example.com").exists()


@pytest.mark.postgresql
@pytest.mark.parametrize("size", [5, 50])
def test_deliver_costs_the_same_queries_whatever_its_size(size, django_assert_num_queries):
    step = send_step(EmailTemplateFactory())
    messages = messages_prepare(items=[(e, step) for e in enrollments_with_events(size)], now=NOW)
    # a first delivery: the flows' event receiver caches the event-triggered versions
    messages_deliver(messages=[prepared()], now=NOW)

    with django_assert_num_queries(DELIVER_QUERIES):
        messages_deliver(messages=messages, now=NOW)

    assert len(mail.outbox) == size + 1
    assert Message.objects.filter(status="sent").count() == size + 1


class CountingSentBackend(LocmemBackend):
    """Notes, before each send, how many messages the database already holds as sent."""

    sent_before: list[int] = []

    def send_messages(self, messages):
        self.sent_before.append(Message.objects.filter(status="sent").count())
        return super().send_messages(messages)


@override_settings(EMAIL_BACKEND="tests.automation.test_sending.CountingSentBackend")
def test_deliver_writes_each_chunks_outcomes_before_the_next_chunk(monkeypatch):
    monkeypatch.setattr(sending, "HANDOFF_CHUNK", 2)
    monkeypatch.setattr(CountingSentBackend, "sent_before", [])
    messages = [prepared() for _ in range(5)]

    messages_deliver(messages=messages, now=NOW)

    # a process killed before a send leaves at most its chunk "sending"
    assert CountingSentBackend.sent_before == [0, 0, 2, 2, 4]
    assert Message.objects.filter(status="sent").count() == 5
    assert Event.objects.filter(name="email.sent").count() == 5


class StatusesSeenBackend(LocmemBackend):
    """Notes, at each send, how many messages are "queued" and how many "sending"."""

    seen: list[tuple[int, int]] = []

    def send_messages(self, messages):
        statuses = Message.objects.values_list("status", flat=True)
        self.seen.append((list(statuses).count("queued"), list(statuses).count("sending")))
        return super().send_messages(messages)


@override_settings(EMAIL_BACKEND="tests.automation.test_sending.StatusesSeenBackend")
def test_only_the_chunk_being_handed_off_is_sending_the_rest_stays_queued(monkeypatch):
    monkeypatch.setattr(sending, "HANDOFF_CHUNK", 2)
    monkeypatch.setattr(StatusesSeenBackend, "seen", [])
    messages = [prepared() for _ in range(5)]

    messages_deliver(messages=messages, now=NOW)

    # (queued, sending) at each hand-off: a crash leaves the queued ones sendable later
    assert StatusesSeenBackend.seen == [(3, 2), (3, 2), (1, 2), (1, 2), (0, 1)]


def test_a_message_another_worker_took_is_not_sent_again():
    message = prepared()
    assert [m.pk for m in messages_handoff_claim([message])] == [message.pk]
    stale_copy = Message.objects.get(pk=message.pk)
    stale_copy.status = "queued"  # what a second worker still holds

    messages_deliver(messages=[stale_copy], now=NOW)

    assert mail.outbox == []
    assert Message.objects.get(pk=message.pk).status == "sending"


def test_deliver_flushes_after_flush_seconds_too(monkeypatch):
    monkeypatch.setattr(sending, "FLUSH_SECONDS", 0)
    messages = [prepared() for _ in range(3)]

    messages_deliver(messages=messages, now=NOW)

    assert Message.objects.filter(status="sent").count() == 3
    assert Event.objects.filter(name="email.sent").count() == 3


def test_deliver_twice_sends_once():
    message = prepared()
    stale_copy = Message.objects.get(pk=message.pk)

    messages_deliver(messages=[message], now=NOW)
    messages_deliver(messages=[stale_copy], now=NOW)

    assert len(mail.outbox) == 1
    assert Event.objects.filter(name="email.sent").count() == 1


@pytest.mark.parametrize("status", ["skipped", "failed", "unknown", "sent", "sending"])
def test_deliver_never_hands_over_a_message_that_is_not_queued(status):
    message = prepared()
    Message.objects.filter(pk=message.pk).update(status=status)

    messages_deliver(messages=[message], now=NOW)

    assert mail.outbox == []


@override_settings(EMAIL_BACKEND="tests.automation.test_sending.FailingForSomeBackend")
def test_a_backend_error_fails_that_message_and_the_others_are_sent():
    first = prepared(contact=ContactFactory(email="a@example.com"))
    failing = prepared(contact=ContactFactory(email="fail@example.com"))
    last = prepared(contact=ContactFactory(email="z@example.com"))

    messages_deliver(messages=[first, failing, last], now=NOW)

    statuses = dict(Message.objects.values_list("to_email", "status"))
    assert statuses == {
        "a@example.com": "sent",
        "fail@example.com": "failed",
        "z@example.com": "sent",
    }
    failing.refresh_from_db()
    assert failing.reason == "ConnectionResetError: the server hung up"
    assert [m.to for m in mail.outbox] == [["a@example.com"], ["z@example.com"]]


@override_settings(EMAIL_BACKEND="anymail.backends.test.EmailBackend")
def test_the_provider_message_id_from_anymail_is_recorded():
    message = prepared()

    messages_deliver(messages=[message], now=NOW)

    message.refresh_from_db()
    assert message.status == "sent"
    assert message.provider_message_id == "0"  # the test backend's id: its outbox index


def test_mark_unknown_settles_a_sending_message_and_leaves_others():
    sending, queued = prepared(), prepared()
    messages_handoff_claim([sending])  # its hand-off began
    sent = MessageFactory(status="sent")

    for message in (sending, queued, sent):
        message_mark_unknown(message=message)

    sending.refresh_from_db()
    queued.refresh_from_db()
    sent.refresh_from_db()
    assert queued.status == "queued"  # never handed off: still to send
    assert sending.status == "unknown"
    assert "not retried" in sending.reason
    assert sent.status == "sent"


def test_an_unknown_message_is_never_delivered():
    message = prepared()
    messages_handoff_claim([message])
    message_mark_unknown(message=Message.objects.get(pk=message.pk))

    messages_deliver(messages=[message], now=NOW)

    assert mail.outbox == []


# --- test sends ------------------------------------------------------------------------------


def test_test_send_to_an_address_is_marked_and_sent_without_an_event():
    template = EmailTemplateFactory(subject="Hi {{ contact.first_name | default('there') }}")

    message = message_send_test(template=template, to_email="qa@example.com")

    message.refresh_from_db()
    assert message.is_test
    assert message.idempotency_key.startswith("test:")
    assert (message.status, message.subject) == ("sent", "[Test] Hi there")
    assert mail.outbox[0].to == ["qa@example.com"]
    assert not Event.objects.filter(name="email.sent").exists()


def test_test_send_renders_for_the_given_contact():
    template = EmailTemplateFactory(subject="Hi {{ contact.first_name }}")
    contact = ContactFactory(first_name="Ada")

    message = message_send_test(template=template, to_email="qa@example.com", contact=contact)

    assert message.subject == "[Test] Hi Ada"
    assert message.contact_id == contact.pk


def test_test_send_with_a_template_error_is_failed_and_not_sent():
    template = EmailTemplateFactory(html="{{ contact.nope }}")

    message = message_send_test(template=template, to_email="qa@example.com")

    assert message.status == "failed"
    assert mail.outbox == []


# --- over real SMTP (an aiosmtpd sink on loopback) -------------------------------------------


def test_deliver_over_smtp_sends_each_message_once_with_headers_and_both_parts(smtp_settings):
    messages = [
        prepared(
            contact=ContactFactory(email=f"r{i}@example.com", first_name=f"R{i}"),
            template=EmailTemplateFactory(
                subject="Hi {{ contact.first_name }}",
                html='<p>Hello {{ contact.first_name }}, <a href="https://x.io">shop</a></p>',
                track_clicks=False,
            ),
        )
        for i in range(3)
    ]

    messages_deliver(messages=messages, now=NOW)
    messages_deliver(messages=messages, now=NOW)  # a replay sends nothing

    received = smtp_settings.wait_for(3, timeout=5)
    assert len(received) == 3
    by_id = {r.message_id: r for r in received}
    for message in messages:
        message.refresh_from_db()
        assert message.status == "sent"
        got = by_id[message.headers["Message-ID"]]
        assert got.rcpt_tos == (message.to_email,)
        parsed = got.message
        assert parsed["Subject"] == message.subject
        assert " ".join(parsed["List-Unsubscribe"].split()) == message.headers["List-Unsubscribe"]
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert parsed.get_content_type() == "multipart/alternative"
        assert "shop (https://x.io)" in parsed.get_body(("plain",)).get_content()
        assert 'href="https://x.io"' in parsed.get_body(("html",)).get_content()
    assert smtp_settings.count() == 3


def test_deliver_to_an_unreachable_smtp_server_fails_the_batch_with_the_reason(settings):
    from tests.smtp_sink import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    messages = [prepared(), prepared()]

    messages_deliver(messages=messages, now=NOW)

    rows = list(Message.objects.values_list("status", "reason"))
    assert [status for status, _ in rows] == ["failed", "failed"]
    assert all("ConnectionRefusedError" in reason for _, reason in rows)
