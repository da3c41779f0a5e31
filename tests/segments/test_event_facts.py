"""Event facts in the batched incremental evaluation (segments.event_facts): per contact, the
count of a name's events in a window, read once per batch, must decide exactly what the
compiler's per-contact probes decide, on the borders of windows and counts too."""

import datetime as dt

import pytest

from contacts.models import Contact
from segments.batch_evaluation import matching_condition, segments_evaluate_contacts
from segments.compiler import compile_conditions
from segments.event_facts import EventFact
from segments.models import SegmentMembership
from tests.factories import ContactFactory, EventFactory, SegmentFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgresql]

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
WEEK = dt.timedelta(days=7)
TICK = dt.timedelta(microseconds=1)


def batched_members(trees: list[dict], contacts: list[Contact]) -> list[set[int]]:
    """Each tree's members after one batched evaluation of every contact, from none."""
    segments = [SegmentFactory(conditions=tree) for tree in trees]
    ids = {contact.pk for contact in contacts}
    results = segments_evaluate_contacts(
        scopes={segment.pk: ids for segment in segments},
        segments={segment.pk: segment.conditions for segment in segments},
        now=NOW,
    )
    assert results is not None, "the batched statement failed"
    return [
        set(
            SegmentMembership.objects.current()
            .filter(segment=segment)
            .values_list("contact", flat=True)
        )
        for segment in segments
    ]


def compiled_members(tree: dict) -> set[int]:
    return set(
        Contact.objects.filter(compile_conditions(tree, now=NOW)).values_list("pk", flat=True)
    )


def login(*, within=None, count=None, op="performed") -> dict:
    node = {"type": "event", "event": "login", "op": op}
    if within is not None:
        node["within"] = within
    if count is not None:
        node["count"] = count
    return node


def performed_where(name: str, where: dict) -> dict:
    return {"type": "event", "event": name, "op": "performed", "where": [where]}


def test_a_window_counts_the_event_on_its_border_and_not_one_tick_before():
    on_border, just_before = ContactFactory(), ContactFactory()
    EventFactory(contact=on_border, name="login", occurred_at=NOW - WEEK)
    EventFactory(contact=just_before, name="login", occurred_at=NOW - WEEK - TICK)
    trees = [login(within={"days": 7}), login(within={"days": 7}, op="not_performed")]

    performed, not_performed = batched_members(trees, [on_border, just_before])

    assert performed == {on_border.pk} == compiled_members(trees[0])
    assert not_performed == {just_before.pk}


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        ({"op": "gte", "value": 2}, {"two", "three"}),
        ({"op": "lte", "value": 1}, {"none", "one"}),
        ({"op": "eq", "value": 2}, {"two"}),
        ({"op": "gte", "value": 0}, {"none", "one", "two", "three"}),
    ],
)
def test_counts_compare_as_the_compiler_compares_them(count, expected):
    contacts = {}
    for label, logins in (("none", 0), ("one", 1), ("two", 2), ("three", 3)):
        contacts[label] = ContactFactory()
        for n in range(logins):
            EventFactory(contact=contacts[label], name="login", occurred_at=NOW - dt.timedelta(n))
        # outside the window, and another name: neither counts
        EventFactory(contact=contacts[label], name="login", occurred_at=NOW - 2 * WEEK)
        EventFactory(contact=contacts[label], name="logout", occurred_at=NOW)
    tree = login(within={"days": 7}, count=count)

    (members,) = batched_members([tree], list(contacts.values()))

    assert members == {contacts[label].pk for label in expected} == compiled_members(tree)


def test_facts_of_other_windows_and_of_all_time_share_the_batch_without_mixing():
    # an all-time fact beside windowed ones: the batch reads every login, each fact its own
    old, recent = ContactFactory(), ContactFactory()
    EventFactory(contact=old, name="login", occurred_at=NOW - 400 * dt.timedelta(days=1))
    EventFactory(contact=recent, name="login", occurred_at=NOW - dt.timedelta(hours=2))
    trees = [login(), login(within={"hours": 1}), login(within={"days": 1})]

    ever, last_hour, last_day = batched_members(trees, [old, recent])

    assert ever == {old.pk, recent.pk} == compiled_members(trees[0])
    assert last_hour == set() == compiled_members(trees[1])
    assert last_day == {recent.pk} == compiled_members(trees[2])


def test_email_activity_reads_facts_and_filtered_conditions_still_probe_their_events():
    opened, opened_other_template = ContactFactory(), ContactFactory()
    EventFactory(
        contact=opened, name="email.opened", occurred_at=NOW, properties={"template_id": 1}
    )
    EventFactory(
        contact=opened_other_template,
        name="email.opened",
        occurred_at=NOW,
        properties={"template_id": 2},
    )
    trees = [
        {"type": "email", "op": "opened", "within": {"days": 7}},
        {"type": "email", "op": "not_opened", "template": 1},
        performed_where("email.opened", {"property": "template_id", "op": "eq", "value": 2}),
    ]

    any_open, not_template_1, template_2 = batched_members(trees, [opened, opened_other_template])

    assert any_open == {opened.pk, opened_other_template.pk}
    assert not_template_1 == {opened_other_template.pk} == compiled_members(trees[1])
    assert template_2 == {opened_other_template.pk} == compiled_members(trees[2])


def test_only_conditions_without_property_filters_become_facts():
    tree = {
        "any": [
            login(within={"days": 7}, count={"op": "gte", "value": 3}),
            {"type": "email", "op": "clicked", "within": {"days": 30}},
            {"type": "email", "op": "clicked", "flow": 4},
            performed_where("purchase", {"property": "amount", "op": "gt", "value": 10}),
        ]
    }

    _, _, facts = matching_condition(tree, now=NOW, fields={}, fields_key=())

    assert set(facts) == {
        EventFact(name="login", window=WEEK),
        EventFact(name="email.clicked", window=dt.timedelta(days=30)),
    }


def test_a_fact_column_is_the_same_for_the_same_name_and_window_only():
    week = EventFact(name="login", window=WEEK)
    assert week.column == EventFact(name="login", window=dt.timedelta(hours=168)).column
    others = {
        EventFact(name="login", window=None).column,
        EventFact(name="login", window=dt.timedelta(days=1)).column,
        EventFact(name="logout", window=WEEK).column,
    }
    assert week.column not in others and len(others) == 3
