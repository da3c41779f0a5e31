"""The provider-neutral contact fields billing writes, created on first use (source = the
provider), and their values for one contact, derived from its stored subscriptions."""

from decimal import Decimal

from django.db.models import Min

from billing.changes import LIVE_STATUSES, STATUSES
from billing.models import BillingSubscription
from contacts.field_services import custom_field_create
from contacts.field_types import format_datetime
from contacts.models import CustomField, FieldType
from segflow.errors import InvalidInput

FIELDS: dict[str, tuple[str, str, list[str] | None]] = {
    "billing_provider": ("Billing provider", FieldType.TEXT, None),
    "billing_customer_id": ("Billing customer id", FieldType.TEXT, None),
    "plan": ("Plan", FieldType.TEXT, None),
    "billing_status": ("Billing status", FieldType.CHOICE, list(STATUSES)),
    "mrr": ("MRR", FieldType.NUMBER, None),
    "currency": ("Currency", FieldType.TEXT, None),
    "trial_ends_at": ("Trial ends at", FieldType.DATETIME, None),
    "customer_since": ("Customer since", FieldType.DATETIME, None),
    "canceled_at": ("Canceled at", FieldType.DATETIME, None),
    "cancel_at_period_end": ("Cancels at period end", FieldType.BOOLEAN, None),
}


def billing_fields_ensure(*, provider: str) -> dict[str, CustomField]:
    """The billing field definitions by key, creating the missing ones. A field that exists
    already (made by hand, or by another provider first) is used as it is."""
    existing = {f.key: f for f in CustomField.objects.filter(key__in=FIELDS)}
    for key, (label, type_, choices) in FIELDS.items():
        if key in existing:
            continue
        try:
            existing[key] = custom_field_create(
                key=key,
                label=label,
                type=type_,
                choices=choices,
                source=provider,
                description=f"Written by billing webhooks (first: {provider}).",
            )
        except InvalidInput:  # created concurrently
            existing[key] = CustomField.objects.get(key=key)
    return existing


def billing_field_values(*, contact_id: int, provider: str, customer_id: str) -> dict:
    """Field values of the contact's primary subscription: a live one first (trialing,
    active, past due, unpaid), then the one with the newest provider state. customer_since is
    the earliest start of any of its subscriptions. Without subscriptions: the provider and
    customer id only."""
    subscriptions = BillingSubscription.objects.filter(contact_id=contact_id)
    primary = max(
        subscriptions,
        key=lambda s: (s.status in LIVE_STATUSES, s.state_at, s.pk),
        default=None,
    )
    if primary is None:
        return {"billing_provider": provider, "billing_customer_id": customer_id}
    since = subscriptions.aggregate(first=Min("started_at"))["first"]
    return {
        "billing_provider": primary.provider,
        "billing_customer_id": primary.customer_id,
        "plan": primary.plan or None,
        "billing_status": primary.status,
        "mrr": _number(primary.mrr),
        "currency": primary.currency or None,
        "trial_ends_at": _datetime(primary.trial_ends_at),
        "customer_since": _datetime(since),
        "canceled_at": _datetime(primary.canceled_at),
        "cancel_at_period_end": primary.cancel_at_period_end,
    }


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _datetime(value) -> str | None:
    return format_datetime(value) if value is not None else None
