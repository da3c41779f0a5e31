"""Event and email conditions: the contact's matching events, as correlated EXISTS subqueries
that stop at the event deciding the count (explain counts them all)."""

import datetime as dt
from collections.abc import Mapping

from django.db.models import Exists, Func, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact

from contacts.models import Event
from segments import operators as ops
from segments.event_facts import Facts, event_fact, fact_count_q
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
    """How many of `events` the outer contact has (0 when none, never NULL). COUNT(*), not
    COUNT(id): the (contact, name, occurred_at) index then answers without the table."""
    counted = events.annotate(n=Func(Value(1), function="COUNT")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def at_least_q(events: QuerySet[Event], wanted: int, *, semi_join: bool = False) -> Q:
    """The outer contact has `wanted` or more of `events`: EXISTS over the events past the
    first wanted - 1 (OFFSET), so the index scan stops at the wanted-th event instead of
    counting them all (a contact with hundreds of logins costs as much as one with five).

    With `semi_join`, a count of 2+ also asks for one such event: implied, and unlike the
    bounded EXISTS (OFFSET keeps it a per-contact subplan) the planner can run it as a
    semi-join over the window, so only contacts with one are probed instead of every contact.
    Left out when a selective field condition stands beside it (the compiler's `narrowed`):
    the planner charges a subplan for every row it filters, so it would then scan the window
    rather than probe the few contacts the field leaves (the segment bench's segment)."""
    if wanted <= 0:
        return TRUE
    if wanted == 1:
        return Q(Exists(events))
    bounded = Q(Exists(events[wanted - 1 :]))
    return Q(Exists(events)) & bounded if semi_join else bounded


def count_q(events: QuerySet[Event], count: Mapping, *, semi_join: bool = False) -> Q:
    """`performed` with a count, as bounded EXISTS: gte N, lte N = not gte N + 1, and
    eq N = gte N and not gte N + 1. Never NULL, so NOT stays exact."""
    op, wanted = count["op"], count["value"]
    if op == "gte":
        return at_least_q(events, wanted, semi_join=semi_join)
    at_most = ~at_least_q(events, wanted + 1, semi_join=semi_join)
    if op == "lte":
        return at_most
    return at_least_q(events, wanted, semi_join=semi_join) & at_most


def event_events(node: Mapping, *, now: dt.datetime) -> QuerySet[Event]:
    return matching_events(
        name=node["event"], now=now, within=node.get("within"), where=node.get("where")
    )


def event_condition_q(node: Mapping, *, now: dt.datetime, semi_join: bool = False) -> Q:
    count = node.get("count") or DEFAULT_COUNT
    performed = count_q(event_events(node, now=now), count, semi_join=semi_join)
    return performed if node["op"] == "performed" else ~performed


def event_fact_q(node: Mapping, facts: Facts) -> Q:
    """event_condition_q of a node without `where`, read from the batch's facts."""
    fact = event_fact(node["event"], node.get("within"))
    performed = fact_count_q(fact, node.get("count") or DEFAULT_COUNT, facts)
    return performed if node["op"] == "performed" else ~performed


# The property keys an email.* event may carry its template / flow id under: Segflow's own
# events (sent, opened, clicked, ESP webhooks) say template_id / flow_id; events posted
# through the API may say template / flow.
EMAIL_ID_PROPERTIES = {"template": ("template_id", "template"), "flow": ("flow_id", "flow")}


def email_events(node: Mapping, *, now: dt.datetime) -> QuerySet[Event]:
    """email.* events, filtered by template / flow id (matched as a string or a number)."""
    name, _ = ops.EMAIL_OPS[node["op"]]
    events = matching_events(name=name, now=now, within=node.get("within"))
    for key, properties in EMAIL_ID_PROPERTIES.items():
        if node.get(key) is not None:
            wanted = str(node[key])
            matches = Q()
            for prop in properties:
                matches |= Q(Exact(JsonValue("properties", prop, "scalar"), wanted))
            events = events.filter(matches)
    return events


def email_condition_q(node: Mapping, *, now: dt.datetime) -> Q:
    _, negated = ops.EMAIL_OPS[node["op"]]
    happened = Q(Exists(email_events(node, now=now)))
    return ~happened if negated else happened


def email_fact_q(node: Mapping, facts: Facts) -> Q:
    """email_condition_q of a node without template or flow, read from the batch's facts."""
    name, negated = ops.EMAIL_OPS[node["op"]]
    happened = fact_count_q(event_fact(name, node.get("within")), DEFAULT_COUNT, facts)
    return ~happened if negated else happened
