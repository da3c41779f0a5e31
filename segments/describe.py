"""Condition trees in plain words, for marketers: "performed login at least 5 times in the
last 30 days (since Oct 30, 2026)", "Plan is one of pro, team".

Relative windows also show the absolute range they resolve to at `now`, so a reader sees
which days "within the next 3 days" means today. Field labels come from the custom field
definitions (built-ins have fixed labels), segment and topic names from their tables: a few
queries per call (`describe_names`), none per node; pass `names` to describe many trees or
leaves with one set of reads. Works on any tree the validator accepts (segments.validation);
a name that no longer exists is shown by its key or id.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from contacts.builtins import BUILTIN_FIELD_LABELS, BUILTIN_FIELD_TYPES
from contacts.models import CustomField, SubscriptionTopic
from segments import operators as ops
from segments.models import Segment
from segments.tree import iter_conditions

SHORT_LENGTH = 160

_TEXT_WORDS = {
    "eq": "is",
    "neq": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "in": "is one of",
    "not_in": "is none of",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
}
_NO_VALUE_WORDS = {
    "is_set": "is set",
    "is_not_set": "is not set",
    "is_true": "is true",
    "is_false": "is false",
}
_EMAIL_WORDS = {
    "opened": "opened an email",
    "clicked": "clicked a link in an email",
    "received": "received an email",
    "bounced": "had an email bounce",
    "unsubscribed": "unsubscribed through an email",
    "not_opened": "did not open an email",
    "not_clicked": "did not click a link in an email",
}


@dataclass(frozen=True)
class Names:
    """What a description shows instead of keys and ids."""

    fields: Mapping[str, CustomField] = field(default_factory=dict)
    segments: Mapping[int, str] = field(default_factory=dict)
    topics: Mapping[str, str] = field(default_factory=dict)

    def field_label(self, key: object) -> str:
        if key in BUILTIN_FIELD_LABELS:
            return BUILTIN_FIELD_LABELS[key]
        definition = self.fields.get(key) if isinstance(key, str) else None
        return definition.label if definition is not None and definition.label else str(key)

    def field_type(self, key: object) -> str:
        if key in BUILTIN_FIELD_TYPES:
            return BUILTIN_FIELD_TYPES[key]
        definition = self.fields.get(key) if isinstance(key, str) else None
        return definition.type if definition is not None else "text"


def describe_names(conditions: object) -> Names:
    """The labels and names `conditions` refers to (three queries at most)."""
    leaves = list(iter_conditions(conditions))
    segment_ids = {n.get("segment") for n in leaves if n.get("type") == "segment"}
    topic_keys = {n.get("topic") for n in leaves if n.get("type") == "subscription"}
    reads_fields = any(n.get("type") == "field" for n in leaves)
    segment_ids = {i for i in segment_ids if isinstance(i, int) and not isinstance(i, bool)}
    topic_keys = {key for key in topic_keys if isinstance(key, str)}
    return Names(
        fields={f.key: f for f in CustomField.objects.all()} if reads_fields else {},
        segments=dict(Segment.objects.filter(pk__in=segment_ids).values_list("pk", "name"))
        if segment_ids
        else {},
        topics=dict(SubscriptionTopic.objects.filter(key__in=topic_keys).values_list("key", "name"))
        if topic_keys
        else {},
    )


def conditions_describe(*, conditions: dict, now: dt.datetime, names: Names | None = None) -> str:
    """The whole tree in words: groups as "all of: …", "any of: …", "not: …"."""
    names = describe_names(conditions) if names is None else names
    return _node(conditions, now, names)


def conditions_describe_short(
    *, conditions: dict, now: dt.datetime, names: Names | None = None, length: int = SHORT_LENGTH
) -> str:
    """conditions_describe cut at a word boundary to about `length` characters."""
    text = conditions_describe(conditions=conditions, now=now, names=names)
    if len(text) <= length:
        return text
    return text[:length].rsplit(" ", 1)[0].rstrip(";,:( ") + " …"


def condition_describe(*, condition: dict, now: dt.datetime, names: Names | None = None) -> str:
    """One leaf condition as a sentence."""
    names = describe_names(condition) if names is None else names
    match condition.get("type"):
        case "field":
            return _field(condition, now, names)
        case "event":
            return _event(condition, now)
        case "email":
            return _email(condition, now)
        case "segment":
            segment = condition.get("segment")
            name = names.segments.get(segment)
            shown = f"“{name}”" if name is not None else f"#{segment}"
            verb = "is not in" if condition.get("op") == "not_in" else "is in"
            return f"{verb} segment {shown}"
        case "tag":
            verb = "does not have" if condition.get("op") == "has_not" else "has"
            return f"{verb} tag {condition.get('tag')}"
        case "subscription":
            topic = condition.get("topic")
            shown = names.topics.get(topic) or topic
            verb = "is not subscribed" if condition.get("op") == "unsubscribed" else "is subscribed"
            return f"{verb} to {shown}"
    return f"{condition.get('type')} condition"


# --- groups ----------------------------------------------------------------------------------


def _node(node: Mapping, now: dt.datetime, names: Names) -> str:
    if "not" in node:
        inner = node["not"]
        return f"not: {_wrapped(inner, now, names)}"
    for key, word in (("all", "all of"), ("any", "any of")):
        if key in node:
            children = node[key]
            if not children:
                return "every contact" if key == "all" else "no contact"
            if len(children) == 1:
                return _node(children[0], now, names)
            text = "; ".join(_wrapped(child, now, names) for child in children)
            return f"{word}: {text}"
    return condition_describe(condition=dict(node), now=now, names=names)


def _wrapped(node: Mapping, now: dt.datetime, names: Names) -> str:
    """A child in its parent's list: groups of several conditions go in parentheses."""
    text = _node(node, now, names)
    if _is_group(node) and not _is_single(node):
        return f"({text})"
    return text


