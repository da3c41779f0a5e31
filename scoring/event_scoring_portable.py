"""Event rules on the embedded SQLite default (no arrays, no data-modifying CTEs): the same
outcome as scoring.event_scoring's statement, with a few ORM queries per rule and the daily
cap counted in Python. Only the worker runs it, never the ingest."""

import datetime as dt
from collections import defaultdict

from django.db.models import Case, F, IntegerField, Sum, Value, When
from django.db.models.functions import Abs

from contacts.models import Contact, Event
from scoring.models import ScoreLedgerEntry, ScoringRule
from segments.field_conditions import property_filter_q


def events_score_portable(
    *, rules: list[ScoringRule], event_ids: list[int], day_start: dt.datetime, now: dt.datetime
) -> list[int]:
    """Ledger rows and score changes for these events (inside the caller's transaction, the
    contacts already locked); the ids of the contacts whose score moved."""
    from scoring.event_scoring import rule_reason

    rows: list[ScoreLedgerEntry] = []
    for rule in rules:
        events = Event.objects.filter(pk__in=event_ids, name=rule.event)
        for item in rule.where or ():
            events = events.filter(property_filter_q(item))
        pairs = list(events.order_by("pk").values_list("pk", "contact_id"))
        scored = set(
            ScoreLedgerEntry.objects.filter(
                rule=rule, event_id__in=[pk for pk, _ in pairs]
            ).values_list("event_id", flat=True)
        )
        pairs = [(pk, contact_id) for pk, contact_id in pairs if pk not in scored]
        given: dict[int, int] = defaultdict(int)
        if rule.daily_cap is not None and pairs:
            today = (
                ScoreLedgerEntry.objects.filter(
                    rule=rule,
                    contact_id__in={contact_id for _, contact_id in pairs},
                    created_at__gte=day_start,
                )
                .values("contact_id")
                .annotate(total=Sum(Abs("delta")))
            )
            given.update({row["contact_id"]: row["total"] for row in today})
        for event_id, contact_id in pairs:
            if rule.daily_cap is not None:
                if given[contact_id] + abs(rule.points) > rule.daily_cap:
                    continue
                given[contact_id] += abs(rule.points)
            rows.append(
                ScoreLedgerEntry(
                    contact_id=contact_id,
                    rule=rule,
                    delta=rule.points,
                    reason=rule_reason(rule),
                    event_id=event_id,
                    created_at=now,
                )
            )
    ScoreLedgerEntry.objects.bulk_create(rows)
    totals: dict[int, int] = defaultdict(int)
    for row in rows:
        totals[row.contact_id] += row.delta
    moved = sorted(pk for pk, delta in totals.items() if delta)
    if moved:
        Contact.objects.filter(pk__in=moved).update(
            lead_score=F("lead_score")
            + Case(
                *(When(pk=pk, then=Value(totals[pk])) for pk in moved),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
    return moved
