"""Checks that a delivery comes from its provider, on the raw body, before anything is read
or stored: Stripe with the stripe package's own verification, Chargebee's basic auth, Recurly's
HMAC signature header. Each raises SignatureError with a message for the response."""

import base64
import binascii
import hashlib
import hmac
import time

import stripe


class SignatureError(Exception):
    """The delivery is not proven to come from the provider."""


def stripe_verify(*, body: str, header: str | None, secret: str, tolerance: int) -> None:
    if not header:
        raise SignatureError("Missing Stripe-Signature header.")
    try:
        stripe.WebhookSignature.verify_header(body, header, secret, tolerance=tolerance)
    except stripe.SignatureVerificationError as exc:
        raise SignatureError(f"Invalid Stripe signature: {exc.user_message or exc}") from None


def chargebee_verify(*, authorization: str | None, username: str, password: str) -> None:
    """HTTP basic auth, as set on the Chargebee webhook; compared in constant time."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise SignatureError("Missing basic authentication.")
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("Malformed basic authentication.") from None
    expected = f"{username}:{password}".encode()
    if not hmac.compare_digest(given, expected):
        raise SignatureError("Wrong webhook credentials.")


def recurly_sign(*, body: str, secret: str, timestamp_ms: int) -> str:
    """The recurly-signature header value Recurly would send (tests and docs use it)."""
    return f"{timestamp_ms},{_recurly_digest(body, secret, timestamp_ms)}"


def recurly_verify(
    *, body: str, header: str | None, secret: str, tolerance: int, now: float | None = None
) -> None:
    """`recurly-signature: <unix ms>,<hex HMAC-SHA256 of "<unix ms>.<body>">[,<another>...]`;
    several signatures while Recurly rotates the key, any one of them may match."""
    if not header:
        raise SignatureError("Missing recurly-signature header.")
    stamp, *signatures = [part.strip() for part in header.split(",")]
    try:
        timestamp_ms = int(stamp)
    except ValueError:
        raise SignatureError("Malformed recurly-signature header.") from None
    if not signatures:
        raise SignatureError("Malformed recurly-signature header.")
    now_ms = (time.time() if now is None else now) * 1000
    if abs(now_ms - timestamp_ms) > tolerance * 1000:
        raise SignatureError("Recurly signature timestamp outside the tolerance window.")
    expected = _recurly_digest(body, secret, timestamp_ms)
    if not any(hmac.compare_digest(expected.encode(), sig.encode()) for sig in signatures):
        raise SignatureError("Invalid Recurly signature.")


def _recurly_digest(body: str, secret: str, timestamp_ms: int) -> str:
    message = f"{timestamp_ms}.{body}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
