"""A realistic history of billing events for many customers of the three providers, in the
order each provider produced them: the storm test replays it in order and shuffled."""

from tests.billing import payloads as p

DAY = 86400


def stripe_history(i: int, t: int) -> list[tuple[str, dict]]:
    cus, sub, email = f"cus_{i}", f"sub_{i}", f"stripe{i}@example.com"
    one = p.stripe_items((2900, "month", 1, "Pro monthly"))
    two = p.stripe_items((2900, "month", 2, "Pro monthly"))
    trial_end = t + 14 * DAY

    def sub_event(n, kind, at, status, previous=None, **fields):
        fields.setdefault("items", one)
        obj = p.stripe_subscription(sub, cus, status, trial_end=trial_end, start_date=t, **fields)
        return p.stripe_event(f"evt_{i}_{n}", kind, obj, created=at, previous=previous)

    def invoice(n, kind, at, paid, amount):
        obj = p.stripe_invoice(f"in_{i}_{n}", cus, email, paid=paid, amount=amount, sub_id=sub)
        return p.stripe_event(f"evt_{i}_{n}", kind, obj, created=at)

    events = [
        p.stripe_event(f"evt_{i}_0", "customer.created", p.stripe_customer(cus, email), created=t),
        sub_event(1, "customer.subscription.created", t + 1, "trialing"),
        sub_event(
            2,
            "customer.subscription.trial_will_end",
            t + 11 * DAY,
            "trialing",
            default_payment_method="pm_1",
        ),
        sub_event(
            3, "customer.subscription.updated", trial_end, "active", previous={"status": "trialing"}
        ),
        invoice(4, "invoice.paid", trial_end + 1, True, 2900),
        sub_event(
            5,
            "customer.subscription.updated",
            trial_end + 5 * DAY,
            "active",
            previous={"items": one},
            items=two,
        ),
        invoice(6, "invoice.payment_failed", trial_end + 30 * DAY, False, 5800),
        sub_event(
            7,
            "customer.subscription.updated",
            trial_end + 30 * DAY + 1,
            "past_due",
            previous={"status": "active"},
            items=two,
        ),
        invoice(8, "invoice.paid", trial_end + 33 * DAY, True, 5800),
        sub_event(
            9,
            "customer.subscription.updated",
            trial_end + 33 * DAY + 1,
            "active",
            previous={"status": "past_due"},
            items=two,
        ),
        sub_event(
            10,
            "customer.subscription.updated",
            trial_end + 40 * DAY,
            "active",
            previous={"cancel_at_period_end": False},
            items=two,
            cancel_at_period_end=True,
            canceled_at=trial_end + 40 * DAY,
        ),
        p.stripe_event(
            f"evt_{i}_11",
            "charge.refunded",
            p.stripe_charge(f"ch_{i}", cus, amount=5800, refunded=2000),
            created=trial_end + 41 * DAY,
        ),
        sub_event(
            12,
            "customer.subscription.deleted",
            trial_end + 63 * DAY,
            "canceled",
            items=two,
            canceled_at=trial_end + 40 * DAY,
            ended_at=trial_end + 63 * DAY,
        ),
    ]
    # i odd: the subscription events come before Stripe ever sends the customer
    if i % 2:
        events = events[1:] + events[:1]
    return [("stripe", event) for event in events]


def chargebee_history(i: int, t: int) -> list[tuple[str, dict]]:
    cus, sub, email = f"cb_cus_{i}", f"cb_sub_{i}", f"chargebee{i}@example.com"
    trial_end = t + 14 * DAY

    def event(n, kind, at, status, extra=None, **fields):
        content = {
            "subscription": p.chargebee_subscription(
                sub, cus, status, version_ms=at * 1000 + n, trial_end=trial_end, **fields
            ),
            "customer": {**p.chargebee_customer(cus, email, card=True)},
            **(extra or {}),
        }
        return p.chargebee_event(f"ev_{i}_{n}", kind, content, occurred_at=at)

    def txn(n, kind, amount, ok):
        return {
            "transaction": p.chargebee_transaction(
                f"txn_{i}_{n}", cus, sub, amount=amount, kind=kind, ok=ok
            )
        }

    events = [
        event(0, "subscription_created", t, "in_trial"),
        event(1, "subscription_trial_end_reminder", t + 11 * DAY, "in_trial"),
        event(2, "subscription_activated", trial_end, "active"),
        event(3, "payment_succeeded", trial_end + 1, "active", txn(3, "payment", 4900, True)),
        event(4, "subscription_cancellation_scheduled", trial_end + 10 * DAY, "non_renewing"),
        event(5, "subscription_scheduled_cancellation_removed", trial_end + 12 * DAY, "active"),
        event(6, "payment_refunded", trial_end + 13 * DAY, "active", txn(6, "refund", 1000, True)),
        event(
            7,
            "subscription_cancelled",
            trial_end + 60 * DAY,
            "cancelled",
            cancelled_at=trial_end + 60 * DAY,
        ),
    ]
    return [("chargebee", e) for e in events]


def recurly_history(i: int, recurly) -> list[tuple[str, dict]]:
    """Recurly's notifications name objects; its API (the fake) serves their latest state."""
    uuid, account, email = f"{i:08d}aaaabbbbccccdddd{i:08d}", f"acct{i}", f"recurly{i}@example.com"
    recurly.subscription(
        p.recurly_subscription(
            uuid,
            account,
            email,
            "canceled",
            updated_at="2026-11-01T00:00:00Z",
            unit_amount=39.0,
            quantity=2,
            canceled_at="2026-11-01T00:00:00Z",
            expires_at="2099-12-01T00:00:00Z",
        )
    )
    for n in (3, 5):
        recurly.transaction(
            p.recurly_transaction(f"tx{i}x{n}", account, email, amount=78.0, sub_uuid=uuid)
        )

    def note(n, object_type, kind, at, obj_uuid=uuid):
        return p.recurly_notification(f"rc{i}x{n}", object_type, kind, obj_uuid, at=at)

    events = [
        note(0, "subscription", "created", "2026-09-21T00:00:00Z"),
        note(1, "subscription", "updated", "2026-10-01T00:00:00Z"),
        note(2, "subscription", "renewed", "2026-10-21T00:00:00Z"),
        note(3, "payment", "succeeded", "2026-10-21T00:00:01Z", f"tx{i}x3"),
        note(4, "subscription", "canceled", "2026-11-01T00:00:00Z"),
        note(5, "payment", "refunded", "2026-11-02T00:00:00Z", f"tx{i}x5"),
    ]
    return [("recurly", e) for e in events]
