"""Chargebee events (API v2, product catalog 1.0 and 2.0) -> BillingChange. Every event
carries the full resources it touches (`content.subscription`, `content.customer`, ...), with a
`resource_version` in milliseconds that orders them. Its event types say most transitions;
what they do not (a plan change's direction, dunning) is compared with the stored state."""

from dataclasses import replace
from decimal import Decimal

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

STATUS = {
    "future": "incomplete",
    "in_trial": "trialing",
    "active": "active",
    "non_renewing": "active",  # cancels at the end of the term
    "paused": "canceled",
    "cancelled": "canceled",
    "transferred": "canceled",  # moved to another customer: no longer this one's
}
# Event type -> what the subscription was before it, when the type alone says so.
IMPLIED_PREVIOUS = {
    "subscription_started": Previous(status="incomplete"),
    "subscription_activated": Previous(status="trialing"),
    "subscription_reactivated": Previous(status="canceled"),
    "subscription_cancellation_scheduled": Previous(cancel_at_period_end=False),
    "subscription_scheduled_cancellation_removed": Previous(cancel_at_period_end=True),
}
PAYMENT_EVENTS = {
    "payment_succeeded": "payment_succeeded",
    "payment_failed": "payment_failed",
    "payment_refunded": "refunded",
}


def chargebee_change(event: dict) -> BillingChange | None:
    kind = event["event_type"]
    content = event["content"]
    occurred_at = timestamp(event.get("occurred_at"))
    if occurred_at is None:
        raise NotMappable("The event has no 'occurred_at' timestamp.")
    customer = content.get("customer") if isinstance(content.get("customer"), dict) else {}
    subscription = content.get("subscription")
    relevant = kind.startswith(("customer_", "subscription_")) or kind in PAYMENT_EVENTS
    if not relevant:
        return None
    change = BillingChange(
        occurred_at=occurred_at,
        customer_id=customer.get("id") or (subscription or {}).get("customer_id"),
        email=_email(customer),
    )
    if isinstance(subscription, dict) and subscription.get("id"):
        change.subscription = subscription_state(subscription, occurred_at)
        change.previous = replace(IMPLIED_PREVIOUS.get(kind, Previous()))
    state = change.subscription
    if kind == "subscription_created" and state is not None:
        change.previous = None  # nothing before it
        change.events.append(LifecycleEvent("subscription_created"))
        if state.status == "trialing":
            change.events.append(LifecycleEvent("trial_started"))
        elif state.status == "active":
            change.events.append(LifecycleEvent("subscription_activated"))
    elif kind == "subscription_cancelled" and state is not None:
        change.previous = None
        change.events.append(LifecycleEvent("subscription_canceled"))
        if state.trial_ends_at and state.canceled_at and state.canceled_at <= state.trial_ends_at:
            change.events.append(LifecycleEvent("trial_expired"))
    elif kind == "subscription_trial_end_reminder":
        change.previous = None
        change.events.append(LifecycleEvent("trial_will_end"))
        change.converted_hint = customer.get("card_status") == "valid" or bool(
            customer.get("primary_payment_source_id") or customer.get("payment_method")
        )
    elif kind in PAYMENT_EVENTS:
        change.events.append(_payment_event(PAYMENT_EVENTS[kind], content))
    return change


def subscription_state(obj: dict, occurred_at) -> SubscriptionState:
    status = STATUS.get(obj.get("status"))
    if status is None:
        raise NotMappable(f"Unknown subscription status {obj.get('status')!r}.")
    if status == "active" and (obj.get("due_invoices_count") or 0) > 0:
        status = "past_due"  # in dunning
    currency = str(obj.get("currency_code") or "").upper()
    version = obj.get("resource_version")
    at = timestamp(version / 1000) if isinstance(version, int) else None
    canceled_at = (
        timestamp(obj.get("cancelled_at"))
        if obj.get("status") == "cancelled"
        else timestamp(obj.get("cancel_schedule_created_at"))
    )
    plan, mrr = _plan_and_mrr(obj, currency)
    return SubscriptionState(
        subscription_id=str(obj["id"]),
        status=status,
        at=at or timestamp(obj.get("updated_at")) or occurred_at,
        plan=plan,
        mrr=mrr,
        currency=currency,
        trial_ends_at=timestamp(obj.get("trial_end")),
        started_at=timestamp(obj.get("started_at") or obj.get("created_at")),
        canceled_at=canceled_at,
        cancel_at_period_end=obj.get("status") == "non_renewing",
    )


def _plan_and_mrr(obj: dict, currency: str) -> tuple[str, Decimal]:
    unit = obj.get("billing_period_unit") or "month"
    count = obj.get("billing_period") or 1
    items = obj.get("subscription_items")
    if isinstance(items, list):  # product catalog 2.0
        plan = next((i.get("item_price_id") for i in items if i.get("item_type") == "plan"), "")
        total = Decimal(0)
        for item in items:
            if item.get("item_type") == "charge":
                continue  # one-time charges are not recurring
            amount = item.get("amount")
            if amount is None:
                amount = (item.get("unit_price") or 0) * (item.get("quantity") or 1)
            total += to_major(amount, currency)
        return str(plan or ""), rounded(monthly(total, unit=unit, count=count))
    # product catalog 1.0
    amount = obj.get("plan_amount")
    if amount is None:
        amount = (obj.get("plan_unit_price") or 0) * (obj.get("plan_quantity") or 1)
    addons = sum(
        (a.get("amount") or (a.get("unit_price") or 0) * (a.get("quantity") or 1))
        for a in obj.get("addons") or []
    )
    total = to_major(amount, currency) + to_major(addons, currency)
    return str(obj.get("plan_id") or ""), rounded(monthly(total, unit=unit, count=count))


def _payment_event(name: str, content: dict) -> LifecycleEvent:
    transaction = content.get("transaction") or {}
    credit_note = content.get("credit_note") or {}
    invoice = content.get("invoice") or {}
    currency = str(transaction.get("currency_code") or invoice.get("currency_code") or "").upper()
    if name == "refunded":
        amount = transaction.get("amount") or credit_note.get("amount_refunded")
    else:
        amount = transaction.get("amount") or invoice.get("total")
    return LifecycleEvent(
        name,
        {
            "amount": to_major(amount, currency),
            "currency": currency,
            "invoice_id": invoice.get("id") or transaction.get("invoice_id"),
            "transaction_id": transaction.get("id"),
        },
    )


def _email(customer: dict) -> str | None:
    value = customer.get("email")
    return value.strip() if isinstance(value, str) and value.strip() else None
