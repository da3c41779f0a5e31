import datetime as dt
import random

import pytest

from segments.dependencies import (
    EVERY_EVENT,
    AffectedIndex,
    DependencyGraph,
    activity_change,
    dependency_keys,
    is_affected,
)
from segments.models import SegmentMembership
from segments.scheduler import segments_refresh
from segments.services import segment_create
from tests.factories import ContactFactory, CustomFieldFactory, SubscriptionTopicFactory

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
IN_FRANCE = {"type": "field", "field": "country", "op": "eq", "value": "FR"}


def members(segment) -> set[int]:
    current = SegmentMembership.objects.filter(segment=segment, left_at__isnull=True)
    return set(current.values_list("contact_id", flat=True))


@pytest.mark.django_db
def test_dependency_keys_name_the_changes_a_tree_reads():
    CustomFieldFactory(key="plan", type="text")
    SubscriptionTopicFactory(key="news")
    tree = {
        "all": [
            IN_FRANCE,
            {"type": "field", "field": "plan", "op": "eq", "value": "pro"},
            {"type": "event", "event": "login", "op": "performed"},
            {"type": "tag", "op": "has", "tag": "VIP"},
            {"not": {"type": "subscription", "op": "subscribed", "topic": "news"}},
            {"type": "segment", "op": "in", "segment": 7},
        ]
    }

    assert dependency_keys(tree) == [
        "event:login",
        "field:country",
        "field:email_status",
        "fields.plan",
        "segment:7",
        "subscriptions",
        "tags",
    ]


def test_last_activity_read_otherwise_than_in_a_window_depends_on_every_event():
    tree = {
        "any": [
            {
                "type": "field",
                "field": "last_activity_at",
                "op": "within_last",
                "value": {"days": 3},
            },
            {"type": "field", "field": "last_activity_at", "op": "after", "value": "2026-01-01"},
        ]
    }

    keys = dependency_keys(tree)

    assert EVERY_EVENT in keys
    assert is_affected(keys, {"event:anything"})
    assert not is_affected(keys, {"tags"})


WITHIN_3_DAYS = {
    "type": "field",
    "field": "last_activity_at",
    "op": "within_last",
    "value": {"days": 3},
}
OLDER_THAN_30_DAYS = {
    "type": "field",
    "field": "last_activity_at",
    "op": "older_than",
    "value": {"days": 30},
}


def test_activity_windows_depend_on_how_long_the_contact_was_idle():
    keys = dependency_keys({"any": [WITHIN_3_DAYS, {"not": OLDER_THAN_30_DAYS}]})

    assert EVERY_EVENT not in keys
    assert {"activity:259200", "activity:2592000"} <= set(keys)
    # an event alone (last_activity_at not advanced: an email.sent, an older event) is not it
    assert not is_affected(keys, {"event:login"})
    # idle under a day, or under 3 days: neither window can flip
    assert not is_affected(keys, {"event:login", activity_change(dt.timedelta(hours=20))})
    assert not is_affected(keys, {activity_change(dt.timedelta(days=2, hours=23))})
    # idle 3 days or more: the 3-day window may flip
    assert is_affected(keys, {activity_change(dt.timedelta(days=3))})
    assert is_affected(keys, {activity_change(dt.timedelta(days=45))})
    assert is_affected(keys, {activity_change(None)})  # never active before


@pytest.mark.parametrize(
    ("idle", "kind"),
    [
        (dt.timedelta(minutes=5), "activity:3600"),
        (dt.timedelta(hours=1), "activity:21600"),
        (dt.timedelta(days=2), "activity:259200"),
        (dt.timedelta(days=364), "activity:31536000"),
        (dt.timedelta(days=365), "activity:inf"),
        (None, "activity:inf"),
    ],
)
def test_idle_time_becomes_the_first_bound_above_it(idle, kind):
    assert activity_change(idle) == kind


