"""The rules every provider shares: amounts in major units and monthly revenue."""

from decimal import Decimal

import pytest

from billing.changes import (
    NotMappable,
    Previous,
    SubscriptionState,
    monthly,
    to_major,
    transition_events,
)


@pytest.mark.parametrize(
    ("amount", "currency", "major"),
    [
        (2900, "usd", Decimal("29")),
        (2950, "EUR", Decimal("29.5")),
        (5000, "JPY", Decimal("5000")),
        (None, "usd", 0),
    ],
)
def test_to_major(amount, currency, major):
    assert to_major(amount, currency) == major


@pytest.mark.parametrize(
    ("unit", "count", "expected"),
    [
        ("month", 1, "120"),
        ("months", 3, "40"),
        ("year", 1, "10"),
        ("week", 1, "520"),
        ("day", 1, "3650"),
    ],
)
def test_monthly_amount_of_a_price_of_120_per_period(unit, count, expected):
    assert monthly(Decimal(120), unit=unit, count=count).quantize(Decimal(1)) == Decimal(expected)


def test_unknown_period_unit_is_not_mappable():
    with pytest.raises(NotMappable):
        monthly(Decimal(1), unit="fortnight")


def _state(status, mrr="10", cancel=False):
    return SubscriptionState("s", status, at=None, mrr=Decimal(mrr), cancel_at_period_end=cancel)


def test_no_change_means_no_events():
    assert transition_events(Previous("active", Decimal(10), False), _state("active")) == []


def test_canceled_subscription_becoming_active_is_a_reactivation_once():
    assert transition_events(Previous("canceled", None, True), _state("active")) == ["reactivated"]


def test_mrr_change_of_an_ended_subscription_is_neither_expansion_nor_contraction():
    assert transition_events(Previous("active", Decimal(10), None), _state("canceled", "0")) == []
