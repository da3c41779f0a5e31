"""Provider payloads shaped like each provider's documented events, and signed the way each
provider signs them. Builders take the few values a test cares about; the rest of each object
is what the provider's API reference shows for it."""

import base64
import hashlib
import hmac
import json
import time

STRIPE_SECRET = "whsec_test_secret"
CHARGEBEE_USER, CHARGEBEE_PASSWORD = "segflow", "cb-password"
RECURLY_SECRET = "recurly-endpoint-secret"
T0 = 1_790_000_000  # 2026-09-21, Unix seconds


# --- Stripe -----------------------------------------------------------------------------------
def stripe_event(event_id: str, kind: str, obj: dict, *, created: int, previous=None) -> dict:
    data = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }


def stripe_customer(customer_id: str, email: str, *, created: int = T0) -> dict:
    return {
        "id": customer_id,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": created,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "email": email,
        "invoice_prefix": "7D11B4E",
        "invoice_settings": {"custom_fields": None, "default_payment_method": None},
        "livemode": False,
        "metadata": {},
        "name": "Jenny Rosen",
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
    }


def stripe_items(*prices: tuple[int, str, int, str | None]) -> dict:
    """(unit_amount in cents, interval, quantity, nickname) per item."""
    data = []
    for index, (amount, interval, quantity, nickname) in enumerate(prices):
        data.append(
            {
                "id": f"si_{index}",
                "object": "subscription_item",
                "created": T0,
                "metadata": {},
                "price": {
                    "id": f"price_{amount}_{interval}",
                    "object": "price",
                    "active": True,
                    "billing_scheme": "per_unit",
                    "created": T0,
                    "currency": "usd",
                    "livemode": False,
                    "lookup_key": None,
                    "metadata": {},
                    "nickname": nickname,
                    "product": "prod_NWjs8kKbJWmuuc",
                    "recurring": {
                        "aggregate_usage": None,
                        "interval": interval,
                        "interval_count": 1,
                        "trial_period_days": None,
                        "usage_type": "licensed",
                    },
                    "tax_behavior": "unspecified",
                    "tiers_mode": None,
                    "transform_quantity": None,
                    "type": "recurring",
                    "unit_amount": amount,
                    "unit_amount_decimal": str(amount),
                },
                "quantity": quantity,
                "subscription": "sub_x",
                "tax_rates": [],
            }
        )
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "total_count": len(data),
        "url": "/v1/subscription_items?subscription=sub_x",
    }


def stripe_subscription(
    sub_id: str,
    customer: str,
    status: str,
    *,
    items: dict | None = None,
    trial_end: int | None = None,
    cancel_at_period_end: bool = False,
    canceled_at: int | None = None,
    ended_at: int | None = None,
    default_payment_method: str | None = None,
    start_date: int = T0,
) -> dict:
    return {
        "id": sub_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"enabled": False, "liability": None},
        "billing_cycle_anchor": start_date,
        "cancel_at": None,
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": canceled_at,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": start_date,
        "currency": "usd",
        "current_period_end": start_date + 30 * 86400,
        "current_period_start": start_date,
        "customer": customer,
        "days_until_due": None,
        "default_payment_method": default_payment_method,
        "default_source": None,
        "description": None,
        "discount": None,
        "ended_at": ended_at,
        "items": items or stripe_items((2900, "month", 1, "Pro monthly")),
        "latest_invoice": "in_1MowQWLkdIwHu7ixuzkSPfKd",
        "livemode": False,
        "metadata": {},
        "start_date": start_date,
        "status": status,
        "trial_end": trial_end,
        "trial_start": start_date if trial_end else None,
    }


def stripe_invoice(
    invoice_id: str, customer: str, email: str, *, paid: bool, amount: int, sub_id: str
) -> dict:
    return {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "US",
        "amount_due": amount,
        "amount_paid": amount if paid else 0,
        "amount_remaining": 0 if paid else amount,
        "attempt_count": 1,
        "attempted": True,
        "billing_reason": "subscription_cycle",
        "collection_method": "charge_automatically",
        "currency": "usd",
        "customer": customer,
        "customer_email": email,
        "customer_name": "Jenny Rosen",
        "hosted_invoice_url": "https://invoice.stripe.com/i/acct_x/test",
        "lines": {"object": "list", "data": [], "has_more": False, "total_count": 0},
        "paid": paid,
        "status": "paid" if paid else "open",
        "subscription": sub_id,
        "total": amount,
    }


