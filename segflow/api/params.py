"""Query-string parameters, validated: a bad one is a 400 that names it, never a 500."""

import datetime as dt

from django.utils.dateparse import parse_date

from contacts.field_types import parse_datetime_value
from segflow.errors import InvalidInput

MAX_DB_INT = 2**63 - 1


def int_param(request, name: str) -> int | None:
    if len(request.query_params.getlist(name)) > 1:
        raise InvalidInput.single(name, "Give this parameter once.")
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput.single(name, f"'{raw}' is not a whole number.") from None
    if not 0 < value <= MAX_DB_INT:
        raise InvalidInput.single(name, "Must be a positive id.")
    return value


def text_param(request, name: str, *, max_length: int = 254) -> str | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if len(raw) > max_length or "\x00" in raw:
        raise InvalidInput.single(name, f"Must be at most {max_length} characters, without NUL.")
    return raw


def datetime_param(request, name: str) -> dt.datetime | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return parse_datetime_value(raw)
    except ValueError as exc:
        raise InvalidInput.single(name, str(exc)) from None


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def bool_param(request, name: str) -> bool:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return False
    value = raw.strip().lower()
    if value not in _TRUE | _FALSE:
        raise InvalidInput.single(name, "Must be true or false.")
    return value in _TRUE


def date_param(request, name: str) -> dt.date | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = parse_date(raw.strip())
    except ValueError:
        value = None
    if value is None:
        raise InvalidInput.single(name, f"'{raw}' is not a date (YYYY-MM-DD).")
    return value
