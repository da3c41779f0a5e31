import datetime as dt

import pytest
from django.db import connection

from segments.evaluation import segment_evaluate, segment_evaluate_contacts
from segments.models import SegmentDailyStats, SegmentMembership, SegmentTransition
from segments.services import segment_create
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
IN_FRANCE = {"type": "field", "field": "country", "op": "eq", "value": "FR"}


def transitions(segment):
    rows = SegmentTransition.objects.filter(segment=segment).order_by("id")
    return list(rows.values_list("contact_id", "kind"))


def test_matching_contacts_enter_with_one_transition_each():
    ann, bob = ContactFactory(country="FR"), ContactFactory(country="FR")
    ContactFactory(country="DE")
    segment = segment_create(name="France", conditions=IN_FRANCE)

    result = segment_evaluate(segment=segment, now=NOW)

    assert (result.size, result.entered, result.left) == (2, 2, 0)
    # One statement inserts both rows: their order is the plan's, not the contacts'.
    assert sorted(transitions(segment)) == [(ann.pk, "entered"), (bob.pk, "entered")]
    stays = SegmentMembership.objects.filter(segment=segment)
    assert sorted(stays.values_list("contact_id", "entered_at", "left_at")) == [
        (ann.pk, NOW, None),
        (bob.pk, NOW, None),
    ]


def test_contact_that_stops_matching_leaves():
    ann = ContactFactory(country="FR")
    segment = segment_create(name="France", conditions=IN_FRANCE)
    segment_evaluate(segment=segment, now=NOW)
    ann.country = "DE"
    ann.save()

    result = segment_evaluate(segment=segment, now=NOW + dt.timedelta(hours=1))

    assert (result.size, result.entered, result.left) == (0, 0, 1)
    assert transitions(segment) == [(ann.pk, "entered"), (ann.pk, "left")]
    stay = SegmentMembership.objects.get(segment=segment)
    assert stay.left_at == NOW + dt.timedelta(hours=1)


def test_reentering_opens_a_new_stay():
    ann = ContactFactory(country="FR")
    segment = segment_create(name="France", conditions=IN_FRANCE)
    segment_evaluate(segment=segment, now=NOW)
    for hours, country in ((1, "DE"), (2, "FR")):
        ann.country = country
        ann.save()
        segment_evaluate(segment=segment, now=NOW + dt.timedelta(hours=hours))

    stays = SegmentMembership.objects.filter(segment=segment).order_by("entered_at")
    assert list(stays.values_list("entered_at", "left_at")) == [
        (NOW, NOW + dt.timedelta(hours=1)),
        (NOW + dt.timedelta(hours=2), None),
    ]
    assert [kind for _, kind in transitions(segment)] == ["entered", "left", "entered"]


def test_rerun_without_data_change_emits_nothing():
    ContactFactory.create_batch(3, country="FR")
    segment = segment_create(name="France", conditions=IN_FRANCE)
    segment_evaluate(segment=segment, now=NOW)

    result = segment_evaluate(segment=segment, now=NOW + dt.timedelta(minutes=5))

    assert (result.size, result.entered, result.left) == (3, 0, 0)
    assert SegmentTransition.objects.filter(segment=segment).count() == 3
    assert SegmentMembership.objects.filter(segment=segment).count() == 3


def test_evaluation_records_size_schedule_and_daily_stats():
    ContactFactory.create_batch(2, country="FR")
    segment = segment_create(
        name="Recent France",
        conditions={
            "all": [
                IN_FRANCE,
                {"type": "event", "event": "login", "op": "not_performed", "within": {"days": 7}},
            ]
        },
        refresh_interval=600,
    )

    segment_evaluate(segment=segment, now=NOW)
    segment_evaluate(segment=segment, now=NOW + dt.timedelta(hours=1))

    segment.refresh_from_db()
    assert segment.size == 2
    assert segment.last_evaluated_at == NOW + dt.timedelta(hours=1)
    assert segment.next_evaluation_at == NOW + dt.timedelta(hours=1, minutes=10)
    stats = SegmentDailyStats.objects.get(segment=segment)
    assert (stats.day, stats.size, stats.entered, stats.left) == (NOW.date(), 2, 2, 0)


def test_segment_without_relative_conditions_has_no_next_evaluation():
    segment = segment_create(name="France", conditions=IN_FRANCE)

    segment_evaluate(segment=segment, now=NOW)

    segment.refresh_from_db()
    assert segment.next_evaluation_at is None


def test_daily_stats_accumulate_per_utc_day():
    ann = ContactFactory(country="FR")
    segment = segment_create(name="France", conditions=IN_FRANCE)
    segment_evaluate(segment=segment, now=NOW)
    ann.country = "DE"
    ann.save()
    segment_evaluate(segment=segment, now=NOW + dt.timedelta(hours=1))
    ann.country = "FR"
    ann.save()
    segment_evaluate(segment=segment, now=NOW + dt.timedelta(days=1))

    rows = SegmentDailyStats.objects.filter(segment=segment).order_by("day")
    assert list(rows.values_list("day", "size", "entered", "left")) == [
        (NOW.date(), 0, 1, 1),
        (NOW.date() + dt.timedelta(days=1), 1, 1, 0),
    ]


def test_full_evaluation_is_a_fixed_number_of_queries(django_assert_num_queries):
    ContactFactory.create_batch(20, country="FR")
    segment = segment_create(name="France", conditions=IN_FRANCE)

    # PostgreSQL: savepoint, lock, diff statement, size + schedule, daily stats, release.
    # SQLite (serialized writers, no lock): four diff statements and a count instead of one.
    with django_assert_num_queries(6 if connection.vendor == "postgresql" else 11):
        segment_evaluate(segment=segment, now=NOW)


def test_evaluating_given_contacts_looks_at_no_other():
    ann, bob = ContactFactory(country="FR"), ContactFactory(country="FR")
    segment = segment_create(name="France", conditions=IN_FRANCE)
    segment_evaluate(segment=segment, now=NOW)
    for contact in (ann, bob):
        contact.country = "DE"
        contact.save()

    result = segment_evaluate_contacts(segment=segment, contact_ids=[ann.pk], now=NOW)

    assert (result.size, result.entered, result.left) == (1, 0, 1)
    assert result.moved_contact_ids == {ann.pk}
    current = SegmentMembership.objects.filter(segment=segment, left_at__isnull=True)
    assert list(current.values_list("contact_id", flat=True)) == [bob.pk]
    segment.refresh_from_db()
    assert segment.size == 1


def test_evaluating_given_contacts_adds_new_matches():
    segment = segment_create(name="France", conditions=IN_FRANCE)
    segment_evaluate(segment=segment, now=NOW)
    ann = ContactFactory(country="FR")

    result = segment_evaluate_contacts(segment=segment, contact_ids=[ann.pk], now=NOW)

    assert (result.size, result.entered, result.left) == (1, 1, 0)
    assert transitions(segment) == [(ann.pk, "entered")]