def stripe_charge(charge_id: str, customer: str, *, amount: int, refunded: int) -> dict:
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": refunded,
        "billing_details": {"address": None, "email": None, "name": None, "phone": None},
        "captured": True,
        "created": T0,
        "currency": "usd",
        "customer": customer,
        "invoice": "in_1MowQWLkdIwHu7ixuzkSPfKd",
        "paid": True,
        "receipt_email": None,
        "refunded": refunded == amount,
        "status": "succeeded",
    }


def stripe_signature(body: str, *, secret: str = STRIPE_SECRET, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


# --- Chargebee --------------------------------------------------------------------------------
def chargebee_event(event_id: str, kind: str, content: dict, *, occurred_at: int) -> dict:
    return {
        "id": event_id,
        "occurred_at": occurred_at,
        "source": "admin",
        "user": "full_access_key_v1",
        "object": "event",
        "api_version": "v2",
        "content": content,
        "event_type": kind,
        "webhook_status": "scheduled",
        "webhooks": [
            {"id": "whv2_Azz5aITsMVdKtVWV", "webhook_status": "scheduled", "object": "webhook"}
        ],
    }


def chargebee_customer(customer_id: str, email: str, *, card: bool = False) -> dict:
    return {
        "id": customer_id,
        "first_name": "Jenny",
        "last_name": "Rosen",
        "email": email,
        "auto_collection": "on",
        "net_term_days": 0,
        "allow_direct_debit": False,
        "created_at": T0,
        "taxability": "taxable",
        "updated_at": T0,
        "pii_cleared": "active",
        "channel": "web",
        "resource_version": T0 * 1000,
        "deleted": False,
        "object": "customer",
        "card_status": "valid" if card else "no_card",
        "promotional_credits": 0,
        "refundable_credits": 0,
        "excess_payments": 0,
        "unbilled_charges": 0,
        "preferred_currency_code": "USD",
        **({"primary_payment_source_id": "pm_169vujSMvQ3wP3"} if card else {}),
    }


def chargebee_subscription(
    sub_id: str,
    customer_id: str,
    status: str,
    *,
    version_ms: int,
    unit_price: int = 4900,
    quantity: int = 1,
    period_unit: str = "month",
    trial_end: int | None = None,
    cancelled_at: int | None = None,
    due_invoices: int = 0,
) -> dict:
    return {
        "id": sub_id,
        "billing_period": 1,
        "billing_period_unit": period_unit,
        "customer_id": customer_id,
        "status": status,
        "trial_start": T0 if trial_end else None,
        "trial_end": trial_end,
        "current_term_start": T0,
        "current_term_end": T0 + 30 * 86400,
        "next_billing_at": T0 + 30 * 86400,
        "created_at": T0,
        "started_at": T0,
        "updated_at": version_ms // 1000,
        "has_scheduled_changes": False,
        "channel": "web",
        "resource_version": version_ms,
        "deleted": False,
        "object": "subscription",
        "currency_code": "USD",
        "subscription_items": [
            {
                "item_price_id": f"pro-USD-{period_unit}ly",
                "item_type": "plan",
                "quantity": quantity,
                "unit_price": unit_price,
                "amount": unit_price * quantity,
                "free_quantity": 0,
                "object": "subscription_item",
            }
        ],
        "due_invoices_count": due_invoices,
        "mrr": 0,
        "exchange_rate": 1.0,
        "base_currency_code": "USD",
        **({"cancelled_at": cancelled_at} if cancelled_at else {}),
    }


def chargebee_transaction(
    txn_id: str, customer_id: str, sub_id: str, *, amount: int, kind: str, ok: bool
) -> dict:
    return {
        "id": txn_id,
        "customer_id": customer_id,
        "subscription_id": sub_id,
        "gateway_account_id": "gw_1mk51R4QrLmQtYMht",
        "payment_source_id": "pm_169vujSMvQ3wP3",
        "payment_method": "card",
        "gateway": "stripe",
        "type": kind,
        "date": T0,
        "exchange_rate": 1.0,
        "amount": amount,
        "id_at_gateway": "ch_1Jc2fF2eZvKYlo2C",
        "status": "success" if ok else "failure",
        "updated_at": T0,
        "resource_version": T0 * 1000,
        "deleted": False,
        "object": "transaction",
        "masked_card_number": "************1111",
        "currency_code": "USD",
        "base_currency_code": "USD",
        "amount_unused": 0,
        "linked_invoices": [],
    }


def chargebee_auth(user: str = CHARGEBEE_USER, password: str = CHARGEBEE_PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- Recurly ----------------------------------------------------------------------------------
def recurly_notification(event_id: str, object_type: str, kind: str, uuid: str, *, at: str) -> dict:
    return {
        "id": event_id,
        "object_type": object_type,
        "site_id": "qc326l1hl8k9",
        "event_type": kind,
        "event_time": at,
        "uuid": uuid,
    }


def recurly_subscription(
    uuid: str,
    account_code: str,
    email: str,
    state: str,
    *,
    updated_at: str,
    unit_amount: float = 39.0,
    quantity: int = 1,
    trial_ends_at: str | None = None,
    activated_at: str | None = "2026-09-21T00:00:00Z",
    canceled_at: str | None = None,
    expires_at: str | None = None,
) -> dict:
    return {
        "id": f"sub-{uuid[:8]}",
        "object": "subscription",
        "uuid": uuid,
        "account": {
            "id": f"acct-{account_code}",
            "object": "account",
            "code": account_code,
            "email": email,
            "first_name": "Verena",
            "last_name": "Example",
            "company": None,
            "parent_account_id": None,
            "bill_to": "self",
        },
        "plan": {"id": "plan-gold", "object": "plan", "code": "gold", "name": "Gold plan"},
        "state": state,
        "shipping": None,
        "coupon_redemptions": [],
        "pending_change": None,
        "current_period_started_at": "2026-09-21T00:00:00Z",
        "current_period_ends_at": "2099-10-21T00:00:00Z",
        "trial_started_at": "2026-09-21T00:00:00Z" if trial_ends_at else None,
        "trial_ends_at": trial_ends_at,
        "auto_renew": state != "canceled",
        "currency": "USD",
        "unit_amount": unit_amount,
        "tax_inclusive": False,
        "quantity": quantity,
        "add_ons": [],
        "add_ons_total": 0.0,
        "subtotal": unit_amount * quantity,
        "collection_method": "automatic",
        "net_terms": 0,
        "expiration_reason": None,
        "custom_fields": [],
        "created_at": "2026-09-21T00:00:00Z",
        "updated_at": updated_at,
        "activated_at": activated_at,
        "canceled_at": canceled_at,
        "expires_at": expires_at,
    }


RECURLY_PLAN = {
    "id": "plan-gold",
    "object": "plan",
    "code": "gold",
    "state": "active",
    "name": "Gold plan",
    "interval_unit": "months",
    "interval_length": 1,
    "currencies": [{"currency": "USD", "unit_amount": 39.0}],
}


def recurly_transaction(
    uuid: str, account_code: str, email: str, *, amount: float, sub_uuid: str
) -> dict:
    return {
        "id": f"txn-{uuid[:8]}",
        "object": "transaction",
        "uuid": uuid,
        "original_transaction_id": None,
        "account": {
            "id": f"acct-{account_code}",
            "object": "account",
            "code": account_code,
            "email": email,
        },
        "invoice": {
            "id": "inv-1",
            "object": "invoice_mini",
            "number": "1001",
            "type": "charge",
            "state": "paid",
        },
        "subscription_ids": [sub_uuid],
        "type": "purchase",
        "origin": "recurring",
        "currency": "USD",
        "amount": amount,
        "status": "success",
        "success": True,
        "refunded": False,
        "created_at": "2026-09-21T00:00:00Z",
    }


def recurly_signature(body: str, *, secret: str = RECURLY_SECRET, at_ms: int | None = None) -> str:
    at_ms = int(time.time() * 1000) if at_ms is None else at_ms
    digest = hmac.new(secret.encode(), f"{at_ms}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"{at_ms},{digest}"


def body_of(payload: dict) -> str:
    return json.dumps(payload)
