import json

import httpx
import pytest
from django.utils import timezone

from billing import recurly_api
from billing.models import DeliveryStatus, WebhookDelivery
from billing.processing import delivery_process
from tests.billing import payloads


@pytest.fixture(autouse=True)
def billing_settings(settings):
    settings.STRIPE_WEBHOOK_SECRET = payloads.STRIPE_SECRET
    settings.STRIPE_API_KEY = ""
    settings.CHARGEBEE_WEBHOOK_USERNAME = payloads.CHARGEBEE_USER
    settings.CHARGEBEE_WEBHOOK_PASSWORD = payloads.CHARGEBEE_PASSWORD
    settings.RECURLY_WEBHOOK_SECRET = payloads.RECURLY_SECRET
    settings.RECURLY_API_KEY = "recurly-private-key"
    settings.RECURLY_API_URL = "https://v3.recurly.test"
    return settings


class FakeRecurlyApi:
    """Recurly's API as far as processing reads it: objects by path, 404 otherwise."""

    def __init__(self):
        self.objects: dict[str, dict] = {"/plans/plan-gold": payloads.RECURLY_PLAN}
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        obj = self.objects.get(request.url.path)
        if obj is None:
            return httpx.Response(404, json={"error": {"type": "not_found"}})
        return httpx.Response(200, json=obj)

    def subscription(self, obj: dict) -> None:
        self.objects[f"/subscriptions/uuid-{obj['uuid']}"] = obj

    def transaction(self, obj: dict) -> None:
        self.objects[f"/transactions/uuid-{obj['uuid']}"] = obj


@pytest.fixture
def recurly(monkeypatch):
    fake = FakeRecurlyApi()
    monkeypatch.setattr(recurly_api, "transport", httpx.MockTransport(fake.handle))
    return fake


def post_stripe(client, payload: dict, **headers):
    body = json.dumps(payload)
    headers.setdefault("HTTP_STRIPE_SIGNATURE", payloads.stripe_signature(body))
    return client.post("/webhooks/stripe", body, content_type="application/json", **headers)


def post_chargebee(client, payload: dict, **headers):
    headers.setdefault("HTTP_AUTHORIZATION", payloads.chargebee_auth())
    return client.post(
        "/webhooks/chargebee", json.dumps(payload), content_type="application/json", **headers
    )


def post_recurly(client, payload: dict, **headers):
    body = json.dumps(payload)
    headers.setdefault("HTTP_RECURLY_SIGNATURE", payloads.recurly_signature(body))
    return client.post("/webhooks/recurly", body, content_type="application/json", **headers)


def process_pending() -> int:
    """Process pending deliveries (oldest first) until none is left, as workers would; the
    ones released from waiting on the way are processed too. Returns how many ran."""
    ran = 0
    while True:
        ids = list(
            WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING)
            .order_by("received_at", "pk")
            .values_list("pk", flat=True)
        )
        if not ids:
            return ran
        for delivery_id in ids:
            delivery_process(delivery_id=delivery_id, now=timezone.now())
            ran += 1
