"""Recurly JSON notifications -> BillingChange. A notification names an object
(`object_type`, `uuid`) and what happened to it (`event_type`); the object itself is read from
Recurly's API (billing.recurly_api), so the state applied is the newest Recurly has, ordered
by its `updated_at`.

Mapped: subscription created|updated|renewed|canceled|expired|reactivated|paused|resumed,
payment succeeded|failed|refunded. Other notifications are acknowledged and ignored."""

from dataclasses import replace
from decimal import Decimal

from django.utils import timezone

from billing.changes import (
    BillingChange,
    LifecycleEvent,
    NotMappable,
    Previous,
    SubscriptionState,
    monthly,
    rounded,
)
from billing.recurly_api import recurly_get
from contacts.field_types import parse_iso_datetime

IMPLIED_PREVIOUS = {
    "canceled": Previous(cancel_at_period_end=False),
    "reactivated": Previous(cancel_at_period_end=True),
}
PAYMENT_EVENTS = {
    "succeeded": "payment_succeeded",
    "failed": "payment_failed",
    "refunded": "refunded",
}


def recurly_change(event: dict) -> BillingChange | None:
    object_type, kind = event.get("object_type"), event.get("event_type")
    occurred_at = _datetime(event.get("event_time"))
    if occurred_at is None:
        raise NotMappable("The notification has no valid 'event_time'.")
    if object_type == "subscription":
        uuid = _uuid(event)
        subscription = recurly_get(f"/subscriptions/uuid-{uuid}")
        return _subscription_change(kind, subscription, occurred_at)
    if object_type == "payment" and kind in PAYMENT_EVENTS:
        uuid = _uuid(event)
        transaction = recurly_get(f"/transactions/uuid-{uuid}")
        return _payment_change(PAYMENT_EVENTS[kind], transaction, occurred_at)
    return None


def _subscription_change(kind: str, obj: dict, occurred_at) -> BillingChange:
    account = obj.get("account") or {}
    state = _state(obj)
    change = BillingChange(
        occurred_at=occurred_at,
        customer_id=account.get("code") or account.get("id"),
        email=_email(account),
        subscription=state,
        previous=replace(IMPLIED_PREVIOUS.get(kind, Previous())),
    )
    if kind == "created":
        change.previous = None
        change.events.append(LifecycleEvent("subscription_created"))
        if state.status == "trialing":
            change.events.append(LifecycleEvent("trial_started"))
        elif state.status == "active":
            change.events.append(LifecycleEvent("subscription_activated"))
    elif kind == "expired":
        change.previous = None
        change.events.append(LifecycleEvent("subscription_canceled"))
        if obj.get("activated_at") is None and state.trial_ends_at is not None:
            change.events.append(LifecycleEvent("trial_expired"))
    return change


def _state(obj: dict) -> SubscriptionState:
    raw_state = obj.get("state")
    trial_ends_at = _datetime(obj.get("trial_ends_at"))
    now = timezone.now()
    ends = _datetime(obj.get("expires_at")) or _datetime(obj.get("current_period_ends_at"))
    if raw_state in ("active", "canceled"):
        in_trial = trial_ends_at is not None and trial_ends_at > now
        status = "trialing" if in_trial else "active"
        if raw_state == "canceled" and ends is not None and ends <= now:
            status = "canceled"
    elif raw_state in ("expired", "paused"):
        status = "canceled"
    elif raw_state in ("future", "failed"):
        status = "incomplete"
    else:
        raise NotMappable(f"Unknown subscription state {raw_state!r}.")
    updated_at = _datetime(obj.get("updated_at"))
    if updated_at is None:
        raise NotMappable("The subscription has no 'updated_at'.")
    currency = str(obj.get("currency") or "").upper()
    plan = obj.get("plan") or {}
    return SubscriptionState(
        subscription_id=str(obj.get("uuid") or obj.get("id")),
        status=status,
        at=updated_at,
        plan=str(plan.get("name") or plan.get("code") or ""),
        mrr=_mrr(obj, plan),
        currency=currency,
        trial_ends_at=trial_ends_at,
        started_at=_datetime(obj.get("activated_at") or obj.get("created_at")),
        canceled_at=_datetime(obj.get("canceled_at")),
        cancel_at_period_end=raw_state == "canceled" and status != "canceled",
    )


def _mrr(obj: dict, plan: dict) -> Decimal:
    """unit_amount (major units) x quantity plus add-ons, per the plan's interval."""
    plan_id = plan.get("id")
    if not plan_id:
        return Decimal(0)
    details = recurly_get(f"/plans/{plan_id}")
    amount = Decimal(str(obj.get("unit_amount") or 0)) * int(obj.get("quantity") or 1)
    for add_on in obj.get("add_ons") or []:
        amount += Decimal(str(add_on.get("unit_amount") or 0)) * int(add_on.get("quantity") or 1)
    return rounded(
        monthly(
            amount,
            unit=details.get("interval_unit") or "months",
            count=details.get("interval_length") or 1,
        )
    )


def _payment_change(name: str, obj: dict, occurred_at) -> BillingChange:
    account = obj.get("account") or {}
    invoice = obj.get("invoice") or {}
    return BillingChange(
        occurred_at=occurred_at,
        customer_id=account.get("code") or account.get("id"),
        email=_email(account),
        events=[
            LifecycleEvent(
                name,
                {
                    "amount": Decimal(str(obj.get("amount") or 0)),
                    "currency": str(obj.get("currency") or "").upper(),
                    "invoice_id": invoice.get("number") or invoice.get("id"),
                    "transaction_id": obj.get("uuid") or obj.get("id"),
                    "subscription_id": (obj.get("subscription_ids") or [None])[0],
                },
            )
        ],
    )


def _uuid(event: dict) -> str:
    uuid = event.get("uuid")
    if not isinstance(uuid, str) or not uuid.isalnum():
        raise NotMappable("The notification has no valid 'uuid'.")
    return uuid


def _datetime(value):
    return parse_iso_datetime(value) if isinstance(value, str) else None


def _email(account: dict) -> str | None:
    value = account.get("email")
    return value.strip() if isinstance(value, str) and value.strip() else None
