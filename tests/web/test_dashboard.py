import datetime as dt

import pytest
import time_machine
from django.core.cache import cache

from tests.factories import ContactFactory, EventFactory, SegmentDailyStatsFactory, SegmentFactory
from web.dashboard import CHART_DAYS, events_per_day

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 28, 15, 0, tzinfo=dt.UTC)


@time_machine.travel(NOW, tick=False)
def test_headline_counts(marketer_client):
    ContactFactory.create_batch(2, created_at=NOW - dt.timedelta(days=30))
    ContactFactory.create_batch(3, created_at=NOW - dt.timedelta(days=2))
    EventFactory.create_batch(4, occurred_at=NOW - dt.timedelta(hours=2))
    EventFactory(name="purchase", occurred_at=NOW - dt.timedelta(hours=1))
    EventFactory(occurred_at=NOW - dt.timedelta(hours=16))  # yesterday, UTC

    page = marketer_client.get("/")
    events = marketer_client.get("/dashboard/events/", HTTP_HX_REQUEST="true")

    assert page.context["contacts"] == {"total": 11, "new_this_week": 9}
    assert events.context["events_today"] == 5
    assert events.context["events_30_days"] == 6
    assert 'id="events-today" hx-swap-oob="true">5<' in events.content.decode()


@time_machine.travel(NOW, tick=False)
def test_events_per_day_covers_thirty_days_oldest_first_and_ignores_older_ones():
    EventFactory(name="login", occurred_at=NOW - dt.timedelta(days=29, hours=1))
    EventFactory(name="page.viewed", occurred_at=NOW - dt.timedelta(days=29, hours=2))
    EventFactory(name="login", occurred_at=NOW - dt.timedelta(days=31))

    days = events_per_day(now=NOW)

    assert len(days) == CHART_DAYS
    assert days[0] == (dt.date(2026, 10, 30), 2)
    assert days[-1][0] == dt.date(2026, 11, 28)
    assert sum(count for _, count in days) == 2


@time_machine.travel(NOW, tick=False)
def test_the_chart_is_inline_svg_that_fetches_nothing(marketer_client):
    EventFactory(occurred_at=NOW - dt.timedelta(hours=1))

    page = marketer_client.get("/dashboard/events/").content.decode()

    assert "<svg" in page
    assert "kozea.github.io" not in page and "<script xlink" not in page


@time_machine.travel(NOW, tick=False)
def test_segments_with_the_most_movement_this_week_come_first(marketer_client):
    calm, busy, old = (SegmentFactory(name=n) for n in ("Calm", "Busy", "Old news"))
    SegmentDailyStatsFactory(segment=calm, day=dt.date(2026, 11, 27), entered=1, left=0)
    SegmentDailyStatsFactory(segment=busy, day=dt.date(2026, 11, 22), entered=5, left=2)
    SegmentDailyStatsFactory(segment=busy, day=dt.date(2026, 11, 28), entered=1, left=4)
    SegmentDailyStatsFactory(segment=old, day=dt.date(2026, 11, 21), entered=99, left=0)

    movers = marketer_client.get("/").context["movers"]

    assert [(m.name, m.entered, m.left) for m in movers] == [("Busy", 6, 6), ("Calm", 1, 0)]


def test_the_dashboard_queries_are_pinned(marketer_client, django_assert_num_queries):
    EventFactory.create_batch(3)

    # session, user, roles, 2 contact counts, movers
    with django_assert_num_queries(6):
        assert marketer_client.get("/").status_code == 200
    # session, user, roles, event names, per-day counts
    with django_assert_num_queries(5):
        assert marketer_client.get("/dashboard/events/").status_code == 200


@time_machine.travel(NOW, tick=False)
def test_past_days_are_counted_once_then_only_today(django_assert_num_queries):
    EventFactory(occurred_at=NOW - dt.timedelta(days=3))
    events_per_day(now=NOW)
    EventFactory(occurred_at=NOW - dt.timedelta(days=3))  # late: the cached day keeps its count
    EventFactory(occurred_at=NOW - dt.timedelta(minutes=1))

    later = NOW + dt.timedelta(minutes=5)
    cache.delete("web:events_on:2026-11-28")  # today's short-lived entry expired
    with django_assert_num_queries(2):  # event names, today's count
        days = dict(events_per_day(now=later))

    assert days[dt.date(2026, 11, 25)] == 1
    assert days[dt.date(2026, 11, 28)] == 1
