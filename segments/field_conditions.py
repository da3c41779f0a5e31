"""Field conditions (and event property filters) as never-null SQL conditions.

Each positive operator is guarded by `value IS NOT NULL`, so it is false, not NULL, on a
missing value; neq / not_in / not_contains / is_not_set are built as NOT of their positive
twin, which makes them the exact complements the design asks for.
"""

import datetime as dt
import re
from collections.abc import Mapping

from django.db.models import DateTimeField, Expression, F, Q, Value
from django.db.models.functions import Lower
from django.db.models.lookups import (
    Contains,
    EndsWith,
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
    LessThanOrEqual,
    StartsWith,
)

from contacts.builtins import BUILTIN_FIELD_TYPES
from contacts.models import CustomField
from segments import operators as ops
from segments.sql import Instant, JsonValue, NumberParam

# Custom field type -> JsonValue kind.
_JSON_KIND = {
    "text": "string",
    "choice": "string",
    "number": "number",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
}
_TEXT_LOOKUPS = {"contains": Contains, "starts_with": StartsWith, "ends_with": EndsWith}
_ORDER_LOOKUPS = {
    "gt": GreaterThan,
    "gte": GreaterThanOrEqual,
    "lt": LessThan,
    "lte": LessThanOrEqual,
    "eq": Exact,
}


def field_type_of(key: str, fields: Mapping[str, CustomField]) -> str:
    if key in BUILTIN_FIELD_TYPES:
        return BUILTIN_FIELD_TYPES[key]
    if key not in fields:
        raise ValueError(f"Unknown field '{key}'.")
    return fields[key].type


def field_value(key: str, fields: Mapping[str, CustomField]) -> Expression:
    """The contact's value of a built-in or custom field, NULL when missing."""
    if key in BUILTIN_FIELD_TYPES:
        return F(key)
    return JsonValue("fields", key, _JSON_KIND[field_type_of(key, fields)])


def field_condition_q(node: Mapping, *, now: dt.datetime, fields: Mapping[str, CustomField]) -> Q:
    key, op = node["field"], node["op"]
    stored_case = stored_case_q(key, op, node.get("value"))
    if stored_case is not None:
        return stored_case
    field_type = field_type_of(key, fields)
    return value_q(field_value(key, fields), op, node.get("value"), kind=field_type, now=now)


def stored_case_q(key: str, op: str, value: object) -> Q | None:
    """eq / in (and their complements) on a column whose stored case a check constraint fixes
    (contacts.models.Contact): the column compared as it is, with the value brought to that
    case, instead of lower() of every row. Exact: email is stored lower-cased, so
    lower(email) = lower(v) is email = lower(v); country is two ASCII capitals, so for an
    ASCII v it is country = upper(v) (a non-ASCII v keeps the general form). The column's
    statistics and indexes then apply (segments bench, docs/benchmarks.md)."""
    positive = ops.NEGATED_OPS.get(op, op)
    values = value if positive == "in" else [value]
    if positive not in ("eq", "in") or not isinstance(values, list):
        return None
    if not all(isinstance(item, str) for item in values):
        return None
    if key == "email":
        targets = [Lower(Value(item)) for item in values]
    elif key == "country" and all(item.isascii() for item in values):
        targets = [Value(item.upper()) for item in values]
    else:
        return None
    column = F(key)
    matches = Q(IsNull(column, False)) & Q(In(column, targets))
    return ~matches if op in ops.NEGATED_OPS else matches


def property_value(prop: str, op: str, value: object) -> Expression:
    """An event property, read as the JSON type the filter's value asks for."""
    if op in ("is_set", "is_not_set"):
        return JsonValue("properties", prop, "any")
    if isinstance(value, bool):
        return JsonValue("properties", prop, "boolean")
    if ops.is_number(value) or (isinstance(value, list) and op == "between"):
        return JsonValue("properties", prop, "number")
    return JsonValue("properties", prop, "string")


def property_filter_q(item: Mapping) -> Q:
    prop, op, value = item["property"], item["op"], item.get("value")
    kind = "boolean" if isinstance(value, bool) else "text"
    if ops.is_number(value) or op in ("gt", "gte", "lt", "lte", "between"):
        kind = "number"
    return value_q(property_value(prop, op, value), op, value, kind=kind, now=None)


# The text ->> gives a JSON number, boolean, object or array: what a string value must not
# look like for its comparison to skip the JSON type check.
_NON_STRING_TEXT = re.compile(r"[-+0-9.e]+|true|false|[\[{].*", re.IGNORECASE | re.DOTALL)


def string_only_values(op: str, value: object) -> bool:
    """True when `eq` / `in` with these values can only hold for a JSON string: then the
    type check of every row (jsonb_typeof) is redundant, and skipping it makes a custom
    field comparison about as cheap as a column's (segments bench, docs/benchmarks.md)."""
    values = value if op == "in" else [value]
    if op not in ("eq", "in") or not isinstance(values, list):
        return False
    return all(isinstance(item, str) and not _NON_STRING_TEXT.fullmatch(item) for item in values)


