"""Keyset pagination ("next" / "previous" by id cursor): each page is one indexed range read
of page size + 1 rows, never a COUNT(*) nor an OFFSET, so page 10,000 costs what page 1 does."""

from dataclasses import dataclass

from django.db.models import QuerySet


@dataclass(frozen=True)
class KeysetPage:
    items: list
    next_after: int | None  # cursor of the next page (its rows have id > next_after)
    previous_before: int | None  # cursor of the previous page (id < previous_before)


def keyset_page(
    queryset: QuerySet, *, after: int | None, before: int | None, size: int
) -> KeysetPage:
    """The page of `queryset` (ordered by id) after or before a cursor; the first page when
    neither is given. "previous" is offered when the cursor shows rows before it can exist
    (it may then turn out empty if those rows no longer match), "next" when one more row was
    read than the page holds."""
    if before is not None:
        rows = list(queryset.filter(pk__lt=before).order_by("-pk")[: size + 1])
        more_before = len(rows) > size
        items = list(reversed(rows[:size]))
        more_after = True
    else:
        if after is not None:
            queryset = queryset.filter(pk__gt=after)
        rows = list(queryset.order_by("pk")[: size + 1])
        more_after = len(rows) > size
        items = rows[:size]
        more_before = after is not None
    return KeysetPage(
        items=items,
        next_after=items[-1].pk if items and more_after else None,
        previous_before=items[0].pk if items and more_before else None,
    )
