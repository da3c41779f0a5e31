"""Validation of condition trees (docs/segments.md): every error at once, each with its JSON path.

`validate_conditions` reads the custom field definitions, the subscription topics and the
stored conditions of referenced segments (for cycles): a few queries per call, none per node.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from contacts.builtins import BUILTIN_FIELD_TYPES, normalize_tag_name
from contacts.event_input import EVENT_NAME_MAX_LENGTH, EVENT_NAME_PATTERN
from contacts.field_types import field_definitions
from contacts.models import CustomField, EmailStatus, SubscriptionTopic
from segflow.errors import InvalidInput
from segments import operators as ops
from segments.cycles import segment_reference_problems
from segments.tree import (
    ConditionDependencies,
    dependencies,
    is_time_relative,
    segment_references,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "ConditionDependencies",
    "ConditionError",
    "dependencies",
    "is_time_relative",
    "segment_references",
    "stored_conditions_problem",
    "validate_conditions",
    "validate_conditions_or_raise",
]

MAX_DEPTH = 10
MAX_NODES = 200
MAX_LIST_ITEMS = 1000
MAX_WHERE_FILTERS = 20
MAX_TEXT_LENGTH = 2000
# An event count beyond this says nothing more, and must fit the SQL it becomes.
MAX_EVENT_COUNT = 1_000_000

_CONDITION_KEYS = {
    "field": {"type", "field", "op", "value"},
    "event": {"type", "event", "op", "count", "within", "where"},
    "email": {"type", "op", "template", "flow", "within"},
    "segment": {"type", "op", "segment"},
    "tag": {"type", "op", "tag"},
    "subscription": {"type", "op", "topic"},
}
_BUILTIN_CHOICES = {"email_status": list(EmailStatus.values)}


@dataclass(frozen=True, slots=True)
class ConditionError:
    path: str
    message: str


def validate_conditions(
    tree: object,
    *,
    path: str = "conditions",
    segment_id: int | None = None,
    fields: Mapping[str, CustomField] | None = None,
) -> list[ConditionError]:
    """All errors of `tree`; empty when valid. `segment_id` is the segment being saved (for
    self references and cycles); `fields` saves the query for custom field definitions."""
    validator = _Validator(segment_id=segment_id, fields=fields)
    validator.node(tree, path, depth=1)
    if validator.node_count > MAX_NODES:
        validator.error(path, f"Too many conditions ({validator.node_count}); at most {MAX_NODES}.")
    validator.check_topics()
    validator.check_segments()
    return validator.errors


def validate_conditions_or_raise(tree: object, **kwargs) -> None:
    """validate_conditions, raising InvalidInput (a 400 through the API error handler)."""
    errors = validate_conditions(tree, **kwargs)
    if errors:
        collected: dict[str, list[str]] = {}
        for error in errors:
            collected.setdefault(error.path, []).append(error.message)
        raise InvalidInput(collected)


def stored_conditions_problem(tree: object, *, segment_id: int) -> str:
    """What no longer holds in a saved segment's conditions, on one line ("" when they are
    valid): the reason a segment cannot be evaluated, as its owner can act on it."""
    errors = validate_conditions(tree, segment_id=segment_id)
    return " ".join(f"{error.path}: {error.message}" for error in errors[:3])


def _describe(value: object) -> str:
    return type(value).__name__ if value is not None else "null"


class _Validator:
    def __init__(self, *, segment_id: int | None, fields: Mapping[str, CustomField] | None):
        self.segment_id = segment_id
        self._fields = fields
        self.errors: list[ConditionError] = []
        self.node_count = 0
        self.topics: list[tuple[str, str]] = []
        self.segments: list[tuple[str, int]] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(ConditionError(path=path, message=message))

    @property
    def fields(self) -> Mapping[str, CustomField]:
        if self._fields is None:
            self._fields = field_definitions()
        return self._fields

    # --- structure ------------------------------------------------------------------------

    def node(self, node: object, path: str, *, depth: int) -> None:
        self.node_count += 1
        if depth > MAX_DEPTH:
            self.error(path, f"Nested too deep: at most {MAX_DEPTH} levels.")
            return
        if not isinstance(node, dict):
            self.error(path, "Must be an object: a group (all / any / not) or a condition.")
            return
        groups = [key for key in ("all", "any", "not") if key in node]
        if groups:
            self.group(node, path, groups, depth=depth)
        elif "type" in node:
            self.condition(node, path)
        else:
            self.error(
                path,
                'Must be a group ({"all": [...]}, {"any": [...]}, {"not": {...}}) '
                'or a condition with a "type".',
            )

    def group(self, node: dict, path: str, groups: list[str], *, depth: int) -> None:
        if len(node) != 1:
            self.error(path, "A group has exactly one key: all, any or not.")
            return
        (key,) = groups
        if key == "not":
            self.node(node["not"], f"{path}.not", depth=depth + 1)
            return
        children = node[key]
        if not isinstance(children, list):
            self.error(f"{path}.{key}", "Must be a list of conditions.")
            return
        for index, child in enumerate(children):
            self.node(child, f"{path}.{key}[{index}]", depth=depth + 1)

    def condition(self, node: dict, path: str) -> None:
        kind = node["type"]
        if kind not in _CONDITION_KEYS:
            allowed = ", ".join(_CONDITION_KEYS)
            self.error(f"{path}.type", f"Unknown condition type '{kind}'. Use one of: {allowed}.")
            return
        for key in sorted(set(node) - _CONDITION_KEYS[kind], key=str):
            self.error(f"{path}.{key}", f"Unknown key for a {kind} condition.")
        getattr(self, f"{kind}_condition")(node, path)

    def op(self, node: dict, path: str, allowed: frozenset[str] | set[str], what: str) -> bool:
        op = node.get("op")
        if op in allowed:
            return True
        choices = ", ".join(sorted(allowed))
        if op is None:
            self.error(f"{path}.op", f"Required. Use one of: {choices}.")
        else:
            self.error(
                f"{path}.op", f"Operator '{op}' does not apply to {what}. Use one of: {choices}."
            )
        return False

    # --- field conditions -----------------------------------------------------------------

    def field_condition(self, node: dict, path: str) -> None:
        key = node.get("field")
        field_type, choices = None, None
        if not isinstance(key, str) or not key:
            self.error(f"{path}.field", "Required: a built-in or custom field key.")
        elif key in BUILTIN_FIELD_TYPES:
            field_type, choices = BUILTIN_FIELD_TYPES[key], _BUILTIN_CHOICES.get(key)
        elif key in self.fields:
            definition = self.fields[key]
            field_type = definition.type
            choices = (definition.choices or []) if field_type == "choice" else None
        else:
            self.error(f"{path}.field", f"Unknown field '{key}'.")
        if field_type is None:
            return
        if not self.op(node, path, ops.OPS_BY_TYPE[field_type], f"{field_type} field '{key}'"):
            return
        op, value_path = node["op"], f"{path}.value"
        if op in ops.NO_VALUE_OPS:
            if node.get("value") is not None:
                self.error(value_path, f"'{op}' takes no value.")
        elif "value" not in node or node["value"] is None:
            self.error(value_path, "Required.")
        elif field_type in ("text", "choice"):
            self.text_value(node["value"], value_path, op, choices=choices)
        elif field_type == "number":
            self.number_value(node["value"], value_path, op)
        else:
            self.date_value(node["value"], value_path, op, field_type=field_type)

    def text_value(self, value: object, path: str, op: str, *, choices: list | None) -> None:
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                self.error(path, "Must be a non-empty list of strings.")
                return
            if len(value) > MAX_LIST_ITEMS:
                self.error(path, f"At most {MAX_LIST_ITEMS} values.")
                return
            for index, item in enumerate(value):
                self.text_item(item, f"{path}[{index}]", choices=choices)
        else:
            self.text_item(value, path, choices=None if op not in ("eq", "neq") else choices)

    def text_item(self, value: object, path: str, *, choices: list | None) -> None:
        if not isinstance(value, str):
            self.error(path, f"Must be a string, not {_describe(value)}.")
        elif len(value) > MAX_TEXT_LENGTH:
            self.error(path, f"Must be at most {MAX_TEXT_LENGTH} characters.")
        elif choices is not None and value.lower() not in {str(c).lower() for c in choices}:
            listed = ", ".join(repr(c) for c in choices[:20])
            self.error(path, f"'{value}' is not one of the field's choices ({listed}).")

    def number_value(self, value: object, path: str, op: str) -> None:
        if op != "between":
            if not ops.is_number(value):
                self.error(path, f"Must be a number, not {_describe(value)}.")
            return
        if not isinstance(value, list) or len(value) != 2:
            self.error(path, "Must be a list [low, high] of two numbers.")
            return
        valid = True
        for index, item in enumerate(value):
            if not ops.is_number(item):
                self.error(f"{path}[{index}]", f"Must be a number, not {_describe(item)}.")
                valid = False
        if valid and value[0] > value[1]:
            self.error(path, "The low bound must not be above the high bound.")

    def date_value(self, value: object, path: str, op: str, *, field_type: str) -> None:
        if op in ops.RELATIVE_OPS:
            self.duration(value, path)
            return
        if op != "between":
            self.absolute(value, path, field_type)
            return
        if not isinstance(value, list) or len(value) != 2:
            self.error(path, "Must be a list [start, end] of two ISO 8601 dates.")
            return
        low = self.absolute(value[0], f"{path}[0]", field_type)
        high = self.absolute(value[1], f"{path}[1]", field_type)
        if low is not None and high is not None:
            start = ops.day_start(low) if not hasattr(low, "hour") else low
            end = ops.day_start(high) if not hasattr(high, "hour") else high
            if start > end:
                self.error(path, "The start must not be after the end.")

    def absolute(self, value: object, path: str, field_type: str):
        try:
            return ops.parse_absolute(value, field_type=field_type)
        except ValueError as exc:
            self.error(path, str(exc))
            return None

    def duration(self, value: object, path: str) -> None:
        try:
            ops.parse_duration(value)
        except ValueError as exc:
            self.error(path, str(exc))

    # --- event and email conditions -------------------------------------------------------

    def event_condition(self, node: dict, path: str) -> None:
        name = node.get("event")
        if not isinstance(name, str) or not name.strip():
            self.error(f"{path}.event", "Required: the event name, e.g. 'login'.")
        elif len(name) > EVENT_NAME_MAX_LENGTH:
            self.error(f"{path}.event", f"Must be at most {EVENT_NAME_MAX_LENGTH} characters.")
        elif name != name.strip() or not EVENT_NAME_PATTERN.match(name):
            # Stored event names are trimmed and free of control characters: such a name
            # could never match.
            self.error(
                f"{path}.event", "Must not start or end with spaces or hold control characters."
            )
        self.op(node, path, ops.EVENT_OPS, "an event condition")
        if node.get("count") is not None:
            self.count(node["count"], f"{path}.count")
        if node.get("within") is not None:
            self.duration(node["within"], f"{path}.within")
        where = node.get("where")
        if where is None:
            return
        if not isinstance(where, list):
            self.error(f"{path}.where", "Must be a list of property filters.")
        elif len(where) > MAX_WHERE_FILTERS:
            self.error(f"{path}.where", f"At most {MAX_WHERE_FILTERS} property filters.")
        else:
            for index, item in enumerate(where):
                self.property_filter(item, f"{path}.where[{index}]")

    def count(self, count: object, path: str) -> None:
        if not isinstance(count, dict):
            self.error(path, 'Must be an object like {"op": "gte", "value": 5}.')
            return
        for key in sorted(set(count) - {"op", "value"}, key=str):
            self.error(f"{path}.{key}", "Unknown key for a count.")
        self.op(count, path, ops.COUNT_OPS, "a count")
        value = count.get("value")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.error(f"{path}.value", "Must be a whole number of at least 0.")
        elif value > MAX_EVENT_COUNT:
            self.error(f"{path}.value", f"Must be at most {MAX_EVENT_COUNT:,}.")

    def property_filter(self, item: object, path: str) -> None:
        if not isinstance(item, dict):
            self.error(path, 'Must be an object like {"property": "url", "op": "contains", ...}.')
            return
        for key in sorted(set(item) - {"property", "op", "value"}, key=str):
            self.error(f"{path}.{key}", "Unknown key for a property filter.")
        prop = item.get("property")
        if not isinstance(prop, str) or not prop:
            self.error(f"{path}.property", "Required: the property name.")
        op, value, value_path = item.get("op"), item.get("value"), f"{path}.value"
        if op in ops.NO_VALUE_OPS - {"is_true", "is_false"}:
            if value is not None:
                self.error(value_path, f"'{op}' takes no value.")
        elif op in ("in", "not_in"):
            self.text_value(value, value_path, op, choices=None)
        elif op in ("contains", "not_contains", "starts_with", "ends_with"):
            self.text_item(value, value_path, choices=None)
        elif op in ("gt", "gte", "lt", "lte", "between"):
            self.number_value(value, value_path, op)
        elif op in ("eq", "neq"):
            if not (isinstance(value, str | bool) or ops.is_number(value)):
                self.error(
                    value_path, f"Must be a string, a number or a boolean, not {_describe(value)}."
                )
            elif isinstance(value, str):
                self.text_item(value, value_path, choices=None)
        else:
            allowed = ops.PROPERTY_TEXT_OPS | ops.PROPERTY_NUMBER_OPS
            self.op(item, path, allowed, "an event property")

    def email_condition(self, node: dict, path: str) -> None:
        self.op(node, path, frozenset(ops.EMAIL_OPS), "an email condition")
        for key in ("template", "flow"):
            value = node.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not (
                (isinstance(value, int) and value > 0) or (isinstance(value, str) and value.strip())
            ):
                self.error(f"{path}.{key}", f"Must be the {key}'s id.")
        if node.get("within") is not None:
            self.duration(node["within"], f"{path}.within")

    # --- segment, tag and subscription conditions -----------------------------------------

    def segment_condition(self, node: dict, path: str) -> None:
        self.op(node, path, ops.SEGMENT_OPS, "a segment condition")
        segment = node.get("segment")
        if not isinstance(segment, int) or isinstance(segment, bool) or segment < 1:
            self.error(f"{path}.segment", "Required: the segment's id.")
        elif segment == self.segment_id:
            self.error(f"{path}.segment", "A segment cannot refer to itself.")
        else:
            self.segments.append((f"{path}.segment", segment))

    def tag_condition(self, node: dict, path: str) -> None:
        self.op(node, path, ops.TAG_OPS, "a tag condition")
        try:
            normalize_tag_name(node.get("tag"))
        except ValueError as exc:
            self.error(f"{path}.tag", str(exc))

    def subscription_condition(self, node: dict, path: str) -> None:
        self.op(node, path, ops.SUBSCRIPTION_OPS, "a subscription condition")
        topic = node.get("topic")
        if not isinstance(topic, str) or not topic:
            self.error(f"{path}.topic", "Required: the subscription topic's key.")
        else:
            self.topics.append((f"{path}.topic", topic))

    # --- references (after the walk, a query each) ----------------------------------------

    def check_topics(self) -> None:
        if not self.topics:
            return
        keys = {key for _, key in self.topics}
        known = set(SubscriptionTopic.objects.filter(key__in=keys).values_list("key", flat=True))
        for path, key in self.topics:
            if key not in known:
                self.error(path, f"Unknown subscription topic '{key}'.")

    def check_segments(self) -> None:
        for path, message in segment_reference_problems(self.segments, segment_id=self.segment_id):
            self.error(path, message)
