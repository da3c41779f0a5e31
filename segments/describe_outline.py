"""A condition tree as an indented outline of plain-words lines (segments.describe), for the
segment page; given explain's answer (segments.explain), each line also carries its true /
false verdict and, on conditions, the contact's actual value in words."""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from segments.describe import Names, condition_describe, describe_names

_GROUP_WORDS = {"all": "All of these", "any": "Any of these", "not": "Not this"}
_EXPLAIN_KEYS = ("result", "actual")


@dataclass(frozen=True)
class OutlineLine:
    depth: int
    text: str
    is_group: bool
    result: bool | None = None  # explain's verdict for the contact; None without explain
    actual: str | None = None  # what the contact has, in words (conditions, with explain)


def conditions_outline(
    *,
    conditions: Mapping,
    now: dt.datetime,
    names: Names | None = None,
    explained: Mapping | None = None,
) -> list[OutlineLine]:
    """`explained` is explain_contact's tree for the same conditions."""
    names = describe_names(conditions) if names is None else names
    lines: list[OutlineLine] = []
    _walk(explained if explained is not None else conditions, 0, now, names, lines)
    return lines


def _walk(node: Mapping, depth: int, now: dt.datetime, names: Names, lines: list) -> None:
    result = node.get("result")
    for key in ("all", "any", "not"):
        if key in node:
            children = [node["not"]] if key == "not" else node[key]
            text = _GROUP_WORDS[key]
            if not children:
                text = "Every contact (no conditions)" if key == "all" else "No contact"
            lines.append(OutlineLine(depth=depth, text=text, is_group=True, result=result))
            for child in children:
                _walk(child, depth + 1, now, names, lines)
            return
    condition = {key: value for key, value in node.items() if key not in _EXPLAIN_KEYS}
    lines.append(
        OutlineLine(
            depth=depth,
            text=condition_describe(condition=condition, now=now, names=names),
            is_group=False,
            result=result,
            actual=actual_describe(condition, node["actual"]) if "actual" in node else None,
        )
    )


def actual_describe(condition: Mapping, actual: Mapping) -> str:
    """Explain's actual values of one condition, as the contact's situation in words."""
    match condition.get("type"):
        case "field":
            return _field_value(actual.get("value"))
        case "event" | "email":
            count = actual.get("count") or 0
            return f"{count} matching event{'' if count == 1 else 's'}"
        case "segment":
            if actual.get("member"):
                entered = actual.get("entered_at")
                return f"member since {_moment(entered)}" if entered else "member"
            return "not a member"
        case "tag":
            tags = actual.get("tags") or []
            return "tags: " + ", ".join(tags) if tags else "no tags"
        case "subscription":
            return _subscription(actual)
    return ", ".join(f"{key}: {value}" for key, value in actual.items())


def _moment(text: str) -> str:
    """explain's ISO 8601 instant (UTC), as the page shows times."""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)
    except ValueError:
        return text
    return f"{moment:%b} {moment.day}, {moment.year} {moment:%H:%M} UTC"


def _field_value(value: object) -> str:
    if value is None:
        return "no value"
    if isinstance(value, bool):
        return "value: yes" if value else "value: no"
    if value == "":
        return "value: “” (empty)"
    return f"value: {value}"


def _subscription(actual: Mapping) -> str:
    status = actual.get("status")
    if status:
        situation = f"{status} (own choice)"
    elif actual.get("default_opt_in") is None:
        situation = "no such topic"
    else:
        default = "subscribed" if actual.get("default_opt_in") else "unsubscribed"
        situation = f"{default} (topic default)"
    email_status = actual.get("email_status")
    if email_status and email_status != "active":
        situation += f"; email status {email_status}"
    return situation
