"""Flow recipes: four ready-made journeys (trial expiry, re-engagement, abandoned cart,
lead-score threshold), each with the custom fields, segments and email templates it needs.

`recipes_install()` is idempotent by name: a recipe whose flow exists is left alone (even if
edited since), and a field, segment or template that exists under the recipe's name is
reused, never changed. Every flow is created in draft through the flow service (so it is
validated like any other) and sends nothing until a user activates it (docs/flow-recipes.md).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from automation import recipe_emails
from automation.flow_services import flow_create
from automation.models import EmailTemplate, Flow
from automation.template_services import template_create
from contacts.field_services import custom_field_create
from contacts.models import CustomField, FieldType
from segments.models import Segment
from segments.services import segment_create

TRIAL_EXPIRY = "Trial expiry reminder"
REENGAGEMENT = "Re-engage inactive trial users"
ABANDONED_CART = "Abandoned cart"
LEAD_SCORE = "Sales-ready lead alert"

# The billing integrations' statuses (billing_status is theirs when a provider posts first).
BILLING_STATUSES = ["trialing", "active", "past_due", "canceled", "unpaid", "incomplete"]
_FIELDS = {
    "trial_ends_at": ("Trial ends at", FieldType.DATETIME, None),
    "billing_status": ("Billing status", FieldType.CHOICE, BILLING_STATUSES),
}
_TRIALING = {"type": "field", "field": "billing_status", "op": "eq", "value": "trialing"}


@dataclass(frozen=True)
class RecipeResult:
    name: str
    flow: Flow
    created: bool


def recipes_install() -> list[RecipeResult]:
    """Install the four recipes (draft flows); each in its own transaction."""
    return [_install(name, build) for name, build in RECIPES.items()]


def _install(name: str, build: Callable[[], dict]) -> RecipeResult:
    with transaction.atomic():
        existing = Flow.objects.filter(name=name).order_by("pk").first()
        if existing is not None:
            return RecipeResult(name=name, flow=existing, created=False)
        flow = flow_create(name=name, definition=build(), status="draft")
    return RecipeResult(name=name, flow=flow, created=True)


def _trial_expiry() -> dict:
    _fields_ensure("billing_status", "trial_ends_at")
    segment = _segment_ensure(
        name="Trial ends within 1 day",
        description="Trialing contacts whose trial ends in the next 24 hours.",
        conditions={
            "all": [
                _TRIALING,
                {
                    "type": "field",
                    "field": "trial_ends_at",
                    "op": "within_next",
                    "value": {"days": 1},
                },
            ]
        },
    )
    reminder = _template_ensure(recipe_emails.TRIAL_REMINDER)
    return {
        "trigger": {"type": "segment_entered", "segment": segment.pk},
        "reentry": "never",
        "exit_when": {"not": _TRIALING},  # converted (or canceled) in the meantime
        "goal": {"event": "billing.trial_converted", "within": {"days": 7}},
        "steps": [{"id": "trial-reminder", "type": "send_email", "template": reminder.pk}],
    }


def _reengagement() -> dict:
    _fields_ensure("billing_status")
    segment = _segment_ensure(
        name="Inactive trial users",
        description="Trialing contacts with no activity for 30 days.",
        conditions={
            "all": [
                {
                    "type": "field",
                    "field": "last_activity_at",
                    "op": "older_than",
                    "value": {"days": 30},
                },
                _TRIALING,
            ]
        },
    )
    first = _template_ensure(recipe_emails.REENGAGE_FIRST)
    second = _template_ensure(recipe_emails.REENGAGE_SECOND)
    return {
        "trigger": {"type": "segment_entered", "segment": segment.pk},
        "reentry": {"after": {"days": 90}},
        "goal": {"event": "login", "within": {"days": 14}},
        "steps": [
            {"id": "we-miss-you", "type": "send_email", "template": first.pk},
            {"id": "wait-3-days", "type": "wait", "duration": {"days": 3}},
            {
                "id": "opened-since",
                "type": "branch",
                "condition": {"type": "email", "op": "opened", "within": {"days": 3}},
                "yes": [{"id": "engaged", "type": "exit"}],
                "no": [{"id": "can-we-help", "type": "send_email", "template": second.pk}],
            },
        ],
    }


def _abandoned_cart() -> dict:
    email = _template_ensure(recipe_emails.ABANDONED_CART)
    return {
        "trigger": {"type": "event", "event": "cart.updated"},
        # One reminder a day at most, however often the cart changes.
        "reentry": {"after": {"days": 1}},
        # Conditions are relative to the moment they are checked (before every step), so
        # "purchased since enrolling" is a window: 2 hours covers the 1-hour wait with margin,
        # and an order from last week does not stop a reminder about today's cart.
        "exit_when": {
            "type": "event",
            "event": "order.completed",
            "op": "performed",
            "within": {"hours": 2},
        },
        "goal": {"event": "order.completed", "within": {"days": 3}},
        "steps": [
            {"id": "cart-wait", "type": "wait", "duration": {"hours": 1}},
            {"id": "cart-email", "type": "send_email", "template": email.pk},
        ],
    }


def _lead_score() -> dict:
    segment = _segment_ensure(
        name="Sales-ready leads",
        description="Lead score of 80 or more.",
        conditions={"type": "field", "field": "lead_score", "op": "gte", "value": 80},
    )
    return {
        "trigger": {"type": "segment_entered", "segment": segment.pk},
        "reentry": {"after": {"days": 30}},
        "steps": [
            # The tag first: it is the lasting record, and a failed call does not undo it.
            {"id": "tag-sales-ready", "type": "tag", "add": ["sales-ready"]},
            {
                "id": "notify-sales",
                "type": "webhook",
                "url": settings.SALES_WEBHOOK_URL,
                "body": recipe_emails.SALES_WEBHOOK_BODY,
            },
        ],
    }


RECIPES: dict[str, Callable[[], dict]] = {
    TRIAL_EXPIRY: _trial_expiry,
    REENGAGEMENT: _reengagement,
    ABANDONED_CART: _abandoned_cart,
    LEAD_SCORE: _lead_score,
}


def _fields_ensure(*keys: str) -> None:
    existing = set(CustomField.objects.filter(key__in=keys).values_list("key", flat=True))
    for key in keys:
        if key not in existing:
            label, type_, choices = _FIELDS[key]
            custom_field_create(key=key, label=label, type=type_, choices=choices)


def _segment_ensure(*, name: str, description: str, conditions: dict) -> Segment:
    segment = Segment.objects.filter(name=name).order_by("pk").first()
    if segment is None:
        segment = segment_create(name=name, description=description, conditions=conditions)
    return segment


def _template_ensure(spec: dict) -> EmailTemplate:
    template = EmailTemplate.objects.filter(name=spec["name"]).first()
    if template is None:
        template = template_create(**spec)
    return template
