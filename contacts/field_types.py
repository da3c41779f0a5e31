"""Custom field values: validation and normalisation to the field's type.

Every write path (API, CSV import, billing webhooks, flow steps) goes through
`normalize_custom_fields`, so stored JSON always has one shape per type:
text/choice -> str, number -> int or float, boolean -> bool,
date -> "YYYY-MM-DD", datetime -> ISO 8601 in UTC ("2026-11-24T06:04:12Z").
Text may hold tabs and line breaks but no other control character (names and tags, one line,
hold none: contacts.builtins.check_no_control_chars).
"""

import datetime as dt
import math
import re
from collections.abc import Mapping

from django.utils.dateparse import parse_date, parse_datetime

from contacts.builtins import check_no_control_chars, check_storable
from contacts.models import CustomField, FieldType

TEXT_MAX_LENGTH = 2000
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


def _as_text(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("Must be a string.")
    text = str(value).strip()
    if len(text) > TEXT_MAX_LENGTH:
        raise ValueError(f"Must be at most {TEXT_MAX_LENGTH} characters.")
    check_no_control_chars(text, multiline=True)
    check_storable(text)
    return text


def _as_number(value: object) -> int | float:
    if isinstance(value, bool):
        raise ValueError("Must be a number.")
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"'{text}' is not a number.") from None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("Must be a finite number.")
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
    if isinstance(value, int):
        if abs(value) >= 2**63:
            raise ValueError("Number is too large.")
        return value
    raise ValueError("Must be a number.")


def _as_boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError("Must be true or false.")


def _as_date(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("Must be a date string (YYYY-MM-DD).")
    try:
        parsed = parse_date(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError(f"'{value}' is not a date (YYYY-MM-DD).")
    return parsed.isoformat()


def parse_datetime_value(value: object) -> dt.datetime:
    """ISO 8601 string (naive means UTC) or Unix seconds -> aware UTC datetime."""
    if isinstance(value, bool):
        raise ValueError("Must be an ISO 8601 date-time.")
    if isinstance(value, int | float):
        if not math.isfinite(value) or not 0 <= value < 253402300800:
            raise ValueError("Unix timestamp out of range.")
        try:
            return dt.datetime.fromtimestamp(value, tz=dt.UTC)
        except (OverflowError, ValueError):  # rounds up to year 10000
            raise ValueError("Unix timestamp out of range.") from None
    if not isinstance(value, str):
        raise ValueError("Must be an ISO 8601 date-time.")
    parsed = parse_iso_datetime(value)
    if parsed is None:
        raise ValueError(f"'{value}' is not an ISO 8601 date-time (e.g. 2026-11-24T09:30:00Z).")
    return parsed


def parse_iso_datetime(text: str) -> dt.datetime | None:
    """An ISO 8601 date-time string (naive means UTC) -> aware UTC datetime; None when the
    text is not one. The one parser of date-times in client input (fields, events, segment
    bounds, query strings)."""
    try:
        parsed = parse_datetime(text.strip())
    except ValueError:  # well-formed but impossible, e.g. month 13
        parsed = None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:  # "0001-01-01T00:00+01:00" is in year 0 in UTC
        raise ValueError(f"'{text}' is out of range (years 1 to 9999 in UTC).") from None


def format_datetime(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _as_datetime(value: object) -> str:
    return format_datetime(parse_datetime_value(value))


def _as_choice(value: object, choices: list[str]) -> str:
    text = _as_text(value)
    for choice in choices:
        if choice.lower() == text.lower():
            return choice
    allowed = ", ".join(repr(c) for c in choices[:20])
    raise ValueError(f"'{text}' is not one of the field's choices ({allowed}).")


def normalize_value(field: CustomField, value: object) -> object:
    """The stored form of `value` for `field`; raises ValueError with a readable message."""
    match field.type:
        case FieldType.TEXT:
            return _as_text(value)
        case FieldType.NUMBER:
            return _as_number(value)
        case FieldType.BOOLEAN:
            return _as_boolean(value)
        case FieldType.DATE:
            return _as_date(value)
        case FieldType.DATETIME:
            return _as_datetime(value)
        case FieldType.CHOICE:
            return _as_choice(value, field.choices or [])
    raise ValueError(f"Unknown field type {field.type!r}.")


def normalize_custom_fields(
    values: object,
    *,
    definitions: Mapping[str, CustomField],
    path: str = "fields",
) -> tuple[dict[str, object], dict[str, list[str]]]:
    """Validate a {key: value} mapping. Returns (normalised, errors by path).

    A None value means "remove this key" and is kept as None for the caller to apply.
    """
    if not isinstance(values, Mapping):
        return {}, {path: ["Must be an object of {field key: value}."]}
    cleaned: dict[str, object] = {}
    errors: dict[str, list[str]] = {}
    for key, value in values.items():
        item_path = f"{path}.{key}"
        field = definitions.get(key)
        if field is None:
            errors[item_path] = [
                f"Unknown field '{key}'. Create it first (POST /api/v1/fields) or remove it."
            ]
            continue
        if value is None:
            cleaned[key] = None
            continue
        try:
            cleaned[key] = normalize_value(field, value)
        except ValueError as exc:
            errors[item_path] = [str(exc)]
    return cleaned, errors


def field_definitions() -> dict[str, CustomField]:
    return {field.key: field for field in CustomField.objects.all()}


def apply_field_changes(current: Mapping[str, object], changes: Mapping[str, object]) -> dict:
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