def test_a_window_between_bounds_counts_the_whole_class_as_idle_enough():
    # 10 days falls between the 7- and 14-day bounds: idle 8 days (class "under 14 days")
    # may be 10 or more, so it counts; idle 6 days (class "under 7 days") cannot
    keys = dependency_keys({**WITHIN_3_DAYS, "value": {"days": 10}})

    assert is_affected(keys, {activity_change(dt.timedelta(days=8))})
    assert not is_affected(keys, {activity_change(dt.timedelta(days=6))})


def test_change_outside_the_keys_does_not_affect():
    assert not is_affected(["field:country"], {"field:first_name", "event:login"})
    assert is_affected(["field:country"], {"field:first_name", "field:country"})


_KEYS = ["field:country", "fields.plan", "event:login", "event:purchase", "event:*", "tags"]
_KEYS += [f"activity:{bound}" for bound in (3600, 86400, 604800, 2592000)]
_CHANGES = ["field:country", "event:login", "event:page.viewed", "tags", "subscriptions"]
_CHANGES += [f"activity:{bound}" for bound in (3600, 21600, 604800, 2592000, 31536000)]
_CHANGES.append("activity:inf")


def test_the_index_affects_exactly_the_segments_is_affected_names():
    rng = random.Random(3)
    segments = [(pk, rng.sample(_KEYS, rng.randint(0, 4))) for pk in range(1, 200)]
    index = AffectedIndex(segments)

    for _ in range(300):
        changes = set(rng.sample(_CHANGES, rng.randint(1, 3)))
        expected = {pk for pk, keys in segments if is_affected(keys, changes)}
        assert index.affected(changes) == expected


@pytest.mark.django_db
def test_segments_are_ordered_after_the_segments_they_read():
    base = segment_create(name="France", conditions=IN_FRANCE)
    middle = segment_create(
        name="Not France", conditions={"type": "segment", "op": "not_in", "segment": base.pk}
    )
    top = segment_create(
        name="Top", conditions={"type": "segment", "op": "in", "segment": middle.pk}
    )
    lone = segment_create(name="Lone", conditions=IN_FRANCE)

    ordered = DependencyGraph.load().ordered([top, middle, lone, base])

    assert ordered.index(base) < ordered.index(middle) < ordered.index(top)


@pytest.mark.django_db
def test_refresh_evaluates_read_segments_first():
    ann = ContactFactory(country="FR")
    bob = ContactFactory(country="DE")
    france = segment_create(name="France", conditions=IN_FRANCE)
    elsewhere = segment_create(
        name="Elsewhere", conditions={"type": "segment", "op": "not_in", "segment": france.pk}
    )

    segments_refresh(segments=[elsewhere, france], now=NOW)

    assert members(france) == {ann.pk}
    assert members(elsewhere) == {bob.pk}


@pytest.mark.django_db
def test_refresh_follows_with_segments_reading_a_changed_one():
    ann = ContactFactory(country="FR")
    france = segment_create(name="France", conditions=IN_FRANCE)
    in_france = segment_create(
        name="In France", conditions={"type": "segment", "op": "in", "segment": france.pk}
    )
    segments_refresh(segments=[france, in_france], now=NOW)
    ann.country = "DE"
    ann.save()

    results = segments_refresh(segments=[france], now=NOW + dt.timedelta(minutes=1))

    assert set(results) == {france.pk, in_france.pk}
    assert members(in_france) == set()


@pytest.mark.django_db
def test_refresh_skips_readers_when_membership_did_not_change():
    ContactFactory(country="FR")
    france = segment_create(name="France", conditions=IN_FRANCE)
    reader = segment_create(
        name="Reader", conditions={"type": "segment", "op": "in", "segment": france.pk}
    )
    segments_refresh(segments=[france, reader], now=NOW)

    results = segments_refresh(segments=[france], now=NOW + dt.timedelta(minutes=1))

    assert set(results) == {france.pk}