def _is_group(node: Mapping) -> bool:
    return any(key in node for key in ("all", "any", "not"))


def _is_single(node: Mapping) -> bool:
    """A group that reads as one condition (a leaf, `not` of one, or one child)."""
    if "not" in node:
        return True
    for key in ("all", "any"):
        if key in node:
            children = node[key]
            return len(children) == 0 or (len(children) == 1 and _is_single(children[0]))
    return True


# --- fields ----------------------------------------------------------------------------------


def _field(node: Mapping, now: dt.datetime, names: Names) -> str:
    key, op, value = node.get("field"), node.get("op"), node.get("value")
    label, kind = names.field_label(key), names.field_type(key)
    if op in _NO_VALUE_WORDS:
        return f"{label} {_NO_VALUE_WORDS[op]}"
    if kind in ("date", "datetime"):
        return f"{label} {_date_words(op, value, now, date_only=kind == 'date')}"
    if op == "between" and isinstance(value, list) and len(value) == 2:
        return f"{label} is between {_value(value[0])} and {_value(value[1])}"
    return f"{label} {_TEXT_WORDS.get(op, str(op))} {_value(value)}"


def _value(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(_value(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return f"“{text}”" if text == "" or text != text.strip() else text


def _date_words(op: str, value: object, now: dt.datetime, *, date_only: bool) -> str:
    if op in ops.RELATIVE_OPS:
        delta, amount = ops.parse_duration(value), _amount(value)
        now = now.astimezone(dt.UTC)
        days = next(iter(value)) == "days"
        if date_only:
            low, high = (now - delta).date(), (now + delta).date()
            today = now.date()
            match op:
                case "within_last":
                    return f"within the last {amount} ({_day_range(low, today)})"
                case "within_next":
                    return f"within the next {amount} ({_day_range(today, high)})"
                case "older_than":
                    return f"more than {amount} ago (before {_day(low)})"
                case _:
                    return f"more than {amount} from now (after {_day(high)})"
        low, high = now - delta, now + delta
        match op:
            case "within_last":
                return f"within the last {amount} ({_moment_range(low, now, days=days)})"
            case "within_next":
                return f"within the next {amount} ({_moment_range(now, high, days=days)})"
            case "older_than":
                return f"more than {amount} ago (before {_moment(low, days=days)})"
            case _:
                return f"more than {amount} from now (after {_moment(high, days=days)})"
    if op == "between" and isinstance(value, list) and len(value) == 2:
        return f"is between {_absolute(value[0])} and {_absolute(value[1])}"
    word = "is before" if op == "before" else "is after"
    return f"{word} {_absolute(value)}"


def _amount(value: Mapping) -> str:
    ((unit, number),) = value.items()
    return f"{number} {unit[:-1] if number == 1 else unit}"


def _absolute(value: object) -> str:
    try:
        bound = ops.parse_absolute(value, field_type="datetime")
    except ValueError:
        return str(value)
    if isinstance(bound, dt.datetime):
        return _moment(bound, days=False)
    return _day(bound)


def _day(day: dt.date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def _day_range(low: dt.date, high: dt.date) -> str:
    if low == high:
        return _day(low)
    if low.year == high.year:
        return f"{low:%b} {low.day} – {_day(high)}"
    return f"{_day(low)} – {_day(high)}"


def _moment(moment: dt.datetime, *, days: bool) -> str:
    moment = moment.astimezone(dt.UTC)
    if days:
        return _day(moment.date())
    return f"{_day(moment.date())} {moment:%H:%M} UTC"


def _moment_range(low: dt.datetime, high: dt.datetime, *, days: bool) -> str:
    low, high = low.astimezone(dt.UTC), high.astimezone(dt.UTC)
    if days:
        return _day_range(low.date(), high.date())
    if low.date() == high.date():
        return f"{_day(low.date())} {low:%H:%M} – {high:%H:%M} UTC"
    return f"{_moment(low, days=False)} – {_moment(high, days=False)}"


# --- events and emails -----------------------------------------------------------------------


def _event(node: Mapping, now: dt.datetime) -> str:
    name = node.get("event")
    negated = node.get("op") == "not_performed"
    parts = [f"did not perform {name}" if negated else f"performed {name}"]
    count = node.get("count")
    if isinstance(count, Mapping) and not (count.get("op") == "gte" and count.get("value") == 1):
        parts.append(_count(count))
    if node.get("within") is not None:
        parts.append(_window(node["within"], now))
    where = node.get("where") or []
    if where:
        parts.append("where " + " and ".join(_property(item) for item in where))
    return " ".join(parts)


def _count(count: Mapping) -> str:
    number = count.get("value")
    times = "once" if number == 1 else "twice" if number == 2 else f"{number} times"
    word = {"gte": "at least", "lte": "at most", "eq": "exactly"}.get(count.get("op"), "")
    return f"{word} {times}".strip()


def _window(within: Mapping, now: dt.datetime) -> str:
    days = next(iter(within)) == "days"
    since = now - ops.parse_duration(within)
    return f"in the last {_amount(within)} (since {_moment(since, days=days)})"


def _property(item: Mapping) -> str:
    prop, op, value = item.get("property"), item.get("op"), item.get("value")
    if op in _NO_VALUE_WORDS:
        return f"{prop} {_NO_VALUE_WORDS[op]}"
    if op == "between" and isinstance(value, list) and len(value) == 2:
        return f"{prop} is between {_value(value[0])} and {_value(value[1])}"
    return f"{prop} {_TEXT_WORDS.get(op, str(op))} {_value(value)}"


def _email(node: Mapping, now: dt.datetime) -> str:
    parts = [_EMAIL_WORDS.get(node.get("op"), f"email {node.get('op')}")]
    if node.get("template") is not None:
        parts.append(f"from template #{node['template']}")
    if node.get("flow") is not None:
        parts.append(f"sent by flow #{node['flow']}")
    if node.get("within") is not None:
        parts.append(_window(node["within"], now))
    return " ".join(parts)
