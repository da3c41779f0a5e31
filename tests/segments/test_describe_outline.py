"""The condition outline of the segment page (segments/describe_outline.py): one line per
group and condition with its depth, and with explain's answer each line's verdict and the
contact's actual value in words."""

import datetime as dt

import pytest

from segments.describe_outline import actual_describe, conditions_outline
from segments.explain import explain_contact
from tests.factories import (
    ContactFactory,
    ContactSubscriptionFactory,
    ContactTagFactory,
    EventFactory,
    SegmentFactory,
    SegmentMembershipFactory,
    SubscriptionTopicFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


def test_outline_lines_follow_the_tree():
    tree = {
        "all": [
            {"type": "tag", "op": "has", "tag": "vip"},
            {"not": {"any": [{"type": "field", "field": "country", "op": "eq", "value": "FR"}]}},
        ]
    }

    lines = conditions_outline(conditions=tree, now=NOW)

    assert [(line.depth, line.text, line.is_group) for line in lines] == [
        (0, "All of these", True),
        (1, "has tag vip", False),
        (1, "Not this", True),
        (2, "Any of these", True),
        (3, "Country is FR", False),
    ]
    assert all(line.result is None and line.actual is None for line in lines)


def test_empty_groups_say_who_they_match():
    assert conditions_outline(conditions={"all": []}, now=NOW)[0].text == (
        "Every contact (no conditions)"
    )
    assert conditions_outline(conditions={"any": []}, now=NOW)[0].text == "No contact"


def test_explained_outline_carries_verdicts_and_values():
    topic = SubscriptionTopicFactory(key="news", name="Newsletter", default_opt_in=False)
    other = SegmentFactory(name="Buyers")
    contact = ContactFactory(country="DE")
    ContactTagFactory(contact=contact, tag=TagFactory(name="vip"))
    ContactSubscriptionFactory(contact=contact, topic=topic, status="subscribed")
    SegmentMembershipFactory(segment=other, contact=contact, entered_at=NOW)
    EventFactory(contact=contact, name="login", occurred_at=NOW - dt.timedelta(days=1))
    tree = {
        "any": [
            {"type": "field", "field": "country", "op": "eq", "value": "FR"},
            {"type": "tag", "op": "has", "tag": "vip"},
            {"type": "subscription", "op": "subscribed", "topic": "news"},
            {"type": "segment", "op": "not_in", "segment": other.pk},
            {"type": "event", "event": "login", "op": "performed", "within": {"days": 7}},
        ]
    }

    explained = explain_contact(tree, contact_id=contact.pk, now=NOW)
    lines = conditions_outline(conditions=tree, now=NOW, explained=explained)

    assert [(line.result, line.actual) for line in lines] == [
        (True, None),
        (False, "value: DE"),
        (True, "tags: vip"),
        (True, "subscribed (own choice)"),
        (False, "member since Nov 29, 2026 12:00 UTC"),
        (True, "1 matching event"),
    ]
    assert lines[4].text == "is not in segment “Buyers”"


@pytest.mark.parametrize(
    ("condition", "actual", "words"),
    [
        ({"type": "field"}, {"value": None}, "no value"),
        ({"type": "field"}, {"value": True}, "value: yes"),
        ({"type": "field"}, {"value": ""}, "value: “” (empty)"),
        ({"type": "email"}, {"count": 0}, "0 matching events"),
        ({"type": "segment"}, {"member": False, "entered_at": None}, "not a member"),
        ({"type": "tag"}, {"tags": []}, "no tags"),
        (
            {"type": "subscription"},
            {"status": None, "default_opt_in": True, "email_status": "bounced"},
            "subscribed (topic default); email status bounced",
        ),
        (
            {"type": "subscription"},
            {"status": None, "default_opt_in": None, "email_status": "active"},
            "no such topic",
        ),
    ],
)
def test_actual_values_in_words(condition, actual, words):
    assert actual_describe(condition, actual) == words
