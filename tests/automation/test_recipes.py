"""Flow recipes: `install_recipes` creates four validated draft flows with what they need, once."""

import datetime as dt
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.utils import timezone

from automation.flow_services import flow_activate
from automation.models import EmailTemplate, Enrollment, Flow, Message
from automation.recipes import (
    ABANDONED_CART,
    LEAD_SCORE,
    REENGAGEMENT,
    TRIAL_EXPIRY,
    recipes_install,
)
from automation.rendering import render_context, template_preview
from automation.scheduler import scheduler_tick
from automation.triggers import flow_events_process, segment_transitions_consume
from automation.webhooks import webhook_body_render
from contacts.event_input import EventInput
from contacts.field_types import format_datetime
from contacts.ingest import events_ingest
from contacts.models import CustomField
from segments.evaluation import segment_evaluate
from segments.models import Segment
from tests.factories import ContactFactory, CustomFieldFactory, EventFactory, SegmentFactory

pytestmark = pytest.mark.django_db

CART = {
    "items": [
        {"name": "Trail running shoes", "quantity": 1, "price": 89.9},
        {"name": "Merino socks (3-pack)", "quantity": 2, "price": 14.5},
    ],
    "currency": "EUR",
    "cart_url": "https://shop.example.com/cart/abc123",
}


def _flows() -> dict[str, Flow]:
    return {flow.name: flow for flow in Flow.objects.all()}


def test_the_four_recipes_are_installed_as_draft_flows():
    results = recipes_install()

    assert [(r.name, r.created) for r in results] == [
        (TRIAL_EXPIRY, True),
        (REENGAGEMENT, True),
        (ABANDONED_CART, True),
        (LEAD_SCORE, True),
    ]
    assert {flow.status for flow in _flows().values()} == {"draft"}
    assert all(flow.live_version_id is None for flow in _flows().values())


def test_recipes_create_the_fields_segments_and_templates_they_need():
    recipes_install()

    billing_status = CustomField.objects.get(key="billing_status")
    assert billing_status.type == "choice"
    assert billing_status.choices == [
        "trialing",
        "active",
        "past_due",
        "canceled",
        "unpaid",
        "incomplete",
    ]
    assert CustomField.objects.get(key="trial_ends_at").type == "datetime"
    assert set(Segment.objects.values_list("name", flat=True)) == {
        "Trial ends within 1 day",
        "Inactive trial users",
        "Sales-ready leads",
    }
    assert EmailTemplate.objects.count() == 4


def test_installing_again_changes_nothing():
    recipes_install()
    cart = Flow.objects.get(name=ABANDONED_CART)
    cart.definition = {**cart.definition, "holdout_percent": 20}  # the user's edit
    cart.save()
    counts = (Flow.objects.count(), Segment.objects.count(), EmailTemplate.objects.count())

    results = recipes_install()

    assert [r.created for r in results] == [False] * 4
    assert (Flow.objects.count(), Segment.objects.count(), EmailTemplate.objects.count()) == counts
    assert Flow.objects.get(name=ABANDONED_CART).definition["holdout_percent"] == 20


def test_existing_fields_and_segments_are_reused_as_they_are():
    CustomFieldFactory(key="billing_status", type="choice", choices=["trialing", "paying"])
    sales = SegmentFactory(name="Sales-ready leads")

    recipes_install()

    assert CustomField.objects.get(key="billing_status").choices == ["trialing", "paying"]
    trigger = Flow.objects.get(name=LEAD_SCORE).definition["trigger"]
    assert trigger == {"type": "segment_entered", "segment": sales.pk}


def test_the_trial_expiry_recipe_reminds_trialing_contacts_a_day_before():
    recipes_install()

    flow = Flow.objects.get(name=TRIAL_EXPIRY)
    segment = Segment.objects.get(pk=flow.definition["trigger"]["segment"])
    assert segment.name == "Trial ends within 1 day"
    assert segment.conditions["all"][1] == {
        "type": "field",
        "field": "trial_ends_at",
        "op": "within_next",
        "value": {"days": 1},
    }
    [step] = flow.definition["steps"]
    assert step["type"] == "send_email"


def test_the_reengagement_recipe_sends_a_second_email_to_who_did_not_open():
    recipes_install()

    steps = Flow.objects.get(name=REENGAGEMENT).definition["steps"]

    assert [step["type"] for step in steps] == ["send_email", "wait", "branch"]
    assert steps[1]["duration"] == {"days": 3}
    branch = steps[2]
    assert branch["condition"] == {"type": "email", "op": "opened", "within": {"days": 3}}
    assert [step["type"] for step in branch["yes"]] == ["exit"]
    assert [step["type"] for step in branch["no"]] == ["send_email"]
    assert branch["no"][0]["template"] != steps[0]["template"]


