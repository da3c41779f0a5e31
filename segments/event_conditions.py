"""Event and email conditions: the contact's matching events, counted in a correlated
subquery (or an EXISTS when the count only needs to be at least one)."""

import datetime as dt
from collections.abc import Mapping

from django.db.models import Exists, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact, GreaterThanOrEqual, LessThanOrEqual

from contacts.models import Event
from segments import operators as ops
from segments.field_conditions import property_filter_q
from segments.sql import TRUE, JsonValue

DEFAULT_COUNT = {"op": "gte", "value": 1}


def matching_events(
    *,
    name: str,
    now: dt.datetime,
    within: Mapping | None = None,
    where: list[Mapping] | None = None,
) -> QuerySet[Event]:
    """The outer contact's events with that name, in the window, passing every filter."""
    events = Event.objects.filter(contact_id=OuterRef("pk"), name=name)
    if within is not None:
        events = events.filter(occurred_at__gte=now - ops.parse_duration(within))
    for item in where or ():
        events = events.filter(property_filter_q(item))
    return events.order_by()


def event_count(events: QuerySet[Event]) -> Coalesce:
    """How many of `events` the outer contact has (0 when none, never NULL)."""
    counted = events.annotate(n=Func(F("id"), function="COUNT")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def count_q(events: QuerySet[Event], count: Mapping) -> Q:
    """`performed` with a count: at least one is an EXISTS, none is NOT EXISTS."""
    op, wanted = count["op"], count["value"]
    if op == "gte" and wanted == 0:
        return TRUE
    if op == "gte" and wanted == 1:
        return Q(Exists(events))
    if op in ("eq", "lte") and wanted == 0:
        return ~Q(Exists(events))
    lookup = {"gte": GreaterThanOrEqual, "lte": LessThanOrEqual, "eq": Exact}[op]
    return Q(lookup(event_count(events), Value(wanted)))


def event_events(node: Mapping, *, now: dt.datetime) -> QuerySet[Event]:
    return matching_events(
        name=node["event"], now=now, within=node.get("within"), where=node.get("where")
    )


def event_condition_q(node: Mapping, *, now: dt.datetime) -> Q:
    performed = count_q(event_events(node, now=now), node.get("count") or DEFAULT_COUNT)
    return performed if node["op"] == "performed" else ~performed


def email_events(node: Mapping, *, now: dt.datetime) -> QuerySet[Event]:
    """email.* events, filtered by template / flow id (matched as a string or a number)."""
    name, _ = ops.EMAIL_OPS[node["op"]]
    events = matching_events(name=name, now=now, within=node.get("within"))
    for key in ("template", "flow"):
        if node.get(key) is not None:
            events = events.filter(Exact(JsonValue("properties", key, "scalar"), str(node[key])))
    return events


def email_condition_q(node: Mapping, *, now: dt.datetime) -> Q:
    _, negated = ops.EMAIL_OPS[node["op"]]
    happened = Q(Exists(email_events(node, now=now)))
    return ~happened if negated else happened
