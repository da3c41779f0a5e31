"""The three webhook endpoints. Each verifies the delivery on the raw body (nothing is read or
stored otherwise), checks it is an event with an id, stores it raw and answers at once;
a Celery task processes it (billing.processing)."""

import json

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing import signatures
from billing.deliveries import delivery_store
from billing.models import Provider
from segflow.json_input import find_unstorable_value


class BadDelivery(ValueError):
    """A verified body that is not an event Segflow can store (400)."""


def _error(status: int, detail: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"detail": detail}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _body_text(request: HttpRequest) -> str:
    try:
        return request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadDelivery("The body is not UTF-8 text.") from None


def _json_object(text: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError:
        raise BadDelivery("The body is not JSON.") from None
    if not isinstance(data, dict):
        raise BadDelivery("The body must be a JSON object (the provider's event).")
    bad = find_unstorable_value(data)
    if bad is not None:
        # NUL characters, lone surrogates, non-finite numbers: PostgreSQL refuses them
        raise BadDelivery(f"The event holds a value that cannot be stored, at '{bad}'.")
    return data


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > 255 or "\x00" in value:
        raise BadDelivery(f"The event has no valid '{key}'.")
    return value.strip()


def _store(provider: str, event_id: str, event_type: str, payload: dict) -> JsonResponse:
    stored = delivery_store(
        provider=provider,
        provider_event_id=event_id,
        event_type=event_type[:100],
        payload=payload,
        now=timezone.now(),
    )
    return JsonResponse({"received": True, "duplicate": stored.duplicate})


def _not_configured(name: str) -> JsonResponse:
    return _error(503, f"This webhook is not configured: set {name}.")


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    if not settings.STRIPE_WEBHOOK_SECRET:
        return _not_configured("STRIPE_WEBHOOK_SECRET")
    try:
        body = _body_text(request)
        signatures.stripe_verify(
            body=body,
            header=request.headers.get("Stripe-Signature"),
            secret=settings.STRIPE_WEBHOOK_SECRET,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE,
        )
        event = _json_object(body)
        event_id, event_type = _text(event, "id"), _text(event, "type")
        data = event.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
            raise BadDelivery("The event has no data.object.")
    except (signatures.SignatureError, BadDelivery) as exc:
        return _error(400, str(exc))
    return _store(Provider.STRIPE, event_id, event_type, event)


@csrf_exempt
@require_POST
def chargebee_webhook(request: HttpRequest) -> JsonResponse:
    if not settings.CHARGEBEE_WEBHOOK_USERNAME or not settings.CHARGEBEE_WEBHOOK_PASSWORD:
        return _not_configured("CHARGEBEE_WEBHOOK_USERNAME and CHARGEBEE_WEBHOOK_PASSWORD")
    try:
        signatures.chargebee_verify(
            authorization=request.headers.get("Authorization"),
            username=settings.CHARGEBEE_WEBHOOK_USERNAME,
            password=settings.CHARGEBEE_WEBHOOK_PASSWORD,
        )
    except signatures.SignatureError as exc:
        return _error(401, str(exc), **{"WWW-Authenticate": 'Basic realm="segflow-billing"'})
    try:
        event = _json_object(_body_text(request))
        event_id, event_type = _text(event, "id"), _text(event, "event_type")
        if not isinstance(event.get("content"), dict):
            raise BadDelivery("The event has no content.")
    except BadDelivery as exc:
        return _error(400, str(exc))
    return _store(Provider.CHARGEBEE, event_id, event_type, event)


@csrf_exempt
@require_POST
def recurly_webhook(request: HttpRequest) -> JsonResponse:
    if not settings.RECURLY_WEBHOOK_SECRET:
        return _not_configured("RECURLY_WEBHOOK_SECRET")
    try:
        body = _body_text(request)
        signatures.recurly_verify(
            body=body,
            header=request.headers.get("Recurly-Signature"),
            secret=settings.RECURLY_WEBHOOK_SECRET,
            tolerance=settings.RECURLY_WEBHOOK_TOLERANCE,
        )
        event = _json_object(body)
        event_id = _text(event, "id")
        event_type = f"{_text(event, 'object_type')}.{_text(event, 'event_type')}"
    except (signatures.SignatureError, BadDelivery) as exc:
        return _error(400, str(exc))
    return _store(Provider.RECURLY, event_id, event_type, event)
