"""Query-string parameters of the segments API, validated (a bad one is a 400 naming it)."""

import datetime as dt

from django.utils.dateparse import parse_date

from contacts.errors import InvalidInput

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
