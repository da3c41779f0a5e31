"""Property test: for random contacts, events, tags, subscriptions, memberships and random
condition trees, the compiled SQL on PostgreSQL selects exactly the contacts that the
independent Python evaluator (tests/segments/reference.py) selects; `{"not": tree}` selects
exactly the others, explain gives every contact the same verdict, and so does the batched
incremental evaluation (which reads event facts instead of probing events per condition)."""

import datetime as dt
import os

import pytest
from django.db import transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from contacts.field_types import format_datetime
from contacts.models import (
    Contact,
    ContactSubscription,
    ContactTag,
    CustomField,
    Event,
    SubscriptionTopic,
    Tag,
)
from segments.batch_evaluation import segments_evaluate_contacts
from segments.compiler import compile_conditions
from segments.explain import explain_contact
from segments.models import Segment, SegmentMembership
from segments.validation import validate_conditions
from tests.segments.reference import RefContact, RefEvent, World, evaluate

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
MIDNIGHT = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
FIELD_TYPES = {
    "t_text": "text",
    "t_choice": "choice",
    "t_num": "number",
    "t_bool": "boolean",
    "t_date": "date",
    "t_at": "datetime",
}
CHOICES = ["Free", "Pro"]
TOPICS = {"news": True, "promos": False}
TAGS = ["VIP", "beta", "Lead"]
EVENT_NAMES = ["login", "page.viewed", "email.opened", "email.sent"]
SEGMENTS = 2  # placeholder ids 1..2 in generated trees, mapped to real segments

# Few distinct values, so data and trees meet on the borders: instants sit exactly on (or a
# microsecond beside) now, now +/- each window, and UTC midnights.
DURATIONS = [{"days": 0}, {"days": 1}, {"days": 7}, {"hours": 12}, {"hours": 13}, {"minutes": 1}]
durations = st.sampled_from(DURATIONS)
_JITTER = [
    dt.timedelta(0),
    dt.timedelta(0),
    dt.timedelta(microseconds=1),
    -dt.timedelta(microseconds=1),
]
instants = st.one_of(
    st.builds(
        lambda sign, duration, jitter: NOW + sign * dt.timedelta(**duration) + jitter,
        st.sampled_from([-1, 1]),
        durations,
        st.sampled_from(_JITTER),
    ),
    st.builds(
        lambda day, jitter: MIDNIGHT + dt.timedelta(days=day) + jitter,
        st.integers(-1, 1),
        st.sampled_from(_JITTER),
    ),
)
days = st.sampled_from([(NOW + dt.timedelta(days=d)).date() for d in (-7, -2, -1, 0, 1, 2, 7)])
texts = st.sampled_from(["ann", "ANN", "Ann Lee", "bob", "b%b", "x_y", "", "Zoë"])
numbers = st.sampled_from([-1, 0, 1, 2.5, 10, 1000])

# --- data, drawn near the values the tree uses ----------------------------------------------


def _tree_values(tree) -> tuple[list[dt.timedelta], list[dt.datetime], list[dt.date], list]:
    """Windows, absolute instants and days, and numbers found anywhere in the tree."""
    windows, moments, dates, found_numbers = [], [], [], []

    def visit(value) -> None:
        if isinstance(value, dict):
            if len(value) == 1 and next(iter(value)) in ("days", "hours", "minutes"):
                windows.append(dt.timedelta(**value))
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)
        elif isinstance(value, str) and len(value) >= 10 and value[4:5] == "-":
            moment = dt.datetime.fromisoformat(value)
            moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
            moments.append(moment)
            dates.append(moment.date())
        elif isinstance(value, int | float) and not isinstance(value, bool):
            found_numbers.append(value)

    visit(tree)
    return windows, moments, dates, found_numbers


