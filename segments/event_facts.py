"""Event facts: per contact, how many events of a name it has in a window, counted once for a
batch of contacts and read by every segment of the batch (the batched incremental path,
segments.batch_evaluation).

Compiled alone, each event or email condition is its own probe of the events index for each
contact it is asked about; a contact in the scope of fifty segments was probed fifty times
for much the same few names. Compiled with facts (`compile_conditions(..., facts=...)`), a
condition without property filters becomes a comparison of one fact column, and the batch's
facts are one grouped, index-only read of its contacts' events: one index descent per
contact and name instead of one per segment and condition. Conditions that filter on event
properties (`where`, an email's template or flow) still probe per contact: they need the
events' rows, not the index.

A fact's count is exact (0 when none), never NULL, so NOT stays exact, as in the compiler.
"""

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass

from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

from contacts.models import Event
from segments import operators as ops

# The facts' row in the batched statement, beside the contacts row being matched.
FACTS_ALIAS = "segflow_facts"
_EVENTS = Event._meta.db_table


@dataclass(frozen=True)
class EventFact:
    """Events named `name` that occurred within `window` of now (ever, when None)."""

    name: str
    window: dt.timedelta | None

    @property
    def column(self) -> str:
        """A column name that is the same in every statement (statements are prepared and
        compiled trees are cached; an event name may be long or hold any character)."""
        window = "ever" if self.window is None else str(int(self.window.total_seconds()))
        digest = hashlib.sha1(f"{self.name}\x00{window}".encode()).hexdigest()[:20]
        return f"f_{digest}"


Facts = MutableMapping[str, EventFact]  # column -> fact, filled while compiling


def fact_count_q(fact: EventFact, count: Mapping, facts: Facts) -> Q:
    """The contact has `count` ({"op": gte|lte|eq, "value": N}) of the fact's events."""
    facts[fact.column] = fact
    operator = {"gte": ">=", "lte": "<=", "eq": "="}[count["op"]]
    return Q(
        RawSQL(
            f'"{FACTS_ALIAS}"."{fact.column}" {operator} %s',
            (int(count["value"]),),
            output_field=BooleanField(),
        )
    )


def event_fact(name: str, within: Mapping | None) -> EventFact:
    return EventFact(name=name, window=None if within is None else ops.parse_duration(within))


def facts_sql(facts: Iterable[EventFact], *, now: dt.datetime, batch: object) -> tuple[str, list]:
    """The facts of the `batch` contacts (an id array parameter) as a SELECT of contact_id and
    one count per fact, with its params: one index-only scan per contact and name, over the
    window that the widest of its facts needs."""
    facts = list(facts)
    if not facts:
        return "SELECT batch.id AS contact_id FROM unnest(%s::bigint[]) AS batch(id)", [batch]
    counts, params = [], []
    for fact in facts:
        if fact.window is None:
            counts.append(f'count(*) FILTER (WHERE event.name = %s) AS "{fact.column}"')
            params.append(fact.name)
        else:
            counts.append(
                f"count(*) FILTER (WHERE event.name = %s AND event.occurred_at >= %s) "
                f'AS "{fact.column}"'
            )
            params += [fact.name, now - fact.window]
    names = sorted({fact.name for fact in facts})
    join = "event.contact_id = batch.id AND event.name = ANY(%s::text[])"
    join_params: list = [names]
    if all(fact.window is not None for fact in facts):
        join += " AND event.occurred_at >= %s"
        join_params.append(now - max(fact.window for fact in facts))
    sql = (
        f"SELECT batch.id AS contact_id, {', '.join(counts)} "
        f"FROM unnest(%s::bigint[]) AS batch(id) "
        f"LEFT JOIN {_EVENTS} AS event ON {join} "
        f"GROUP BY batch.id"
    )
    return sql, [*params, batch, *join_params]
