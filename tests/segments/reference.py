"""A straightforward Python evaluator of condition trees, written from design §4 and
docs/segments.md without the compiler's code, as the oracle of the property test.

It reads a plain snapshot of the data (`World`), one contact at a time.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

BUILTIN_TYPES = {
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
EMAIL_EVENTS = {
    "opened": ("email.opened", False),
    "clicked": ("email.clicked", False),
    "received": ("email.sent", False),
    "bounced": ("email.bounced", False),
    "unsubscribed": ("email.unsubscribed", False),
    "not_opened": ("email.opened", True),
    "not_clicked": ("email.clicked", True),
}
COMPLEMENTS = {"neq": "eq", "not_in": "in", "not_contains": "contains", "is_not_set": "is_set"}


@dataclass
class RefEvent:
    name: str
    occurred_at: dt.datetime
    properties: dict


@dataclass
class RefContact:
    pk: int
    columns: dict  # built-in fields by key
    fields: dict  # custom values as stored
    events: list[RefEvent] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)  # as created, any case
    subscriptions: dict[str, str] = field(default_factory=dict)  # topic key -> status


@dataclass
class World:
    field_types: dict[str, str]
    topics: dict[str, bool]  # key -> default opt-in
    members: dict[int, set[int]]  # segment id -> contact ids currently in


def evaluate(tree: dict, contact: RefContact, world: World, now: dt.datetime) -> bool:
    if "all" in tree:
        return all(evaluate(child, contact, world, now) for child in tree["all"])
    if "any" in tree:
        return any(evaluate(child, contact, world, now) for child in tree["any"])
    if "not" in tree:
        return not evaluate(tree["not"], contact, world, now)
    kind = tree["type"]
    if kind == "field":
        return _field(tree, contact, world, now)
    if kind == "event":
        return _event(tree, contact, now)
    if kind == "email":
        name, negated = EMAIL_EVENTS[tree["op"]]
        found = any(
            event.name == name
            and _in_window(event, tree.get("within"), now)
            and all(
                str(tree[key]) in {_id_text(event.properties.get(p)) for p in (f"{key}_id", key)}
                for key in ("template", "flow")
                if tree.get(key) is not None
            )
            for event in contact.events
        )
        return found != negated
    if kind == "segment":
        member = contact.pk in world.members.get(tree["segment"], set())
        return member if tree["op"] == "in" else not member
    if kind == "tag":
        has = tree["tag"].strip().lower() in {tag.lower() for tag in contact.tags}
        return has if tree["op"] == "has" else not has
    if kind == "subscription":
        topic = tree["topic"]
        status = contact.subscriptions.get(topic)
        opted = status == "subscribed" if status else world.topics.get(topic, False)
        subscribed = contact.columns["email_status"] == "active" and opted
        return subscribed if tree["op"] == "subscribed" else not subscribed
    raise AssertionError(kind)


def _duration(value: dict) -> dt.timedelta:
    ((unit, amount),) = value.items()
    return dt.timedelta(**{unit: amount})


def _in_window(event: RefEvent, within: dict | None, now: dt.datetime) -> bool:
    return within is None or event.occurred_at >= now - _duration(within)


def _id_text(value) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    return str(value) if isinstance(value, str | int | float) else None


def _event(tree: dict, contact: RefContact, now: dt.datetime) -> bool:
    count = sum(
        1
        for event in contact.events
        if event.name == tree["event"]
        and _in_window(event, tree.get("within"), now)
        and all(_property_holds(event.properties, item) for item in tree.get("where") or [])
    )
    wanted = tree.get("count") or {"op": "gte", "value": 1}
    holds = {
        "gte": count >= wanted["value"],
        "lte": count <= wanted["value"],
        "eq": count == wanted["value"],
    }[wanted["op"]]
    return holds if tree["op"] == "performed" else not holds


def _property_holds(properties: dict, item: dict) -> bool:
    op, value = item["op"], item.get("value")
    if op in COMPLEMENTS:
        return not _property_holds(properties, {**item, "op": COMPLEMENTS[op]})
    raw = properties.get(item["property"])
    if op == "is_set":
        return raw is not None
    if isinstance(value, bool):
        return isinstance(raw, bool) and raw == value
    if op in ("gt", "gte", "lt", "lte", "between") or _is_number(value):
        return _is_number(raw) and _compare_number(Decimal(str(raw)), op, value)
    return isinstance(raw, str) and _compare_text(raw, op, value)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare_text(actual: str, op: str, value) -> bool:
    text = actual.lower()
    match op:
        case "eq":
            return text == value.lower()
        case "contains":
            return value.lower() in text
        case "starts_with":
            return text.startswith(value.lower())
        case "ends_with":
            return text.endswith(value.lower())
        case "in":
            return text in {item.lower() for item in value}
    raise AssertionError(op)


def _compare_number(actual: Decimal, op: str, value) -> bool:
    if op == "between":
        return Decimal(str(value[0])) <= actual <= Decimal(str(value[1]))
    bound = Decimal(str(value))
    return {
        "eq": actual == bound,
        "gt": actual > bound,
        "gte": actual >= bound,
        "lt": actual < bound,
        "lte": actual <= bound,
    }[op]


def _typed_value(contact: RefContact, key: str, field_type: str):
    """The value, or None when missing (absent, null, or not of the field's type)."""
    if key in BUILTIN_TYPES:
        return contact.columns.get(key)
    raw = contact.fields.get(key)
    if field_type in ("text", "choice"):
        return raw if isinstance(raw, str) else None
    if field_type == "number":
        return Decimal(str(raw)) if _is_number(raw) else None
    if field_type == "boolean":
        return raw if isinstance(raw, bool) else None
    if field_type == "date":
        return dt.date.fromisoformat(raw) if isinstance(raw, str) else None
    if field_type == "datetime":
        return dt.datetime.fromisoformat(raw) if isinstance(raw, str) else None
    raise AssertionError(field_type)


def _field(tree: dict, contact: RefContact, world: World, now: dt.datetime) -> bool:
    key, op, value = tree["field"], tree["op"], tree.get("value")
    if op in COMPLEMENTS:
        return not _field({**tree, "op": COMPLEMENTS[op]}, contact, world, now)
    field_type = BUILTIN_TYPES.get(key) or world.field_types[key]
    actual = _typed_value(contact, key, field_type)
    if actual is None:
        return False
    if op == "is_set":
        return True
    if field_type in ("text", "choice"):
        return _compare_text(actual, op, value)
    if field_type == "number":
        return _compare_number(Decimal(str(actual)), op, value)
    if field_type == "boolean":
        return actual is (op == "is_true")
    if field_type == "date":
        return _compare_day(actual, op, value, now)
    return _compare_moment(actual, op, value, now)


def _compare_day(day: dt.date, op: str, value, now: dt.datetime) -> bool:
    utc_now = now.astimezone(dt.UTC)
    match op:
        case "before":
            return day < dt.date.fromisoformat(value)
        case "after":
            return day > dt.date.fromisoformat(value)
        case "between":
            return dt.date.fromisoformat(value[0]) <= day <= dt.date.fromisoformat(value[1])
        case "within_last":
            return (utc_now - _duration(value)).date() <= day <= utc_now.date()
        case "within_next":
            return utc_now.date() <= day <= (utc_now + _duration(value)).date()
        case "older_than":
            return day < (utc_now - _duration(value)).date()
        case "later_than":
            return day > (utc_now + _duration(value)).date()
    raise AssertionError(op)


def _bound(text: str) -> dt.date | dt.datetime:
    """A plain date stays a date (a whole UTC day); a date-time becomes aware UTC."""
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _compare_moment(moment: dt.datetime, op: str, value, now: dt.datetime) -> bool:
    day = moment.astimezone(dt.UTC).date()
    match op:
        case "before" | "after":
            bound = _bound(value)
            if isinstance(bound, dt.datetime):
                return moment < bound if op == "before" else moment > bound
            return day < bound if op == "before" else day > bound
        case "between":
            low, high = _bound(value[0]), _bound(value[1])
            above = moment >= low if isinstance(low, dt.datetime) else day >= low
            below = moment <= high if isinstance(high, dt.datetime) else day <= high
            return above and below
        case "within_last":
            return now - _duration(value) <= moment <= now
        case "within_next":
            return now <= moment <= now + _duration(value)
        case "older_than":
            return moment < now - _duration(value)
        case "later_than":
            return moment > now + _duration(value)
    raise AssertionError(op)