def _is_json_string(expression: Expression) -> bool:
    return isinstance(expression, JsonValue) and expression.kind == "string"


def value_q(
    expression: Expression, op: str, value: object, *, kind: str, now: dt.datetime | None
) -> Q:
    if op in ops.NEGATED_OPS:
        return ~value_q(expression, ops.NEGATED_OPS[op], value, kind=kind, now=now)
    if _is_json_string(expression) and kind in ("text", "choice") and string_only_values(op, value):
        expression = JsonValue(expression.column.name, expression.key, "text")
    present = Q(IsNull(expression, False))
    if op == "is_set":
        return present
    if kind in ("text", "choice"):
        return present & _text_q(expression, op, value)
    if kind == "number":
        return present & _number_q(expression, op, value)
    if kind == "boolean":
        wanted = value if op == "eq" else op == "is_true"
        return present & Q(Exact(expression, Value(wanted)))
    if kind == "date":
        return present & _date_q(expression, op, value, now=now)
    if kind == "datetime":
        return present & _datetime_q(Instant(expression), op, value, now=now)
    raise ValueError(f"Unknown field type {kind!r}.")


def _text_q(expression: Expression, op: str, value: object) -> Q:
    lowered = Lower(expression)
    if op == "eq":
        return Q(Exact(lowered, Lower(Value(value))))
    if op == "in":
        return Q(In(lowered, [Lower(Value(item)) for item in value]))
    return Q(_TEXT_LOOKUPS[op](lowered, Lower(Value(value))))


def _number_q(expression: Expression, op: str, value) -> Q:
    if op == "between":
        low, high = value
        return Q(GreaterThanOrEqual(expression, NumberParam(low))) & Q(
            LessThanOrEqual(expression, NumberParam(high))
        )
    return Q(_ORDER_LOOKUPS[op](expression, NumberParam(value)))


def _date_q(expression: Expression, op: str, value, *, now: dt.datetime | None) -> Q:
    """Date-only fields compare in UTC days: bounds become UTC dates."""
    if op in ops.RELATIVE_OPS:
        delta, today = ops.parse_duration(value), now.astimezone(dt.UTC)
        low, high = (today - delta).date(), (today + delta).date()
        match op:
            case "within_last":
                return _between(expression, low, today.date())
            case "within_next":
                return _between(expression, today.date(), high)
            case "older_than":
                return Q(LessThan(expression, Value(low)))
            case "later_than":
                return Q(GreaterThan(expression, Value(high)))
    if op == "between":
        low, high = (ops.parse_absolute(item, field_type="date") for item in value)
        return _between(expression, low, high)
    day = ops.parse_absolute(value, field_type="date")
    lookup = LessThan if op == "before" else GreaterThan
    return Q(lookup(expression, Value(day)))


def _datetime_q(expression: Expression, op: str, value, *, now: dt.datetime | None) -> Q:
    """A plain-date bound on a datetime field means that whole UTC day."""
    if op in ops.RELATIVE_OPS:
        delta = ops.parse_duration(value)
        match op:
            case "within_last":
                return _between(expression, _instant(now - delta), _instant(now))
            case "within_next":
                return _between(expression, _instant(now), _instant(now + delta))
            case "older_than":
                return Q(LessThan(expression, _instant(now - delta)))
            case "later_than":
                return Q(GreaterThan(expression, _instant(now + delta)))
    if op == "between":
        low, high = (ops.parse_absolute(item, field_type="datetime") for item in value)
        return _from(expression, low) & _until(expression, high)
    bound = ops.parse_absolute(value, field_type="datetime")
    if op == "before":
        start = bound if isinstance(bound, dt.datetime) else ops.day_start(bound)
        return Q(LessThan(expression, _instant(start)))
    if isinstance(bound, dt.datetime):
        return Q(GreaterThan(expression, _instant(bound)))
    return Q(GreaterThanOrEqual(expression, _instant(ops.day_start(bound + dt.timedelta(1)))))


def _from(expression: Expression, bound: dt.date | dt.datetime) -> Q:
    start = bound if isinstance(bound, dt.datetime) else ops.day_start(bound)
    return Q(GreaterThanOrEqual(expression, _instant(start)))


def _until(expression: Expression, bound: dt.date | dt.datetime) -> Q:
    if isinstance(bound, dt.datetime):
        return Q(LessThanOrEqual(expression, _instant(bound)))
    return Q(LessThan(expression, _instant(ops.day_start(bound + dt.timedelta(1)))))


def _between(expression: Expression, low, high) -> Q:
    low_value = low if isinstance(low, Expression) else Value(low)
    high_value = high if isinstance(high, Expression) else Value(high)
    return Q(GreaterThanOrEqual(expression, low_value)) & Q(LessThanOrEqual(expression, high_value))


def _instant(moment: dt.datetime) -> Instant:
    return Instant(Value(moment, output_field=DateTimeField()))
