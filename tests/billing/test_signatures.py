"""Each endpoint refuses a delivery it cannot attribute to its provider, and stores nothing."""

import json
import time

import pytest

from billing.models import WebhookDelivery
from tests.billing import payloads
from tests.billing.conftest import post_chargebee, post_recurly, post_stripe

pytestmark = pytest.mark.django_db


def _stripe_customer_created(event_id="evt_1"):
    return payloads.stripe_event(
        event_id,
        "customer.created",
        payloads.stripe_customer("cus_1", "jenny@example.com"),
        created=payloads.T0,
    )


def _recurly_created(event_id="ra8foq26o2dt"):
    return payloads.recurly_notification(
        event_id,
        "subscription",
        "created",
        "63ab531e1d5b1d47eaf1ef44eeb853c3",
        at="2026-09-21T00:00:00Z",
    )


def test_stripe_valid_signature_is_stored(client):
    response = post_stripe(client, _stripe_customer_created())

    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    assert WebhookDelivery.objects.get().provider_event_id == "evt_1"


def test_stripe_tampered_body_is_refused(client):
    payload = _stripe_customer_created()
    signature = payloads.stripe_signature(json.dumps(payload))
    payload["data"]["object"]["email"] = "mallory@example.com"

    response = post_stripe(client, payload, HTTP_STRIPE_SIGNATURE=signature)

    assert response.status_code == 400
    assert "signature" in response.json()["detail"].lower()
    assert not WebhookDelivery.objects.exists()


def test_stripe_signature_older_than_the_tolerance_is_refused(client, settings):
    payload = _stripe_customer_created()
    old = int(time.time()) - settings.STRIPE_WEBHOOK_TOLERANCE - 5

    response = post_stripe(
        client,
        payload,
        HTTP_STRIPE_SIGNATURE=payloads.stripe_signature(json.dumps(payload), at=old),
    )

    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()


def test_stripe_signature_with_another_secret_is_refused(client):
    payload = _stripe_customer_created()
    signature = payloads.stripe_signature(json.dumps(payload), secret="whsec_other")

    response = post_stripe(client, payload, HTTP_STRIPE_SIGNATURE=signature)

    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()


def test_stripe_missing_signature_is_refused(client):
    response = client.post(
        "/webhooks/stripe", json.dumps(_stripe_customer_created()), content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "Missing Stripe-Signature header."
    assert not WebhookDelivery.objects.exists()


def test_stripe_endpoint_without_a_secret_answers_503(client, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""

    response = post_stripe(client, _stripe_customer_created())

    assert response.status_code == 503
    assert not WebhookDelivery.objects.exists()


def test_chargebee_valid_basic_auth_is_stored(client):
    payload = payloads.chargebee_event(
        "ev_1",
        "customer_created",
        {"customer": payloads.chargebee_customer("cb_1", "a@example.com")},
        occurred_at=payloads.T0,
    )

    response = post_chargebee(client, payload)

    assert response.status_code == 200
    assert WebhookDelivery.objects.get().event_type == "customer_created"


@pytest.mark.parametrize(
    "authorization",
    [None, payloads.chargebee_auth(password="wrong"), "Basic !!!notbase64", "Bearer x"],
    ids=["missing", "wrong-password", "malformed", "other-scheme"],
)
def test_chargebee_bad_or_missing_auth_is_401(client, authorization):
    payload = payloads.chargebee_event(
        "ev_1",
        "customer_created",
        {"customer": payloads.chargebee_customer("cb_1", "a@example.com")},
        occurred_at=payloads.T0,
    )
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    if authorization is None:
        response = client.post(
            "/webhooks/chargebee", json.dumps(payload), content_type="application/json"
        )
    else:
        response = post_chargebee(client, payload, **headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert not WebhookDelivery.objects.exists()


def test_recurly_valid_signature_is_stored(client):
    response = post_recurly(client, _recurly_created())

    assert response.status_code == 200
    assert WebhookDelivery.objects.get().event_type == "subscription.created"


def test_recurly_accepts_any_of_several_signatures_during_key_rotation(client):
    payload = _recurly_created()
    body = json.dumps(payload)
    at_ms, good = payloads.recurly_signature(body).split(",")
    header = f"{at_ms},{'0' * 64},{good}"

    response = post_recurly(client, payload, HTTP_RECURLY_SIGNATURE=header)

    assert response.status_code == 200


def test_recurly_tampered_body_is_refused(client):
    payload = _recurly_created()
    signature = payloads.recurly_signature(json.dumps(payload))
    payload["uuid"] = "ffffffffffffffffffffffffffffffff"

    response = post_recurly(client, payload, HTTP_RECURLY_SIGNATURE=signature)

    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()


def test_recurly_expired_timestamp_is_refused(client, settings):
    payload = _recurly_created()
    old_ms = int((time.time() - settings.RECURLY_WEBHOOK_TOLERANCE - 5) * 1000)

    response = post_recurly(
        client,
        payload,
        HTTP_RECURLY_SIGNATURE=payloads.recurly_signature(json.dumps(payload), at_ms=old_ms),
    )

    assert response.status_code == 400
    assert "tolerance" in response.json()["detail"]
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("header", [None, "", "notanumber,abc", "1790000000000"])
def test_recurly_missing_or_malformed_signature_is_refused(client, header):
    payload = _recurly_created()
    if header is None:
        response = client.post(
            "/webhooks/recurly", json.dumps(payload), content_type="application/json"
        )
    else:
        response = post_recurly(client, payload, HTTP_RECURLY_SIGNATURE=header)

    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()
