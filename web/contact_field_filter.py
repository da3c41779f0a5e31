"""The contact list's "field equals value" filter: a field condition of the segments'
language (so a value means what it means in a segment: case-insensitive text, a number, yes or
no, a day), compiled by the segments' compiler."""

import datetime as dt

from django.db.models import Q

from contacts.builtins import BUILTIN_FIELD_LABELS, BUILTIN_FIELD_TYPES
from contacts.models import CustomField
from segments.compiler import compile_conditions
from segments.validation import validate_conditions

_YES = {"yes", "true", "1"}
_NO = {"no", "false", "0"}


def field_filter_choices() -> list[tuple[str, str]]:
    """(key, label) of every field a contact can be filtered on, built-ins first."""
    custom = [
        (field.key, field.label or field.key)
        for field in CustomField.objects.order_by("label", "key").only("key", "label")
    ]
    return [*BUILTIN_FIELD_LABELS.items(), *custom]


def field_filter_condition(*, key: str, value: str) -> dict:
    """The field condition for "`key` is `value`", or ValueError with what is wrong."""
    field = CustomField.objects.filter(key=key).only("type").first()
    kind = field.type if field is not None else BUILTIN_FIELD_TYPES.get(key)
    if kind is None:
        raise ValueError("Unknown field.")
    value = value.strip()
    if kind == "boolean":
        if value.lower() in _YES:
            return {"type": "field", "field": key, "op": "is_true"}
        if value.lower() in _NO:
            return {"type": "field", "field": key, "op": "is_false"}
        raise ValueError("Enter yes or no.")
    if kind == "number":
        try:
            number = float(value)
        except ValueError:
            raise ValueError("Enter a number.") from None
        number = int(number) if number.is_integer() else number
        return {"type": "field", "field": key, "op": "eq", "value": number}
    if kind in ("date", "datetime"):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError("Enter a day as YYYY-MM-DD.") from None
        if kind == "date":
            bounds = [day.isoformat(), day.isoformat()]
        else:
            start = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
            end = start + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
            bounds = [start.isoformat(), end.isoformat()]
        return {"type": "field", "field": key, "op": "between", "value": bounds}
    return {"type": "field", "field": key, "op": "eq", "value": value}


def field_filter_q(*, key: str, value: str, now: dt.datetime) -> Q:
    """The filter as a Q on contacts, or ValueError with what is wrong with the value."""
    condition = field_filter_condition(key=key, value=value)
    errors = validate_conditions(condition)
    if errors:
        raise ValueError(errors[0].message)
    return compile_conditions(condition, now=now)
