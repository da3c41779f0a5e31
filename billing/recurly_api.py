"""Reads from Recurly's v3 API (RECURLY_API_KEY): its JSON notifications carry ids only, so
processing fetches the subscription or transaction they name. Errors raise RecurlyApiError
(the delivery fails with its message and can be reprocessed)."""

import httpx
from django.conf import settings

ACCEPT = "application/vnd.recurly.v2021-02-25+json"
# Tests point this at an httpx.MockTransport; None means the network.
transport: httpx.BaseTransport | None = None


class RecurlyApiError(Exception):
    pass


def recurly_get(path: str) -> dict:
    if not settings.RECURLY_API_KEY:
        raise RecurlyApiError(
            "RECURLY_API_KEY is not set: Recurly's JSON notifications carry ids only, and "
            "Segflow reads the objects from Recurly's API. Set it, then reprocess."
        )
    with httpx.Client(
        base_url=settings.RECURLY_API_URL,
        auth=(settings.RECURLY_API_KEY, ""),
        headers={"Accept": ACCEPT},
        timeout=settings.BILLING_API_TIMEOUT_SECONDS,
        transport=transport,
    ) as client:
        try:
            response = client.get(path)
        except httpx.HTTPError as exc:
            raise RecurlyApiError(f"GET {path}: {exc}") from None
    if response.status_code != 200:
        raise RecurlyApiError(f"GET {path}: HTTP {response.status_code} {response.text[:200]}")
    try:
        data = response.json()
    except ValueError:
        raise RecurlyApiError(f"GET {path}: the answer is not JSON") from None
    if not isinstance(data, dict):
        raise RecurlyApiError(f"GET {path}: the answer is not an object")
    return data
