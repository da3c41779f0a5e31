"""Stripe events -> BillingChange. Stripe's `customer.subscription.updated` carries
`previous_attributes`, so its transitions (converted, past due, expanded, ...) come from the
payload itself and do not depend on the order events arrive in.

Mapped: customer.created|updated, customer.subscription.created|updated|deleted|
trial_will_end|paused|resumed, invoice.paid, invoice.payment_failed, charge.refunded."""

from decimal import Decimal

from django.conf import settings

from billing.changes import (
    BillingChange,
    LifecycleEvent,
    NotMappable,
    Previous,
    SubscriptionState,
    monthly,
    rounded,
    timestamp,
    to_major,
)
from billing.stripe_api import stripe_product_name

STATUS = {
    "trialing": "trialing",
    "active": "active",
    "past_due": "past_due",
    "unpaid": "unpaid",
    "canceled": "canceled",
    "incomplete": "incomplete",
    "incomplete_expired": "canceled",
    "paused": "canceled",  # a paused subscription bills nothing (docs/billing.md)
}
SUBSCRIPTION_EVENTS = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.trial_will_end",
        "customer.subscription.paused",
        "customer.subscription.resumed",
    }
)


def stripe_change(event: dict) -> BillingChange | None:
    """None for event types Segflow does not use."""
    kind = event["type"]
    obj = event["data"]["object"]
    occurred_at = timestamp(event.get("created"))
    if occurred_at is None:
        raise NotMappable("The event has no 'created' timestamp.")
    if kind in ("customer.created", "customer.updated"):
        return BillingChange(occurred_at=occurred_at, customer_id=obj.get("id"), email=_email(obj))
    if kind in SUBSCRIPTION_EVENTS:
        return _subscription_change(kind, obj, event, occurred_at)
    if kind in ("invoice.paid", "invoice.payment_failed"):
        return _invoice_change(kind, obj, occurred_at)
    if kind == "charge.refunded":
        currency = str(obj.get("currency") or "").upper()
        return BillingChange(
            occurred_at=occurred_at,
            customer_id=_id_of(obj.get("customer")),
            email=_email(obj.get("billing_details") or {}) or _email(obj, "receipt_email"),
            events=[
                LifecycleEvent(
                    "refunded",
                    {
                        "amount": to_major(obj.get("amount_refunded"), currency),
                        "currency": currency,
                        "charge_id": obj.get("id"),
                        "invoice_id": _id_of(obj.get("invoice")),
                    },
                )
            ],
        )
    return None


def subscription_state(obj: dict, at) -> SubscriptionState:
    currency = str(obj.get("currency") or "").upper()
    items = (obj.get("items") or {}).get("data") or []
    status = STATUS.get(obj.get("status"))
    if status is None:
        raise NotMappable(f"Unknown subscription status {obj.get('status')!r}.")
    first_price = (items[0].get("price") or items[0].get("plan") or {}) if items else {}
    return SubscriptionState(
        subscription_id=obj["id"],
        status=status,
        at=at,
        plan=_plan_name(first_price),
        mrr=_mrr(items, currency),
        currency=currency,
        trial_ends_at=timestamp(obj.get("trial_end")),
        started_at=timestamp(obj.get("start_date") or obj.get("created")),
        canceled_at=timestamp(obj.get("canceled_at")),
        cancel_at_period_end=bool(obj.get("cancel_at_period_end") or obj.get("cancel_at")),
    )


