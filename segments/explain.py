"""Why is a contact in or out: the condition tree mirrored with each node's result and, for
leaves, the contact's actual values.

One query: every leaf's compiled condition (segments.compiler, the very same Q the segment
is evaluated with) becomes a true/false annotation of the contact's row, next to the values
it reads. Groups are then combined with the same all / any / not logic; leaves are never
NULL, so this agrees with the compiled tree by construction.
"""

import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    Func,
    OuterRef,
    Subquery,
    TextField,
    Value,
    When,
)

from contacts.field_types import format_datetime
from contacts.models import Contact, ContactSubscription, ContactTag, CustomField, SubscriptionTopic
from segments.compiler import CompileContext
from segments.event_conditions import email_events, event_count, event_events
from segments.field_conditions import field_value
from segments.models import SegmentMembership


def explain_contact(
    tree: Mapping,
    *,
    contact_id: int,
    now: dt.datetime,
    fields: Mapping[str, CustomField] | None = None,
) -> dict:
    """Raises Contact.DoesNotExist for an unknown contact."""
    context = CompileContext(now=now, fields=fields, tree=tree)
    annotations: dict = {}
    plan = _plan(tree, context, annotations)
    row = (
        Contact.objects.filter(pk=contact_id)
        .annotate(**annotations)
        .values("pk", *annotations)
        .first()
    )
    if row is None:
        raise Contact.DoesNotExist(f"Contact {contact_id} does not exist.")
    return _render(plan, row)


def _plan(node: Mapping, context: CompileContext, annotations: dict) -> dict:
    """The tree with each leaf replaced by the names of its annotations."""
    for key in ("all", "any"):
        if key in node:
            return {key: [_plan(child, context, annotations) for child in node[key]]}
    if "not" in node:
        return {"not": _plan(node["not"], context, annotations)}
    prefix = f"leaf_{len(annotations)}"
    annotations[prefix] = Case(
        When(context.leaf(node), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )
    actual = {}
    for name, expression in _actual_values(node, context).items():
        annotations[f"{prefix}_{name}"] = expression
        actual[name] = f"{prefix}_{name}"
    return {"leaf": node, "result": prefix, "actual": actual}


def _render(plan: dict, row: dict) -> dict:
    for key in ("all", "any"):
        if key in plan:
            children = [_render(child, row) for child in plan[key]]
            combine = all if key == "all" else any
            return {key: children, "result": combine(child["result"] for child in children)}
    if "not" in plan:
        child = _render(plan["not"], row)
        return {"not": child, "result": not child["result"]}
    actual = {name: _jsonable(name, row[column]) for name, column in plan["actual"].items()}
    return {**plan["leaf"], "result": bool(row[plan["result"]]), "actual": actual}


def _actual_values(node: Mapping, context: CompileContext) -> dict:
    """What the leaf reads for the contact, as SQL expressions of the same query."""
    match node["type"]:
        case "field":
            return {"value": field_value(node["field"], context.fields)}
        case "event":
            return {"count": event_count(event_events(node, now=context.now))}
        case "email":
            return {"count": event_count(email_events(node, now=context.now))}
        case "segment":
            current = SegmentMembership.objects.current().filter(
                segment_id=node["segment"], contact_id=OuterRef("pk")
            )
            return {
                "member": Exists(current),
                "entered_at": Subquery(current.values("entered_at")[:1]),
            }
        case "tag":
            return {"tags": _tag_names()}
        case "subscription":
            choice = ContactSubscription.objects.filter(
                contact_id=OuterRef("pk"), topic__key=node["topic"]
            )
            topic = SubscriptionTopic.objects.filter(key=node["topic"])
            return {
                "email_status": F("email_status"),
                "status": Subquery(choice.values("status")[:1]),
                "default_opt_in": Subquery(topic.values("default_opt_in")[:1]),
            }
    raise ValueError(f"Unknown condition type {node['type']!r}.")


def _tag_names():
    names = ContactTag.objects.filter(contact_id=OuterRef("pk")).order_by("tag__name")
    if connection.vendor == "postgresql":
        return ArraySubquery(names.values("tag__name"))
    as_json = names.annotate(
        names=Func(F("tag__name"), function="json_group_array", output_field=TextField())
    )
    return Subquery(as_json.values("names")[:1], output_field=TextField())


def _jsonable(name: str, value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if name == "tags" and isinstance(value, str):
        return json.loads(value)
    if name == "tags" and value is None:
        return []
    if name == "member":
        return bool(value)
    return value
