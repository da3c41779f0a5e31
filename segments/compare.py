"""Comparing segments side by side (the web UI's /segments/compare/): size, pairwise overlap,
the share of members who opened / clicked an email lately and a chosen event per member.

Set-based reads: one query per metric for all the compared segments together (sizes, overlaps,
email activity, the event), never one per contact or per segment. Every figure counts the
segments' current members (open stays in SegmentMembership), so they agree with each other
even while an evaluation is running.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Exists, OuterRef

from contacts.models import Event
from segments.models import Segment, SegmentMembership

MAX_COMPARED = 6
ACTIVITY_WINDOW = dt.timedelta(days=30)


class CompareInputError(ValueError):
    """The ids asked for cannot be compared; the message says why, for the marketer."""


@dataclass(frozen=True)
class SegmentFigures:
    segment: Segment
    size: int
    opened: int  # members with an email.opened event in the window
    clicked: int  # members with an email.clicked event in the window
    event_total: int  # the chosen event's occurrences by members in the window
    event_members: int  # members who performed the chosen event at least once

    @property
    def opened_percent(self) -> float:
        return _percent(self.opened, self.size)

    @property
    def clicked_percent(self) -> float:
        return _percent(self.clicked, self.size)

    @property
    def event_members_percent(self) -> float:
        return _percent(self.event_members, self.size)

    @property
    def events_per_member(self) -> float:
        return self.event_total / self.size if self.size else 0.0


@dataclass(frozen=True)
class Overlap:
    first: SegmentFigures
    second: SegmentFigures
    both: int  # contacts currently in both

    @property
    def percent_of_first(self) -> float:
        return _percent(self.both, self.first.size)

    @property
    def percent_of_second(self) -> float:
        return _percent(self.both, self.second.size)


@dataclass(frozen=True)
class Comparison:
    rows: list[SegmentFigures]
    overlaps: list[Overlap]
    event_name: str | None
    since: dt.datetime  # start of the activity window


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def compare_ids_parse(raw: list[str] | str | None) -> list[int]:
    """Segment ids from the query string ("1,2,3", or repeated ids=1&ids=2), in order, each
    once. CompareInputError when none, not numbers, fewer than two or more than MAX_COMPARED."""
    parts = raw if isinstance(raw, list) else [raw or ""]
    tokens = [token.strip() for part in parts for token in part.split(",") if token.strip()]
    if not tokens:
        raise CompareInputError("Pick two or more segments to compare.")
    bad = [token for token in tokens if not token.isascii() or not token.isdigit()]
    if bad:
        shown = ", ".join(repr(token[:20]) for token in bad[:3])
        raise CompareInputError(f"Segment ids are whole numbers; {shown} is not.")
    ids = list(dict.fromkeys(int(token) for token in tokens))
    if len(ids) < 2:
        raise CompareInputError("Pick at least two different segments to compare.")
    if len(ids) > MAX_COMPARED:
        raise CompareInputError(
            f"At most {MAX_COMPARED} segments can be compared at once; you picked {len(ids)}."
        )
    return ids


def segments_for_compare(*, ids: list[int]) -> list[Segment]:
    """The segments, in the order asked; CompareInputError naming ids that do not exist."""
    found = Segment.objects.in_bulk(ids)
    missing = [segment_id for segment_id in ids if segment_id not in found]
    if missing:
        listed = ", ".join(f"#{segment_id}" for segment_id in missing)
        raise CompareInputError(f"No segment {listed}: it may have been deleted.")
    return [found[segment_id] for segment_id in ids]


def segments_compare(
    *, segments: list[Segment], now: dt.datetime, event_name: str | None = None
) -> Comparison:
    """Four queries (three without an event name), whatever the number of members."""
    ids = [segment.pk for segment in segments]
    since = now - ACTIVITY_WINDOW
    sizes = _sizes(ids)
    activity = _email_activity(ids, since=since)
    events = _event_counts(ids, name=event_name, since=since) if event_name else {}
    rows = [
        SegmentFigures(
            segment=segment,
            size=sizes.get(segment.pk, 0),
            opened=activity.get(segment.pk, (0, 0))[0],
            clicked=activity.get(segment.pk, (0, 0))[1],
            event_total=events.get(segment.pk, (0, 0))[0],
            event_members=events.get(segment.pk, (0, 0))[1],
        )
        for segment in segments
    ]
    both = _overlaps(ids)
    overlaps = [
        Overlap(first=first, second=second, both=both.get((first.segment.pk, second.segment.pk), 0))
        for index, first in enumerate(rows)
        for second in rows[index + 1 :]
    ]
    return Comparison(rows=rows, overlaps=overlaps, event_name=event_name, since=since)


def _current(ids: list[int]):
    return SegmentMembership.objects.current().filter(segment_id__in=ids)


def _sizes(ids: list[int]) -> dict[int, int]:
    rows = _current(ids).values("segment_id").annotate(size=Count("id")).order_by()
    return {row["segment_id"]: row["size"] for row in rows}


def _email_activity(ids: list[int], *, since: dt.datetime) -> dict[int, tuple[int, int]]:
    """Members with an email opened / clicked since `since`, per segment (one query: an
    EXISTS probe of the (contact, name, occurred_at) index per member)."""

    def did(name: str) -> Exists:
        return Exists(
            Event.objects.filter(
                contact_id=OuterRef("contact_id"), name=name, occurred_at__gte=since
            )
        )

    rows = (
        _current(ids)
        .values("segment_id")
        .annotate(
            opened=Count("id", filter=did("email.opened")),
            clicked=Count("id", filter=did("email.clicked")),
        )
        .order_by()
    )
    return {row["segment_id"]: (row["opened"], row["clicked"]) for row in rows}


def _in_list(ids: list[int]) -> str:
    return ", ".join(["%s"] * len(ids))


def _overlaps(ids: list[int]) -> dict[tuple[int, int], int]:
    """Contacts in both, for every pair of the segments (one self-join of current stays);
    each pair is answered in both orders."""
    table = connection.ops.quote_name(SegmentMembership._meta.db_table)
    sql = f"""
        SELECT a.segment_id, b.segment_id, COUNT(*)
        FROM {table} a
        JOIN {table} b ON b.contact_id = a.contact_id AND b.segment_id > a.segment_id
        WHERE a.left_at IS NULL AND b.left_at IS NULL
          AND a.segment_id IN ({_in_list(ids)}) AND b.segment_id IN ({_in_list(ids)})
        GROUP BY a.segment_id, b.segment_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids, *ids])
        found = cursor.fetchall()
    pairs: dict[tuple[int, int], int] = {}
    for first, second, both in found:
        pairs[(first, second)] = pairs[(second, first)] = both
    return pairs


def _event_counts(ids: list[int], *, name: str, since: dt.datetime) -> dict[int, tuple[int, int]]:
    """(events, distinct members) of `name` since `since` by each segment's members."""
    memberships = connection.ops.quote_name(SegmentMembership._meta.db_table)
    events = connection.ops.quote_name(Event._meta.db_table)
    sql = f"""
        SELECT m.segment_id, COUNT(*), COUNT(DISTINCT m.contact_id)
        FROM {memberships} m
        JOIN {events} e ON e.contact_id = m.contact_id
        WHERE m.left_at IS NULL AND m.segment_id IN ({_in_list(ids)})
          AND e.name = %s AND e.occurred_at >= %s
        GROUP BY m.segment_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids, name, since])
        return {segment_id: (total, members) for segment_id, total, members in cursor.fetchall()}