def _subscription_change(kind: str, obj: dict, event: dict, occurred_at) -> BillingChange:
    if not obj.get("id"):
        raise NotMappable("The subscription has no id.")
    state = subscription_state(obj, occurred_at)
    customer = obj.get("customer")
    change = BillingChange(
        occurred_at=occurred_at,
        customer_id=_id_of(customer),
        email=_email(customer) if isinstance(customer, dict) else None,  # when expanded
        subscription=state,
    )
    if kind == "customer.subscription.created":
        change.events.append(LifecycleEvent("subscription_created"))
        if state.status == "trialing":
            change.events.append(LifecycleEvent("trial_started"))
        elif state.status == "active":
            change.events.append(LifecycleEvent("subscription_activated"))
    elif kind == "customer.subscription.deleted":
        change.events.append(LifecycleEvent("subscription_canceled"))
        ended, trial_end = timestamp(obj.get("ended_at")), state.trial_ends_at
        if trial_end and ended and ended <= trial_end:
            change.events.append(LifecycleEvent("trial_expired"))
    elif kind == "customer.subscription.trial_will_end":
        change.events.append(LifecycleEvent("trial_will_end"))
        # A payment method on file: the trial converts by itself at its end.
        change.converted_hint = bool(obj.get("default_payment_method") or obj.get("default_source"))
    else:  # updated, paused, resumed: what changed is in previous_attributes
        change.previous = _previous(event["data"].get("previous_attributes") or {}, state)
    return change


def _previous(attributes: dict, current: SubscriptionState) -> Previous:
    """Values before the change; keys Stripe does not list did not change."""
    previous = Previous(
        status=STATUS.get(attributes["status"]) if "status" in attributes else current.status,
        cancel_at_period_end=current.cancel_at_period_end,
        mrr=current.mrr,
    )
    if "cancel_at_period_end" in attributes or "cancel_at" in attributes:
        previous.cancel_at_period_end = bool(
            attributes.get("cancel_at_period_end") or attributes.get("cancel_at")
        )
    if isinstance(attributes.get("items"), dict):
        previous.mrr = _mrr(attributes["items"].get("data") or [], current.currency)
    return previous


def _invoice_change(kind: str, obj: dict, occurred_at) -> BillingChange:
    currency = str(obj.get("currency") or "").upper()
    paid = kind == "invoice.paid"
    amount = to_major(obj.get("amount_paid") if paid else obj.get("amount_due"), currency)
    change = BillingChange(
        occurred_at=occurred_at,
        customer_id=_id_of(obj.get("customer")),
        email=_email(obj, "customer_email"),
    )
    if paid and amount == 0:
        return change  # a trial's or a fully discounted invoice: no payment happened
    subscription = obj.get("subscription") or (
        ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    )
    change.events.append(
        LifecycleEvent(
            "payment_succeeded" if paid else "payment_failed",
            {
                "amount": amount,
                "currency": currency,
                "invoice_id": obj.get("id"),
                "subscription_id": _id_of(subscription),
                "attempt_count": obj.get("attempt_count"),
            },
        )
    )
    return change


def _mrr(items: list, currency: str) -> Decimal:
    total = Decimal(0)
    for item in items:
        price = item.get("price") or item.get("plan") or {}
        recurring = price.get("recurring") or {
            "interval": price.get("interval"),
            "interval_count": price.get("interval_count"),
        }
        if not recurring.get("interval"):
            continue  # a one-time price is not recurring revenue
        amount = price.get("unit_amount")
        if amount is None and price.get("unit_amount_decimal") is not None:
            amount = price["unit_amount_decimal"]
        if amount is None:
            amount = price.get("amount")
        quantity = item.get("quantity") if item.get("quantity") is not None else 1
        unit_major = to_major(amount, currency or price.get("currency") or "")
        total += monthly(
            unit_major * quantity,
            unit=recurring["interval"],
            count=recurring.get("interval_count") or 1,
        )
    return rounded(total)


def _plan_name(price: dict) -> str:
    if price.get("nickname"):
        return str(price["nickname"])
    product = price.get("product")
    if isinstance(product, dict) and product.get("name"):
        return str(product["name"])
    if isinstance(product, str) and settings.STRIPE_API_KEY:
        name = stripe_product_name(product)
        if name:
            return name
    return str(price.get("lookup_key") or price.get("id") or "")


def _id_of(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None


def _email(obj: dict, key: str = "email") -> str | None:
    value = obj.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None
