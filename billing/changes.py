"""The provider-neutral shape of one billing event, as each provider module
(billing.stripe_events, chargebee_events, recurly_events) maps it, and the rules every provider
shares: monthly recurring revenue, and the lifecycle events a status change means."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

# Statuses of the billing_status field (a choice field).
STATUSES = ("trialing", "active", "past_due", "canceled", "unpaid", "incomplete")
LIVE_STATUSES = frozenset({"trialing", "active", "past_due", "unpaid"})
# ISO 4217 currencies without minor units: providers send amounts in these as is.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"}
    | {"PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
# Months per interval unit, to turn any billing period into a monthly amount.
MONTHS_PER_UNIT = {
    "day": Decimal(12) / Decimal(365),
    "week": Decimal(12) / Decimal(52),
    "month": Decimal(1),
    "year": Decimal(12),
}


class NotMappable(ValueError):
    """The payload lacks what the mapping needs (reported as the delivery's error)."""


@dataclass(slots=True)
class SubscriptionState:
    subscription_id: str
    status: str
    at: dt.datetime  # the provider's timestamp of this state (ordering)
    plan: str = ""
    mrr: Decimal = Decimal(0)
    currency: str = ""
    trial_ends_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    canceled_at: dt.datetime | None = None
    cancel_at_period_end: bool = False


@dataclass(slots=True)
class Previous:
    """What the subscription was before this event, as far as the payload itself says
    (Stripe's previous_attributes, or what a Chargebee event type implies). Unknown values
    are None and are taken from the stored state when this event is the newest."""

    status: str | None = None
    mrr: Decimal | None = None
    cancel_at_period_end: bool | None = None


@dataclass(slots=True)
class LifecycleEvent:
    name: str  # without the "billing." prefix
    properties: dict = field(default_factory=dict)


@dataclass(slots=True)
class BillingChange:
    occurred_at: dt.datetime
    customer_id: str | None = None
    email: str | None = None
    subscription: SubscriptionState | None = None
    previous: Previous | None = None  # None: no transition events for this event
    events: list[LifecycleEvent] = field(default_factory=list)
    # billing.trial_will_end of a customer who already converted (payment method on file)
    converted_hint: bool = False


def to_major(amount: int | float | str | None, currency: str) -> Decimal:
    """A provider amount in minor units (cents) -> major units."""
    if amount in (None, ""):
        return Decimal(0)
    value = Decimal(str(amount))
    if currency.upper() in ZERO_DECIMAL_CURRENCIES:
        return value
    return value / 100


def monthly(amount_major: Decimal, *, unit: str, count: int = 1) -> Decimal:
    """The monthly amount of a price billed every `count` `unit`s (yearly / 12, ...)."""
    months = MONTHS_PER_UNIT.get(unit.rstrip("s").lower())
    if months is None:
        raise NotMappable(f"Unknown billing period unit {unit!r}.")
    return amount_major / (months * max(int(count or 1), 1))


def rounded(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def timestamp(value: int | float | None) -> dt.datetime | None:
    """Unix seconds (as Stripe and Chargebee send them; fractions kept) -> aware UTC datetime."""
    if value in (None, ""):
        return None
    return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)


def transition_events(previous: Previous, current: SubscriptionState) -> list[str]:
    """Lifecycle event names a change from `previous` to `current` means."""
    names: list[str] = []
    before = previous.status
    if before is not None and before != current.status:
        if before == "trialing" and current.status == "active":
            names += ["trial_converted", "subscription_activated"]
        elif before == "incomplete" and current.status in ("active", "trialing"):
            names.append(
                "subscription_activated" if current.status == "active" else "trial_started"
            )
        elif before == "trialing" and current.status in ("canceled", "unpaid", "past_due"):
            names.append("trial_expired")
        elif before == "canceled" and current.status in ("active", "trialing"):
            names.append("reactivated")
        if current.status == "past_due":
            names.append("past_due")
    if previous.cancel_at_period_end is not None:
        if not previous.cancel_at_period_end and current.cancel_at_period_end:
            names.append("cancellation_scheduled")
        elif (
            previous.cancel_at_period_end
            and not current.cancel_at_period_end
            and current.status != "canceled"
            and "reactivated" not in names
        ):
            names.append("reactivated")
    if previous.mrr is not None and current.status in LIVE_STATUSES:
        if current.mrr > previous.mrr and (before is None or before in LIVE_STATUSES):
            names.append("subscription_expanded")
        elif current.mrr < previous.mrr and (before is None or before in LIVE_STATUSES):
            names.append("subscription_contracted")
    return names
