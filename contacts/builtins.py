"""Built-in contact fields: their types (for segments) and the normalisation of their values,
with the one table (`BUILTIN_INPUTS`) every contact write path cleans client values through."""

import re
import zoneinfo
from collections.abc import Callable
from functools import cache, partial

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django_countries import countries

from segflow.json_input import find_unstorable_string

# Field key -> condition type (docs/segments.md). Custom fields may not shadow these.
BUILTIN_FIELD_TYPES: dict[str, str] = {
    "email": "text",
    "first_name": "text",
    "last_name": "text",
    "country": "text",
    "timezone": "text",
    "external_id": "text",
    "email_status": "choice",
    "lead_score": "number",
    "last_activity_at": "datetime",
    "created_at": "datetime",
}
# What the web pages call each built-in field.
BUILTIN_FIELD_LABELS: dict[str, str] = {
    "email": "Email",
    "first_name": "First name",
    "last_name": "Last name",
    "country": "Country",
    "timezone": "Time zone",
    "external_id": "External id",
    "email_status": "Email status",
    "lead_score": "Lead score",
    "last_activity_at": "Last activity",
    "created_at": "Created at",
}
RESERVED_KEYS = frozenset(BUILTIN_FIELD_TYPES) | {"id", "fields", "tags", "updated_at", "contact"}

NAME_MAX_LENGTH = 150
EXTERNAL_ID_MAX_LENGTH = 255
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
# Multi-line text (custom text values: notes, addresses) keeps tabs and line breaks.
_CONTROL_CHARS_BUT_LAYOUT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@cache
def _timezones_by_lower_name() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def check_no_control_chars(text: str, *, multiline: bool = False) -> None:
    """Names, tags and choices are one line: no C0 control character nor DEL. Multi-line text
    may hold tab, line feed and carriage return, nothing else of them."""
    if not multiline and _CONTROL_CHARS.search(text):
        raise ValueError("Must not contain control characters.")
    if multiline and _CONTROL_CHARS_BUT_LAYOUT.search(text):
        raise ValueError("Must not contain control characters other than tab and line breaks.")


def check_storable(text: str) -> None:
    """PostgreSQL text refuses NUL; UTF-8 (and so the database driver) lone surrogates. Django's
    email validator lets the latter through in a domain."""
    if find_unstorable_string(text) is not None:
        raise ValueError("Must not contain NUL characters or invalid code points.")


# Addresses Django's validate_email certainly accepts, already without spaces: a dot-atom of
# common ASCII characters @ ASCII labels (no leading or trailing hyphen) . a TLD of letters.
# ASCII only, so lower() cannot change the length or make a character valid: no re.IGNORECASE,
# under which [a-z] also matches the Kelvin sign.
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def normalize_email(value: object) -> str:
    if isinstance(value, str) and len(value) <= 254 and _PLAIN_EMAIL.fullmatch(value):
        # What the checks below return for such an address, at a fraction of the cost of
        # validate_email (docs/benchmarks.md).
        return value.lower()
    return normalize_email_checked(value)


def normalize_email_checked(value: object) -> str:
    """normalize_email without its fast path: Django's validator decides."""
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    check_storable(value)
    email = value.strip().lower()
    if len(email) > 254:
        raise ValueError("Must be at most 254 characters.")
    try:
        validate_email(email)
    except ValidationError:
        raise ValueError("Enter a valid email address.") from None
    return email


def normalize_optional_text(value: object, *, max_length: int) -> str | None:
    """Strip; empty means unset (None) so `is_set` has one meaning."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    text = value.strip()
    check_no_control_chars(text)
    check_storable(text)
    if len(text) > max_length:
        raise ValueError(f"Must be at most {max_length} characters.")
    return text or None


def normalize_country(value: object) -> str | None:
    text = normalize_optional_text(value, max_length=64)
    if text is None:
        return None
    code = text.upper()
    if len(code) != 2 or code not in countries:
        raise ValueError(f"'{text}' is not an ISO 3166 alpha-2 country code (e.g. FR, US).")
    return code


def normalize_timezone(value: object) -> str | None:
    name = normalize_optional_text(value, max_length=64)
    if name is None:
        return None
    canonical = _timezones_by_lower_name().get(name.lower())
    if canonical is None:
        raise ValueError(f"'{name}' is not an IANA time zone (e.g. Europe/Paris).")
    return canonical


def normalize_tag_name(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    name = value.strip()
    if not name:
        raise ValueError("Must not be blank.")
    if len(name) > 100:
        raise ValueError("Must be at most 100 characters.")
    check_no_control_chars(name)
    check_storable(name)
    return name


def normalize_email_input(value: object) -> str | None:
    """A contact's email as a client writes it: blank or null unsets it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return normalize_email(value)


def normalize_external_id(value: object) -> str | None:
    """A string or an integer (ids are often numeric in the client's system), as its digits."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("Must be a string or an integer.")
    return normalize_optional_text(str(value), max_length=EXTERNAL_ID_MAX_LENGTH)


# The built-in columns a client writes (API, CSV import, admin), each with the function that
# checks and normalises its value (ValueError with a readable message). email_status and
# lead_score are Segflow's own; the admin alone edits them.
BUILTIN_INPUTS: dict[str, Callable[[object], object]] = {
    "email": normalize_email_input,
    "first_name": partial(normalize_optional_text, max_length=NAME_MAX_LENGTH),
    "last_name": partial(normalize_optional_text, max_length=NAME_MAX_LENGTH),
    "country": normalize_country,
    "timezone": normalize_timezone,
    "external_id": normalize_external_id,
}
