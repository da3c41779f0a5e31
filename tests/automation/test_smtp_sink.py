"""The SMTP sink the flow tests send to: Django's SMTP backend really delivers to it."""

import time

from django.core import mail

from tests.smtp_sink import SmtpSink, messages_read


def test_django_smtp_backend_delivers_to_the_sink(smtp_settings):
    # given Django's SMTP backend pointed at the sink
    sink = smtp_settings
    message = mail.EmailMultiAlternatives(
        subject="Your cart",
        body="Plain text",
        from_email="shop@example.com",
        to=["ada@example.com"],
    )
    message.attach_alternative("<p>HTML</p>", "text/html")

    # when a message is sent
    sent = mail.get_connection().send_messages([message])

    # then the sink holds it, parsed, with its envelope
    assert sent == 1
    [received] = sink.wait_for(1, timeout=5)
    assert received.rcpt_tos == ("ada@example.com",)
    assert received.mail_from == "shop@example.com"
    assert received.message["Subject"] == "Your cart"
    assert received.message_id.startswith("<") and "@" in received.message_id
    html = received.message.get_body(preferencelist=("html",)).get_content()
    assert "<p>HTML</p>" in html


def test_the_sink_appends_each_message_to_its_log_for_other_processes(smtp_settings):
    sink = smtp_settings
    connection = mail.get_connection()
    messages = [
        mail.EmailMessage(subject=f"n{i}", body="x", to=[f"c{i}@example.com"]) for i in range(3)
    ]

    connection.send_messages(messages)

    sink.wait_for(3, timeout=5)
    logged = messages_read(sink.log_path)
    assert [m.rcpt_tos for m in logged] == [(f"c{i}@example.com",) for i in range(3)]
    assert [m.message["Subject"] for m in logged] == ["n0", "n1", "n2"]


def test_a_delayed_sink_holds_each_answer():
    sink = SmtpSink(delay_seconds=0.3).start()
    try:
        connection = mail.get_connection(
            "django.core.mail.backends.smtp.EmailBackend", host=sink.host, port=sink.port
        )
        messages = [mail.EmailMessage(subject="s", body="x", to=["a@example.com"])] * 2
        started = time.monotonic()

        connection.send_messages(messages)

        assert time.monotonic() - started >= 0.6
        assert sink.count() == 2
    finally:
        sink.stop()