def test_the_abandoned_cart_recipe_waits_an_hour_and_exits_on_purchase():
    recipes_install()

    definition = Flow.objects.get(name=ABANDONED_CART).definition

    assert definition["trigger"]["event"] == "cart.updated"
    assert [step["type"] for step in definition["steps"]] == ["wait", "send_email"]
    assert definition["steps"][0]["duration"] == {"hours": 1}
    assert definition["exit_when"]["event"] == "order.completed"
    assert definition["exit_when"]["within"] == {"hours": 2}


def test_the_lead_score_recipe_tags_and_calls_the_configured_webhook(settings):
    settings.SALES_WEBHOOK_URL = "https://hooks.example.org/sales"

    recipes_install()

    definition = Flow.objects.get(name=LEAD_SCORE).definition
    segment = Segment.objects.get(pk=definition["trigger"]["segment"])
    assert segment.conditions == {"type": "field", "field": "lead_score", "op": "gte", "value": 80}
    tag, webhook = definition["steps"]
    assert tag["add"] == ["sales-ready"]
    assert webhook["url"] == "https://hooks.example.org/sales"


def test_the_cart_email_lists_the_items_of_the_event():
    recipes_install()
    template = EmailTemplate.objects.get(name="Recipe: your cart is waiting")
    contact = ContactFactory(first_name="Jane")
    event = EventFactory(contact=contact, name="cart.updated", properties=CART)

    email = template_preview(template=template, contact=contact, event=event)

    assert email.subject == "Jane, you left 2 items in your cart"
    for expected in ("Trail running shoes", "Merino socks (3-pack)", "89.90 EUR", "29.00 EUR"):
        assert expected in email.html and expected in email.text
    assert "118.90 EUR" in email.html and "Total: 118.90 EUR" in email.text
    assert 'href="https://shop.example.com/cart/abc123"' in email.html
    assert "{{" not in email.html + email.text


def test_the_cart_email_uses_the_events_total_and_reads_well_with_one_item():
    recipes_install()
    template = EmailTemplate.objects.get(name="Recipe: your cart is waiting")
    contact = ContactFactory(first_name="")
    properties = {"items": [{"name": "Gift card", "price": 50}], "total": 45}
    event = EventFactory(contact=contact, name="cart.updated", properties=properties)

    email = template_preview(template=template, contact=contact, event=event)

    assert email.subject == "Hi, you left 1 item in your cart"
    assert "Gift card x 1: 50.00" in email.text
    assert "Total: 45.00" in email.text
    assert "Complete your order" not in email.html


@pytest.mark.parametrize(
    "name", ["Recipe: trial ends tomorrow", "Recipe: we miss you", "Recipe: can we help?"]
)
def test_the_other_recipe_emails_render_for_a_contact_without_a_name(name):
    recipes_install()
    contact = ContactFactory(first_name="", fields={})

    email = template_preview(template=EmailTemplate.objects.get(name=name), contact=contact)

    assert "Hi there" in email.html and "Unsubscribe" in email.text


def test_the_command_installs_then_reports_what_is_there():
    first, second = io.StringIO(), io.StringIO()

    call_command("install_recipes", stdout=first)
    call_command("install_recipes", stdout=second)

    assert first.getvalue().count("installed (draft)") == 4
    assert second.getvalue().count("already there") == 4
    assert Flow.objects.count() == 4


def test_the_demo_data_ships_the_recipes_inactive():
    out = io.StringIO()

    call_command("seed_demo", contacts=20, stdout=out)

    assert {flow.name: flow.status for flow in Flow.objects.all()} == {
        TRIAL_EXPIRY: "draft",
        REENGAGEMENT: "draft",
        ABANDONED_CART: "draft",
        LEAD_SCORE: "draft",
    }
    assert "4 flow recipes, inactive until you activate one" in out.getvalue()


def test_the_sales_webhook_body_is_json_naming_the_lead():
    recipes_install()
    flow = Flow.objects.get(name=LEAD_SCORE)
    contact = ContactFactory(email="ann@example.com", first_name="Ann", last_name="", lead_score=85)
    context = render_context(contact=contact, flow=flow, contact_id=contact.pk, message_id=None)

    body = json.loads(webhook_body_render(step=flow.definition["steps"][1], context=context))

    assert body == {
        "text": "Sales-ready lead: ann@example.com (lead score 85)",
        "contact": {
            "id": contact.pk,
            "email": "ann@example.com",
            "first_name": "Ann",
            "last_name": "",
            "lead_score": 85,
        },
        "flow": LEAD_SCORE,
    }


# --- The recipes run: in-process, the real triggers and scheduler with an injected clock -----


def _activate(name: str) -> Flow:
    """Activate now: the triggers count what happens from the activation on."""
    return flow_activate(flow=Flow.objects.get(name=name), now=timezone.now())


def _post(email: str, name: str, at: dt.datetime, properties: dict | None = None) -> None:
    event = EventInput(name=name, occurred_at=at, email=email, properties=properties or {})
    events_ingest(events=[event], now=at)
    flow_events_process(now=at)