def contacts_near(tree) -> st.SearchStrategy:
    """Contacts whose values sit on (or a microsecond / a day beside) the tree's borders."""
    windows, moments, dates, found_numbers = _tree_values(tree)
    borders = [NOW, MIDNIGHT, *moments]
    borders += [NOW + sign * window for window in windows for sign in (-1, 1)]
    near = st.builds(
        lambda at, jitter: at + jitter, st.sampled_from(borders), st.sampled_from(_JITTER)
    )
    moments_near = st.one_of(near, instants)
    day_borders = [NOW.date(), *dates] + [
        (NOW + sign * w).date() for w in windows for sign in (-1, 1)
    ]
    days_near = st.one_of(
        st.builds(
            lambda day, shift: day + dt.timedelta(days=shift),
            st.sampled_from(day_borders),
            st.sampled_from([0, 0, -1, 1]),
        ),
        days,
    )
    numbers_near = st.one_of(st.sampled_from(found_numbers), numbers) if found_numbers else numbers
    custom_values = {
        "t_text": texts,
        "t_choice": st.sampled_from(CHOICES),
        "t_num": numbers_near,
        "t_bool": st.booleans(),
        "t_date": days_near.map(lambda day: day.isoformat()),
        "t_at": moments_near.map(format_datetime),
    }
    properties = st.fixed_dictionaries(
        {},
        optional={
            "url": st.sampled_from(["/pricing", "/PRICING/x", "/blog", 42]),
            "amount": st.one_of(numbers_near, st.just("10")),
            "template": st.sampled_from([1, "1", 2]),
            "template_id": st.sampled_from([1, 2]),
            "flow_id": st.sampled_from([1, "2"]),
            "first": st.sampled_from([True, False, None]),
        },
    )
    events = st.lists(st.tuples(st.sampled_from(EVENT_NAMES), moments_near, properties), max_size=6)
    return st.lists(
        st.fixed_dictionaries(
            {
                "first_name": st.sampled_from([None, "ann", "ANN", "Bob", "b%b"]),
                "country": st.sampled_from([None, "FR", "DE"]),
                "email_status": st.sampled_from(["active", "active", "bounced", "unsubscribed"]),
                "lead_score": st.one_of(st.sampled_from([-5, 0, 10, 50]), numbers_near.map(int)),
                "last_activity_at": st.one_of(st.none(), moments_near),
                "created_at": moments_near,
                "fields": st.fixed_dictionaries({}, optional=custom_values),
                "events": events,
                "tags": st.sets(st.sampled_from(TAGS), max_size=2),
                "subscriptions": st.fixed_dictionaries(
                    {},
                    optional={
                        key: st.sampled_from(["subscribed", "unsubscribed"]) for key in TOPICS
                    },
                ),
                "segments": st.sets(st.integers(1, SEGMENTS), max_size=2),
                "left_segments": st.sets(st.integers(1, SEGMENTS), max_size=1),
            }
        ),
        min_size=2,
        max_size=8,
    )


# --- trees ----------------------------------------------------------------------------------


