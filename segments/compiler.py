"""Condition trees -> one Django `Q` over contacts.Contact, evaluated by the database.

    Contact.objects.filter(compile_conditions(tree, now=now))

is a single SQL query: fields are columns or typed JSON values, events, tags, subscriptions
and memberships are (correlated) subqueries, every value a bound parameter. Every leaf is
true or false, never NULL, so `{"not": X}` is exactly the complement of X. The tree must be
valid (segments.validation.validate_conditions).
"""

import datetime as dt
import json
from collections.abc import Callable, Mapping
from functools import reduce
from operator import and_, or_

from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Lower
from django.db.models.lookups import Exact

from contacts.builtins import BUILTIN_FIELD_TYPES
from contacts.field_types import field_definitions
from contacts.models import ContactSubscription, ContactTag, CustomField, SubscriptionTopic
from segments.event_conditions import (
    EMAIL_ID_PROPERTIES,
    email_condition_q,
    email_fact_q,
    event_condition_q,
    event_fact_q,
)
from segments.event_facts import Facts
from segments.field_conditions import field_condition_q
from segments.models import SegmentMembership
from segments.sql import FALSE, TRUE
from segments.tree import iter_conditions


def compile_conditions(
    tree: Mapping,
    *,
    now: dt.datetime,
    fields: Mapping[str, CustomField] | None = None,
    facts: Facts | None = None,
) -> Q:
    """`now` resolves relative windows; `fields` (custom field definitions by key) saves the
    query that loads them when the tree reads custom fields. With `facts` (a dict, filled
    here), event and email conditions without property filters read the columns of a facts
    row (segments.event_facts) that the caller's statement must provide."""
    context = CompileContext(now=now, fields=fields, tree=tree, facts=facts)
    return context.node(tree)


class CompileContext:
    def __init__(
        self,
        *,
        now: dt.datetime,
        fields: Mapping | None,
        tree: Mapping,
        facts: Facts | None = None,
    ):
        self.now = now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)
        self.facts = facts
        if fields is None:
            reads_custom = any(
                node.get("type") == "field" and node.get("field") not in BUILTIN_FIELD_TYPES
                for node in iter_conditions(tree)
            )
            fields = field_definitions() if reads_custom else {}
        self.fields = fields
        # True under an `all` that also asks a field to equal a value (eq / in): few contacts
        # are usually left for the event conditions beside it, so counts are probed per
        # contact. Elsewhere a count of 2+ also asks "at least one", a semi-join over the
        # window that spares probing every contact (segments.event_conditions.at_least_q).
        self.narrowed = False

    def node(self, node: Mapping) -> Q:
        if "all" in node:
            children = distinct_children(node["all"])
            if has_complement_pair(children):
                return FALSE  # X and not X
            outer = self.narrowed
            self.narrowed = outer or any(_narrows(child) for child in children)
            try:
                return reduce(and_, (self.node(child) for child in children), TRUE)
            finally:
                self.narrowed = outer
        if "any" in node:
            children = distinct_children(node["any"])
            if has_complement_pair(children):
                return TRUE  # X or not X
            compiled = [self.node(child) for child in children]
            return reduce(or_, compiled) if compiled else FALSE
        if "not" in node:
            return ~self.node(node["not"])
        return self.leaf(node)

    def leaf(self, node: Mapping) -> Q:
        compile_leaf = LEAF_COMPILERS.get(node.get("type"))
        if compile_leaf is None:
            raise ValueError(f"Unknown condition type {node.get('type')!r}.")
        return compile_leaf(node, self)


def _canonical(node: object) -> str:
    return json.dumps(node, sort_keys=True, separators=(",", ":"))


def distinct_children(children: list) -> list:
    """A group's children without repeats (a condition added twice runs its query twice)."""
    seen: set[str] = set()
    distinct = []
    for child in children:
        key = _canonical(child)
        if key not in seen:
            seen.add(key)
            distinct.append(child)
    return distinct


def has_complement_pair(children: list) -> bool:
    """True when a group holds a condition and its `not`: every condition is true or false,
    never NULL, so `all` of them matches no one and `any` of them everyone, without the
    queries (a contradicting tree still cost full event scans)."""
    keys = {_canonical(child) for child in children}
    return any(
        isinstance(child, Mapping) and "not" in child and _canonical(child["not"]) in keys
        for child in children
    )


def _narrows(node: object) -> bool:
    return (
        isinstance(node, Mapping) and node.get("type") == "field" and node.get("op") in ("eq", "in")
    )


def _field(node: Mapping, context: CompileContext) -> Q:
    return field_condition_q(node, now=context.now, fields=context.fields)


def _event(node: Mapping, context: CompileContext) -> Q:
    if context.facts is not None and not node.get("where"):
        return event_fact_q(node, context.facts)
    return event_condition_q(node, now=context.now, semi_join=not context.narrowed)


def _email(node: Mapping, context: CompileContext) -> Q:
    if context.facts is not None and all(node.get(key) is None for key in EMAIL_ID_PROPERTIES):
        return email_fact_q(node, context.facts)
    return email_condition_q(node, now=context.now)


def segment_membership_q(segment_id: int) -> Q:
    current = SegmentMembership.objects.current().filter(
        segment_id=segment_id, contact_id=OuterRef("pk")
    )
    return Q(Exists(current))


def _segment(node: Mapping, context: CompileContext) -> Q:
    member = segment_membership_q(node["segment"])
    return member if node["op"] == "in" else ~member


def tag_q(name: str) -> Q:
    tagged = ContactTag.objects.filter(contact_id=OuterRef("pk")).filter(
        Exact(Lower("tag__name"), Lower(Value(name.strip())))
    )
    return Q(Exists(tagged))


def _tag(node: Mapping, context: CompileContext) -> Q:
    has = tag_q(node["tag"])
    return has if node["op"] == "has" else ~has


def subscribed_q(topic: str) -> Q:
    """The contact's own choice for the topic, else the topic's default; a contact whose
    email_status is not active (unsubscribed, bounced, complained) is subscribed to nothing."""
    choices = ContactSubscription.objects.filter(contact_id=OuterRef("pk"), topic__key=topic)
    opted_in = Q(Exists(choices.filter(status="subscribed")))
    default_in = ~Q(Exists(choices)) & Q(
        Exists(SubscriptionTopic.objects.filter(key=topic, default_opt_in=True))
    )
    return Q(email_status="active") & (opted_in | default_in)


def _subscription(node: Mapping, context: CompileContext) -> Q:
    subscribed = subscribed_q(node["topic"])
    return subscribed if node["op"] == "subscribed" else ~subscribed


LEAF_COMPILERS: dict[str, Callable[[Mapping, CompileContext], Q]] = {
    "field": _field,
    "event": _event,
    "email": _email,
    "segment": _segment,
    "tag": _tag,
    "subscription": _subscription,
}