def _segment_enters(name: str, now: dt.datetime) -> None:
    segment_evaluate(segment=Segment.objects.get(name=name), now=now)
    segment_transitions_consume(now=now)


def test_the_abandoned_cart_recipe_sends_the_cart_an_hour_later(mailoutbox):
    # given
    recipes_install()
    flow = _activate(ABANDONED_CART)
    now = timezone.now()

    # when
    _post("jane@example.com", "cart.updated", now, CART)
    scheduler_tick(now=now)
    scheduler_tick(now=now + dt.timedelta(minutes=59))
    assert mailoutbox == []
    scheduler_tick(now=now + dt.timedelta(hours=1, seconds=1))

    # then
    [email] = mailoutbox
    assert email.to == ["jane@example.com"]
    assert "Trail running shoes x 1: 89.90 EUR" in email.body
    assert Message.objects.get(flow=flow).status == "sent"
    assert Enrollment.objects.get(flow=flow).state == "completed"


def test_the_abandoned_cart_recipe_exits_on_purchase(mailoutbox):
    recipes_install()
    flow = _activate(ABANDONED_CART)
    now = timezone.now()
    _post("jane@example.com", "cart.updated", now, CART)
    scheduler_tick(now=now)

    _post("jane@example.com", "order.completed", now + dt.timedelta(minutes=20))
    scheduler_tick(now=now + dt.timedelta(hours=1, seconds=1))

    assert mailoutbox == []
    enrollment = Enrollment.objects.get(flow=flow)
    assert (enrollment.state, enrollment.exit_reason) == ("exited", "exit_when")


@pytest.mark.django_db(transaction=True)  # the transitions feed reads committed rows
def test_the_trial_expiry_recipe_reminds_a_trial_ending_tomorrow(mailoutbox):
    recipes_install()
    flow = _activate(TRIAL_EXPIRY)
    now = timezone.now()
    ending = now + dt.timedelta(hours=20)
    later = now + dt.timedelta(days=5)
    for email, trial_end in [("trial@example.com", ending), ("later@example.com", later)]:
        ContactFactory(
            email=email,
            fields={"billing_status": "trialing", "trial_ends_at": format_datetime(trial_end)},
        )

    _segment_enters("Trial ends within 1 day", now)
    scheduler_tick(now=now)

    assert [email.to for email in mailoutbox] == [["trial@example.com"]]
    assert mailoutbox[0].subject.endswith("your trial ends tomorrow")
    assert Enrollment.objects.get(flow=flow).state == "completed"


def _inactive_trial_user(email: str, now: dt.datetime):
    return ContactFactory(
        email=email,
        first_name="",
        fields={"billing_status": "trialing"},
        last_activity_at=now - dt.timedelta(days=40),
    )


@pytest.mark.django_db(transaction=True)  # the transitions feed reads committed rows
def test_the_reengagement_recipe_sends_a_second_email_without_an_open(mailoutbox):
    recipes_install()
    flow = _activate(REENGAGEMENT)
    now = timezone.now()
    quiet = _inactive_trial_user("quiet@example.com", now)
    opener = _inactive_trial_user("opener@example.com", now)

    _segment_enters("Inactive trial users", now)
    scheduler_tick(now=now)
    EventFactory(contact=opener, name="email.opened", occurred_at=now + dt.timedelta(days=1))
    scheduler_tick(now=now + dt.timedelta(days=3, seconds=1))

    sent = sorted((email.to[0], email.subject) for email in mailoutbox)
    assert sent == [
        ("opener@example.com", "Hi, your trial is waiting for you"),
        ("quiet@example.com", "Can we help, there?"),
        ("quiet@example.com", "Hi, your trial is waiting for you"),
    ]
    states = dict(Enrollment.objects.filter(flow=flow).values_list("contact_id", "state"))
    assert states == {quiet.pk: "completed", opener.pk: "exited"}


@pytest.mark.django_db(transaction=True)  # the transitions feed reads committed rows
def test_the_lead_score_recipe_tags_and_notifies_sales(settings, mailoutbox):
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.SALES_WEBHOOK_URL = f"http://127.0.0.1:{server.server_address[1]}/sales"
        settings.FLOW_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
        recipes_install()
        _activate(LEAD_SCORE)
        now = timezone.now()
        lead = ContactFactory(email="lead@example.com", lead_score=92)
        ContactFactory(email="cold@example.com", lead_score=10)

        _segment_enters("Sales-ready leads", now)
        scheduler_tick(now=now)
    finally:
        server.shutdown()
        server.server_close()

    assert [body["contact"]["email"] for body in received] == ["lead@example.com"]
    assert received[0]["text"] == "Sales-ready lead: lead@example.com (lead score 92)"
    assert list(lead.tags.values_list("name", flat=True)) == ["sales-ready"]
    assert mailoutbox == []
