"""Condition trees (design §4) evaluated for a batch of enrolled contacts: exit_when and
branch conditions compile through segments' compiler, so a flow and a segment can never
disagree about who matches."""

import datetime as dt
from collections.abc import Iterable, Mapping

from contacts.models import Contact
from segments.compiler import compile_conditions


def contacts_matching(*, tree: Mapping, contact_ids: Iterable[int], now: dt.datetime) -> set[int]:
    """The ids among `contact_ids` that match `tree` at `now`: one query for the batch."""
    ids = sorted(set(contact_ids))
    if not ids:
        return set()
    matching = Contact.objects.filter(compile_conditions(tree, now=now), pk__in=ids)
    return set(matching.order_by().values_list("pk", flat=True))
