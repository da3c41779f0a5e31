"""Reads of the dashboard: headline counts, segment movement and events per day.

Events have no index on occurred_at alone: the per-day counts read the (name, occurred_at)
index, one range per event name (names found by a skip scan of that index), never the whole
table. That is still every event of the month (seconds on millions of events), so the page
loads the chart separately (HTMX) and each day's count is cached: past days hardly change.
"""

import datetime as dt
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDate

from contacts.models import Contact, Event
from segments.models import SegmentDailyStats

CHART_DAYS = 30
MOVERS_LIMIT = 5
TODAY_CACHE_SECONDS = 60
PAST_DAY_CACHE_SECONDS = 6 * 3600


@dataclass(frozen=True)
class SegmentMovement:
    segment_id: int
    name: str
    size: int
    entered: int
    left: int


def contacts_summary(*, now: dt.datetime) -> dict[str, int]:
    return {
        "total": Contact.objects.count(),
        "new_this_week": Contact.objects.filter(created_at__gte=now - dt.timedelta(days=7)).count(),
    }


def segments_biggest_movement(*, now: dt.datetime, days: int = 7) -> list[SegmentMovement]:
    """Segments with the most entries plus departures over the last `days` UTC days."""
    since = (now - dt.timedelta(days=days - 1)).date()
    rows = (
        SegmentDailyStats.objects.filter(day__gte=since)
        .values("segment_id", "segment__name", "segment__size")
        .annotate(entered_sum=Sum("entered"), left_sum=Sum("left"))
        .annotate(moved=F("entered_sum") + F("left_sum"))
        .filter(moved__gt=0)
        .order_by("-moved", "segment__name")[:MOVERS_LIMIT]
    )
    return [
        SegmentMovement(
            segment_id=row["segment_id"],
            name=row["segment__name"],
            size=row["segment__size"],
            entered=row["entered_sum"],
            left=row["left_sum"],
        )
        for row in rows
    ]


def _event_names() -> list[str]:
    """Distinct event names; on PostgreSQL a skip scan of event_name_time_idx (one index probe
    per name) instead of reading every event."""
    if connection.vendor != "postgresql":
        return list(Event.objects.values_list("name", flat=True).distinct())
    table = Event._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE names(name) AS (
                (SELECT name FROM {table} ORDER BY name LIMIT 1)
                UNION ALL
                SELECT (SELECT e.name FROM {table} e WHERE e.name > names.name
                        ORDER BY e.name LIMIT 1)
                FROM names WHERE names.name IS NOT NULL
            )
            SELECT name FROM names WHERE name IS NOT NULL
            """
        )
        return [row[0] for row in cursor.fetchall()]


def _count_by_day(first_day: dt.date, last_day: dt.date) -> dict[dt.date, int]:
    since = dt.datetime.combine(first_day, dt.time.min, tzinfo=dt.UTC)
    until = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    return dict(
        Event.objects.filter(name__in=_event_names(), occurred_at__gte=since, occurred_at__lt=until)
        .annotate(day=TruncDate("occurred_at", tzinfo=dt.UTC))
        .values("day")
        .annotate(count=Count("id"))
        .values_list("day", "count")
    )


def events_per_day(*, now: dt.datetime, days: int = CHART_DAYS) -> list[tuple[dt.date, int]]:
    """Events per UTC day for the last `days` days (today included, oldest first).

    Each day's count is cached: a past day for PAST_DAY_CACHE_SECONDS (late events rarely
    change it), today for TODAY_CACHE_SECONDS. Only the days missing from the cache are
    counted, in one query: after the first load, that is today alone."""
    today = now.astimezone(dt.UTC).date()
    wanted = [today - dt.timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    keys = {day: f"web:events_on:{day.isoformat()}" for day in wanted}
    cached = cache.get_many(keys.values())
    counts = {day: cached[key] for day, key in keys.items() if key in cached}
    missing = [day for day in wanted if day not in counts]
    if missing:
        found = _count_by_day(missing[0], missing[-1])
        for day in missing:
            counts[day] = found.get(day, 0)
            timeout = TODAY_CACHE_SECONDS if day == today else PAST_DAY_CACHE_SECONDS
            cache.set(keys[day], counts[day], timeout)
    return [(day, counts[day]) for day in wanted]
