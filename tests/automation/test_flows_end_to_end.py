"""The abandoned-cart journey end to end on PostgreSQL, Redis, a real Celery worker and a real
SMTP server: an event posted through the API enrolls the contact, the wait runs out, and the
email listing the cart's items arrives; a purchase before the wait ends exits the journey and
nothing is sent."""

import time

import pytest

from automation.models import Enrollment, EnrollmentState, Message
from tests.automation.conftest import beat_ticks, flow_activated
from tests.factories import EmailTemplateFactory

pytestmark = [pytest.mark.integration, pytest.mark.postgresql]

WAIT_SECONDS = 3
TIMEOUT = 60.0
CART = {
    "cart_id": "c-42",
    "items": [
        {"name": "Trail running shoes", "price": 129.0, "quantity": 1},
        {"name": "Wool hiking socks", "price": 19.9, "quantity": 3},
    ],
}


def _abandoned_cart_flow():
    template = EmailTemplateFactory(
        name="Abandoned cart",
        subject="You left {{ event.properties['items'] | length }} items in your cart",
        html=(
            "<p>Hi {{ contact.first_name | default('there') }},</p><ul>"
            "{% for item in event.properties['items'] %}"
            "<li>{{ item.name }} x{{ item.quantity }}: {{ '%.2f' | format(item.price) }}</li>"
            "{% endfor %}</ul>"
        ),
    )
    return flow_activated(
        name="Abandoned cart",
        definition={
            "trigger": {"type": "event", "event": "cart.updated"},
            "reentry": "always",
            "exit_when": {"type": "event", "event": "purchase", "op": "performed"},
            "steps": [
                {"id": "wait", "type": "wait", "duration": {"seconds": WAIT_SECONDS}},
                {"id": "remind", "type": "send_email", "template": template.pk},
            ],
        },
    )


def _post_event(api, email: str, name: str, properties: dict | None = None) -> None:
    body = {"email": email, "name": name, "properties": properties or {}}
    response = api.post("/api/v1/events", body, format="json")
    assert response.status_code == 202, response.content


def _enrollment_of(flow, email: str) -> Enrollment | None:
    return Enrollment.objects.filter(flow=flow, contact__email=email).first()


def _wait_for(condition, *, what: str, worker) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out waiting for {what}:\n{worker.log()[-3000:]}")
        time.sleep(0.1)


def test_an_abandoned_cart_gets_the_email_listing_its_items(api, flow_worker, smtp_sink):
    # given the abandoned-cart flow, active, and a worker sending to the SMTP server
    flow = _abandoned_cart_flow()
    flow_worker.start()

    with beat_ticks():
        # when a cart is updated and left alone
        _post_event(api, "ada@example.com", "cart.updated", CART)
        _wait_for(
            lambda: _enrollment_of(flow, "ada@example.com") is not None,
            what="the enrollment",
            worker=flow_worker,
        )
        posted = time.monotonic()
        [received] = smtp_sink.wait_for(1, timeout=TIMEOUT)
        waited = time.monotonic() - posted

    # then, once the wait ran out, the email with the cart's items arrived
    assert waited >= WAIT_SECONDS - 1
    assert received.rcpt_tos == ("ada@example.com",)
    assert received.message["Subject"] == "You left 2 items in your cart"
    html = received.message.get_body(preferencelist=("html",)).get_content()
    assert "Trail running shoes x1: 129.00" in html
    assert "Wool hiking socks x3: 19.90" in html
    # and the journey completed, its message logged as sent
    _wait_for(
        lambda: _enrollment_of(flow, "ada@example.com").state == EnrollmentState.COMPLETED,
        what="the journey to complete",
        worker=flow_worker,
    )
    assert Message.objects.get(flow=flow).status == "sent"


def test_a_purchase_before_the_wait_ends_exits_and_sends_nothing(api, flow_worker, smtp_sink):
    # given the abandoned-cart flow and a contact whose cart is waiting
    flow = _abandoned_cart_flow()
    flow_worker.start()
    with beat_ticks():
        _post_event(api, "grace@example.com", "cart.updated", CART)
        _wait_for(
            lambda: _enrollment_of(flow, "grace@example.com") is not None,
            what="the enrollment",
            worker=flow_worker,
        )

        # when the contact buys before the wait ends
        _post_event(api, "grace@example.com", "purchase", {"cart_id": "c-42"})

        # then the journey exits
        _wait_for(
            lambda: _enrollment_of(flow, "grace@example.com").state == EnrollmentState.EXITED,
            what="the exit",
            worker=flow_worker,
        )
        # and past the end of the wait nothing was sent
        time.sleep(WAIT_SECONDS + 1)
    assert smtp_sink.count() == 0
    assert not Message.objects.filter(flow=flow).exists()
