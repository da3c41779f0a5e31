"""Comparing segments (segments/compare.py): every figure checked against counts made in
Python over the fixture's own records, a fixed number of queries, and bad ids refused with a
message a marketer can act on."""

import datetime as dt
import random

import pytest

from segments.compare import (
    ACTIVITY_WINDOW,
    MAX_COMPARED,
    CompareInputError,
    compare_ids_parse,
    segments_compare,
    segments_for_compare,
)
from tests.factories import (
    ContactFactory,
    EventFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
EVENT_NAMES = ["email.opened", "email.clicked", "login", "page.viewed"]


@pytest.fixture
def world():
    """Three segments over 30 contacts: random current and past stays, events inside and just
    outside the 30-day window. Returns the segments and the plain facts Python counts from."""
    rng = random.Random(7)
    segments = [SegmentFactory(name=name) for name in ("Trials", "Buyers", "Churn risk")]
    contacts = ContactFactory.create_batch(30)
    members: dict[int, set[int]] = {segment.pk: set() for segment in segments}
    events: list[tuple[int, str, dt.datetime]] = []
    for contact in contacts:
        for segment in segments:
            roll = rng.random()
            if roll < 0.45:
                SegmentMembershipFactory(segment=segment, contact=contact, entered_at=NOW)
                members[segment.pk].add(contact.pk)
            elif roll < 0.6:  # a past stay: left, so not a member now
                SegmentMembershipFactory(
                    segment=segment,
                    contact=contact,
                    entered_at=NOW - dt.timedelta(days=9),
                    left_at=NOW - dt.timedelta(days=2),
                )
        for _ in range(rng.randint(0, 5)):
            name = rng.choice(EVENT_NAMES)
            ago = rng.choice([dt.timedelta(0), dt.timedelta(days=3), ACTIVITY_WINDOW])
            ago += rng.choice([dt.timedelta(0), dt.timedelta(seconds=1)])  # on / past the edge
            EventFactory(contact=contact, name=name, occurred_at=NOW - ago)
            events.append((contact.pk, name, NOW - ago))
    return segments, members, events


def _expected_with(events, name: str) -> set[int]:
    since = NOW - ACTIVITY_WINDOW
    return {contact for contact, event, at in events if event == name and at >= since}


def test_figures_equal_counts_made_in_python(world, django_assert_num_queries):
    segments, members, events = world

    with django_assert_num_queries(4):
        comparison = segments_compare(segments=segments, now=NOW, event_name="login")

    opened, clicked = (_expected_with(events, name) for name in ("email.opened", "email.clicked"))
    since = NOW - ACTIVITY_WINDOW
    assert [row.segment for row in comparison.rows] == segments
    for row in comparison.rows:
        in_segment = members[row.segment.pk]
        logins = [c for c, name, at in events if name == "login" and at >= since]
        assert row.size == len(in_segment)
        assert row.opened == len(in_segment & opened)
        assert row.clicked == len(in_segment & clicked)
        assert row.event_total == sum(1 for c in logins if c in in_segment)
        assert row.event_members == len(in_segment & set(logins))
        assert row.events_per_member == pytest.approx(row.event_total / len(in_segment))
        assert row.opened_percent == pytest.approx(100 * row.opened / len(in_segment))
    assert len(comparison.overlaps) == 3
    for overlap in comparison.overlaps:
        first, second = members[overlap.first.segment.pk], members[overlap.second.segment.pk]
        assert overlap.both == len(first & second)
        assert overlap.percent_of_first == pytest.approx(100 * len(first & second) / len(first))
        assert overlap.percent_of_second == pytest.approx(100 * len(first & second) / len(second))
    # The fixture is not degenerate: every figure has something to count.
    assert all(overlap.both for overlap in comparison.overlaps)
    assert all(row.opened and row.event_total for row in comparison.rows)


def test_without_an_event_name_three_queries(world, django_assert_num_queries):
    segments, _, _ = world

    with django_assert_num_queries(3):
        comparison = segments_compare(segments=segments[:2], now=NOW)

    assert comparison.event_name is None
    assert all(row.event_total == 0 for row in comparison.rows)


def test_empty_segments_give_zero_shares_not_errors():
    empty = [SegmentFactory(), SegmentFactory()]

    comparison = segments_compare(segments=empty, now=NOW, event_name="login")

    row = comparison.rows[0]
    assert (row.size, row.opened_percent, row.events_per_member) == (0, 0.0, 0.0)
    assert comparison.overlaps[0].percent_of_first == 0.0


def test_the_order_asked_is_kept():
    first, second = SegmentFactory(), SegmentFactory()

    found = segments_for_compare(ids=[second.pk, first.pk])

    assert found == [second, first]


@pytest.mark.parametrize(
    ("raw", "ids"),
    [("1,2,3", [1, 2, 3]), (" 4 , 5 ", [4, 5]), (["1", "2,3"], [1, 2, 3]), ("2,2,3", [2, 3])],
)
def test_ids_are_read_from_a_list_or_repeated_parameters(raw, ids):
    assert compare_ids_parse(raw) == ids


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "Pick two or more segments"),
        ("", "Pick two or more segments"),
        ("1,x", "'x' is not"),
        ("1,-2", "'-2' is not"),
        ("1,٣", "is not"),  # a non-ASCII digit
        ("3", "at least two different"),
        ("3,3", "at least two different"),
        (",".join(str(n) for n in range(1, MAX_COMPARED + 2)), f"At most {MAX_COMPARED}"),
    ],
)
def test_bad_ids_are_refused_with_a_reason(raw, message):
    with pytest.raises(CompareInputError, match=message):
        compare_ids_parse(raw)


def test_unknown_ids_are_named():
    known = SegmentFactory()

    with pytest.raises(CompareInputError, match="No segment #999998, #999999"):
        segments_for_compare(ids=[known.pk, 999_998, 999_999])
