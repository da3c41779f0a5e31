"""One event as a client sends it: validation and normalisation (`event_parse`), before
contacts.ingest stores it. Every error of an event is reported at once, keyed by field."""

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache

from contacts.builtins import EXTERNAL_ID_MAX_LENGTH, normalize_email
from contacts.field_types import parse_datetime_value
from segflow.json_input import find_unstorable_string, storable_json

MAX_PROPERTIES_BYTES = 32 * 1024
EVENT_NAME_MAX_LENGTH = 200
FUTURE_TOLERANCE = dt.timedelta(days=1)
EVENT_NAME_PATTERN = re.compile(r"^[^\x00-\x1f\x7f]+$")
_ALLOWED_KEYS = {"email", "external_id", "name", "properties", "occurred_at", "idempotency_key"}


@dataclass(slots=True)
class EventInput:
    name: str
    occurred_at: dt.datetime
    email: str | None = None
    external_id: str | None = None
    properties: dict = field(default_factory=dict)
    idempotency_key: str | None = None
    # `properties` as JSON when event_parse already encoded it (for its size check).
    properties_json: str | None = field(default=None, repr=False)

    def properties_as_json(self) -> str:
        return (
            self.properties_json
            if self.properties_json is not None
            else json.dumps(self.properties)
        )


def event_parse(raw: object, *, now: dt.datetime) -> tuple[EventInput | None, dict[str, list]]:
    """Validate one event body. Returns (event, {}) or (None, {path: [messages]})."""
    if not isinstance(raw, dict):
        return None, {"": ["Each event must be a JSON object."]}
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(raw) - _ALLOWED_KEYS)
    for key in unknown:
        errors[key] = [f"Unknown key. Allowed: {', '.join(sorted(_ALLOWED_KEYS))}."]

    email = raw.get("email")
    if email is not None:
        email, error = _email_or_error(email) if isinstance(email, str) else (None, None)
        if email is None:
            errors["email"] = [error or "Must be a string."]
    external_id = raw.get("external_id")
    if external_id is not None:
        if isinstance(external_id, int) and not isinstance(external_id, bool):
            external_id = str(external_id)
        if not isinstance(external_id, str) or not external_id.strip():
            errors["external_id"] = ["Must be a non-empty string."]
            external_id = None
        elif len(external_id.strip()) > EXTERNAL_ID_MAX_LENGTH:
            errors["external_id"] = [f"Must be at most {EXTERNAL_ID_MAX_LENGTH} characters."]
            external_id = None
        elif find_unstorable_string(external_id) is not None:
            errors["external_id"] = ["Contains a NUL character or an invalid code point."]
            external_id = None
        else:
            external_id = external_id.strip()
    if raw.get("email") is None and raw.get("external_id") is None:
        errors["email"] = ["Give the contact's email or external_id."]

    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = ["Required: the event name, e.g. 'login' or 'purchase'."]
    elif len(name.strip()) > EVENT_NAME_MAX_LENGTH:
        errors["name"] = [f"Must be at most {EVENT_NAME_MAX_LENGTH} characters."]
    elif not EVENT_NAME_PATTERN.match(name):
        errors["name"] = ["Must not contain control characters."]
    elif find_unstorable_string(name) is not None:
        errors["name"] = ["Contains an invalid code point."]

    properties = raw.get("properties")
    properties_json = None
    if properties is None:
        properties = {}
    elif not isinstance(properties, dict):
        errors["properties"] = ["Must be a JSON object."]
    else:
        properties_json, bad = storable_json(properties, "properties")
        if bad is not None:
            errors[bad] = [
                "Contains a NUL character, an invalid code point, a number beyond a double's "
                "range or is nested too deep."
            ]
        elif len(properties_json) > MAX_PROPERTIES_BYTES:
            errors["properties"] = [f"Must be at most {MAX_PROPERTIES_BYTES} bytes as JSON."]

    occurred_at = now
    if raw.get("occurred_at") is not None:
        try:
            occurred_at = parse_datetime_value(raw["occurred_at"])
        except ValueError as exc:
            errors["occurred_at"] = [str(exc)]
        else:
            if occurred_at > now + FUTURE_TOLERANCE:
                errors["occurred_at"] = ["Must not be more than a day in the future."]

    key = raw.get("idempotency_key")
    if key is not None:
        if not isinstance(key, str) or not key or len(key) > 255:
            errors["idempotency_key"] = ["Must be a string of 1 to 255 characters."]
        elif find_unstorable_string(key) is not None:
            errors["idempotency_key"] = ["Contains a NUL character or an invalid code point."]

    if errors:
        return None, errors
    return (
        EventInput(
            name=name.strip(),
            occurred_at=occurred_at,
            email=email,
            external_id=external_id,
            properties=properties,
            idempotency_key=key,
            properties_json=properties_json,
        ),
        {},
    )


@lru_cache(maxsize=32768)
def _email_or_error(value: str) -> tuple[str | None, str | None]:
    """normalize_email, remembered: the same contacts send events again and again. A hit
    costs less than even normalize_email's fast path, and an address off that path (spaces
    around it, non-ASCII, unusual characters) would take the full validation each time."""
    try:
        return normalize_email(value), None
    except ValueError as exc:
        return None, str(exc)