def _field_leaf(key: str, field_type: str) -> st.SearchStrategy:
    def node(op, value=None):
        base = {"type": "field", "field": key, "op": op}
        return base if value is None else {**base, "value": value}

    no_value = st.sampled_from(["is_set", "is_not_set"]).map(node)
    if field_type in ("text", "choice"):
        values = st.sampled_from(CHOICES + ["pro", "FREE"]) if field_type == "choice" else texts
        if key == "first_name":
            values = st.sampled_from(["ann", "BOB", "b%", "%", "n"])
        if key == "email_status":
            values = st.sampled_from(["ACTIVE", "bounced", "unsubscribed"])
        ops = ["eq", "neq", "contains", "not_contains", "starts_with", "ends_with"]
        if field_type == "choice":
            ops = ["eq", "neq"]
        return st.one_of(
            no_value,
            st.builds(node, st.sampled_from(ops), values),
            st.builds(
                node, st.sampled_from(["in", "not_in"]), st.lists(values, min_size=1, max_size=3)
            ),
        )
    if field_type == "number":
        return st.one_of(
            no_value,
            st.builds(node, st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte"]), numbers),
            st.builds(
                node, st.just("between"), st.lists(numbers, min_size=2, max_size=2).map(sorted)
            ),
        )
    if field_type == "boolean":
        return st.sampled_from(["is_true", "is_false", "is_set", "is_not_set"]).map(node)
    if field_type == "date":
        absolute = days.map(lambda day: day.isoformat())
    else:
        absolute = st.one_of(days.map(lambda day: day.isoformat()), instants.map(format_datetime))
    relative = st.sampled_from(["within_last", "within_next", "older_than", "later_than"])
    return st.one_of(
        no_value,
        st.builds(node, st.sampled_from(["before", "after"]), absolute),
        st.builds(node, st.just("between"), st.tuples(absolute, absolute).map(_ordered)),
        st.builds(node, relative, durations),
    )


def _ordered(pair: tuple[str, str]) -> list[str]:
    def start(text: str) -> dt.datetime:
        moment = dt.datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

    return sorted(pair, key=start)


property_filters = st.one_of(
    st.fixed_dictionaries(
        {
            "property": st.just("url"),
            "op": st.sampled_from(["eq", "neq", "contains", "not_contains", "starts_with"]),
            "value": st.sampled_from(["/pricing", "/PRICING", "blog"]),
        }
    ),
    st.fixed_dictionaries(
        {
            "property": st.sampled_from(["amount", "url"]),
            "op": st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte"]),
            "value": st.sampled_from([0, 5, 9.5, 10, 42]),
        }
    ),
    st.fixed_dictionaries(
        {"property": st.just("amount"), "op": st.just("between"), "value": st.just([5, 10])}
    ),
    st.fixed_dictionaries(
        {"property": st.just("first"), "op": st.sampled_from(["eq", "neq"]), "value": st.booleans()}
    ),
    st.fixed_dictionaries(
        {
            "property": st.sampled_from(["first", "template"]),
            "op": st.sampled_from(["is_set", "is_not_set"]),
        }
    ),
)
event_leaf = st.fixed_dictionaries(
    {
        "type": st.just("event"),
        "event": st.sampled_from(EVENT_NAMES),
        "op": st.sampled_from(["performed", "not_performed"]),
    },
    optional={
        "count": st.fixed_dictionaries(
            {"op": st.sampled_from(["gte", "lte", "eq"]), "value": st.integers(0, 3)}
        ),
        "within": durations,
        "where": st.lists(property_filters, max_size=2),
    },
)
email_leaf = st.fixed_dictionaries(
    {
        "type": st.just("email"),
        "op": st.sampled_from(
            [
                "opened",
                "clicked",
                "received",
                "not_opened",
                "not_clicked",
                "bounced",
                "unsubscribed",
            ]
        ),
    },
    optional={
        "template": st.sampled_from([1, "1", 2]),
        "flow": st.sampled_from([1, 2]),
        "within": durations,
    },
)
field_leaves = st.one_of(
    *[_field_leaf(key, kind) for key, kind in FIELD_TYPES.items()],
    *[
        _field_leaf(key, kind)
        for key, kind in [
            ("first_name", "text"),
            ("country", "text"),
            ("email_status", "choice"),
            ("lead_score", "number"),
            ("last_activity_at", "datetime"),
            ("created_at", "datetime"),
        ]
    ],
)
time_leaves = st.one_of(
    _field_leaf("t_date", "date"),
    _field_leaf("t_at", "datetime"),
    _field_leaf("created_at", "datetime"),
)
other_leaves = st.one_of(
    email_leaf,
    st.builds(
        lambda op, tag: {"type": "tag", "op": op, "tag": tag},
        st.sampled_from(["has", "has_not"]),
        st.sampled_from(TAGS + ["vip", "other"]),
    ),
    st.builds(
        lambda op, topic: {"type": "subscription", "op": op, "topic": topic},
        st.sampled_from(["subscribed", "unsubscribed"]),
        st.sampled_from(list(TOPICS)),
    ),
    st.builds(
        lambda op, segment: {"type": "segment", "op": op, "segment": segment},
        st.sampled_from(["in", "not_in"]),
        st.integers(1, SEGMENTS),
    ),
)


def pick(*strategies: st.SearchStrategy) -> st.SearchStrategy:
    """One of the strategies with equal odds (st.one_of would flatten nested alternatives
    into one list, drowning the few group branches among the many leaf kinds)."""
    return st.sampled_from(strategies).flatmap(lambda strategy: strategy)


# Borders are where bugs live: time conditions and event windows are drawn more often.
leaves = pick(field_leaves, time_leaves, event_leaf, other_leaves)


def _groups(children: st.SearchStrategy, *, max_size: int) -> st.SearchStrategy:
    return pick(
        st.lists(children, min_size=1, max_size=max_size).map(lambda nodes: {"all": nodes}),
        st.lists(children, min_size=1, max_size=max_size).map(lambda nodes: {"any": nodes}),
        children.map(lambda node: {"not": node}),
    )


# Nested all / any / not up to depth 3, plus single leaves and the empty groups.
_level_1 = pick(leaves, leaves.map(lambda node: {"not": node}))
_level_2 = pick(_level_1, _groups(_level_1, max_size=3))
trees = pick(
    leaves,
    _groups(_level_2, max_size=3),
    _groups(_level_2, max_size=3),
    st.sampled_from([{"all": []}, {"any": []}]),
)

# --- the property ---------------------------------------------------------------------------


def _map_segments(tree, ids: dict[int, int]):
    if isinstance(tree, dict):
        if tree.get("type") == "segment":
            return {**tree, "segment": ids[tree["segment"]]}
        return {key: _map_segments(value, ids) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_map_segments(item, ids) for item in tree]
    return tree


def _store(rows: list[dict]) -> tuple[list[RefContact], World, dict[int, int]]:
    """Write the generated data; return its plain snapshot for the reference evaluator."""
    for key, kind in FIELD_TYPES.items():
        CustomField.objects.create(
            key=key, label=key, type=kind, choices=CHOICES if kind == "choice" else []
        )
    topics = {
        key: SubscriptionTopic.objects.create(key=key, name=key, default_opt_in=default)
        for key, default in TOPICS.items()
    }
    tags = {name: Tag.objects.create(name=name) for name in TAGS}
    segments = {
        n: Segment.objects.create(name=f"S{n}", conditions={"all": []})
        for n in range(1, SEGMENTS + 1)
    }
    members: dict[int, set[int]] = {segment.pk: set() for segment in segments.values()}
    snapshot = []
    for index, row in enumerate(rows):
        columns = {
            key: row[key]
            for key in (
                "first_name",
                "country",
                "email_status",
                "lead_score",
                "last_activity_at",
                "created_at",
            )
        }
        contact = Contact.objects.create(
            email=f"p{index}@example.com", fields=row["fields"], **columns
        )
        columns["email"] = contact.email
        ref = RefContact(
            pk=contact.pk,
            columns=columns,
            fields=row["fields"],
            tags=set(row["tags"]),
            subscriptions=row["subscriptions"],
        )
        Event.objects.bulk_create(
            Event(contact=contact, name=name, occurred_at=at, properties=props)
            for name, at, props in row["events"]
        )
        ref.events = [RefEvent(name, at, props) for name, at, props in row["events"]]
        ContactTag.objects.bulk_create(
            ContactTag(contact=contact, tag=tags[name]) for name in row["tags"]
        )
        ContactSubscription.objects.bulk_create(
            ContactSubscription(contact=contact, topic=topics[key], status=status)
            for key, status in row["subscriptions"].items()
        )
        for n in row["segments"]:
            SegmentMembership.objects.create(segment=segments[n], contact=contact, entered_at=NOW)
            members[segments[n].pk].add(contact.pk)
        for n in row["left_segments"] - row["segments"]:
            SegmentMembership.objects.create(
                segment=segments[n],
                contact=contact,
                entered_at=NOW - dt.timedelta(days=1),
                left_at=NOW,
            )
        snapshot.append(ref)
    world = World(field_types=FIELD_TYPES, topics=TOPICS, members=members)
    return snapshot, world, {n: segment.pk for n, segment in segments.items()}


# Shrinking costs a database round trip per attempt and can outlast the test timeout; a
# failure prints its (small) unshrunk example. SEGFLOW_SHRINK=1 shrinks it when debugging.
_PHASES = [Phase.explicit, Phase.reuse, Phase.generate]
if os.environ.get("SEGFLOW_SHRINK"):
    _PHASES.append(Phase.shrink)


@settings(
    max_examples=150,
    phases=_PHASES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(tree=trees, data=st.data())
def test_compiled_sql_selects_what_the_reference_evaluator_selects(tree, data):
    rows = data.draw(contacts_near(tree), label="contacts")
    with transaction.atomic():
        snapshot, world, segment_ids = _store(rows)
        tree = _map_segments(tree, segment_ids)
        assert validate_conditions(tree) == []

        selected = set(
            Contact.objects.filter(compile_conditions(tree, now=NOW)).values_list("pk", flat=True)
        )
        complement = set(
            Contact.objects.filter(compile_conditions({"not": tree}, now=NOW)).values_list(
                "pk", flat=True
            )
        )

        expected = {contact.pk for contact in snapshot if evaluate(tree, contact, world, NOW)}
        batched, batched_complement = _batched_matches(tree, [contact.pk for contact in snapshot])
        explained = {
            contact.pk
            for contact in snapshot
            if explain_contact(tree, contact_id=contact.pk, now=NOW)["result"]
        }
        transaction.set_rollback(True)
    assert selected == expected
    assert explained == expected
    assert complement == {contact.pk for contact in snapshot} - expected
    assert batched == expected
    assert batched_complement == {contact.pk for contact in snapshot} - expected


def _batched_matches(tree, contact_ids: list[int]) -> tuple[set[int], set[int]]:
    """The tree's and its complement's members after the batched incremental evaluation
    (event facts instead of per-contact probes) of every contact, from no members."""
    segments = {
        segment.pk: segment
        for segment in (
            Segment.objects.create(name="batched", conditions=tree),
            Segment.objects.create(name="batched complement", conditions={"not": tree}),
        )
    }
    results = segments_evaluate_contacts(
        scopes={pk: set(contact_ids) for pk in segments},
        segments={pk: segment.conditions for pk, segment in segments.items()},
        now=NOW,
    )
    assert results is not None, "the batched statement failed"
    members = [
        set(
            SegmentMembership.objects.current().filter(segment=pk).values_list("contact", flat=True)
        )
        for pk in segments
    ]
    return members[0], members[1]
