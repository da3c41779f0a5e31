"""The single-event ingest writes the receivers' rows in its own statement
(contacts.single_event_writes): the rows must be the ones the contacts_changed receivers
write, for every idle class, for events that are not activity, for watched names of scoring
and flows, and none for a replay. Each case runs both ways, on two contacts in the same
state: through the one statement, and through the signal (forced by connecting a receiver
that has no writer)."""

import datetime as dt

import pytest

from automation.models import PendingFlowEvent
from contacts.ingest import EventInput, events_ingest
from contacts.models import Contact
from contacts.signals import contacts_changed
from contacts.single_event_writes import single_event_writes
from scoring.models import PendingScoreEvents
from scoring.rule_watch import watched_reset
from scoring.rules import rule_create
from segments.models import PendingContactChange
from tests.automation.live_flow import live_version
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgresql]

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def _no_writer(sender, **kwargs) -> None:
    pass


def ingest(contact: Contact, name: str, *, through_signal: bool, key: str | None = None):
    if through_signal:
        contacts_changed.connect(_no_writer, dispatch_uid="tests.no_writer")
    try:
        assert (single_event_writes(name=name, now=NOW) is None) is through_signal
        [stored] = events_ingest(
            events=[
                EventInput(name=name, email=contact.email, occurred_at=NOW, idempotency_key=key)
            ],
            now=NOW,
        )
    finally:
        contacts_changed.disconnect(dispatch_uid="tests.no_writer")
    return stored


def rows_of(contact: Contact, event_id: int | None) -> dict:
    """The receivers' rows for this contact and event, ids replaced by what they stand for."""
    return {
        "segments": sorted(
            (row.contact_count, row.changes)
            for row in PendingContactChange.objects.all()
            if row.contact_ids == [contact.pk]
        ),
        "scoring": sum(row.event_ids == [event_id] for row in PendingScoreEvents.objects.all()),
        "flows": list(
            PendingFlowEvent.objects.filter(event_id=event_id, contact_id=contact.pk).values_list(
                "name", flat=True
            )
        ),
    }


def both_ways(name: str, last_activity_at: dt.datetime | None) -> tuple[dict, dict]:
    one, other = (ContactFactory(last_activity_at=last_activity_at) for _ in range(2))
    statement = ingest(one, name, through_signal=False)
    signal = ingest(other, name, through_signal=True)
    return rows_of(one, statement.event_id), rows_of(other, signal.event_id)


@pytest.mark.parametrize(
    "idle",
    [
        None,  # never active
        dt.timedelta(minutes=30),
        HOUR,  # on a class border
        HOUR + dt.timedelta(microseconds=1),
        dt.timedelta(days=3, hours=2),
        dt.timedelta(days=400),
        -HOUR,  # active after this event occurred: last_activity_at does not move
    ],
)
def test_segments_get_the_row_the_signal_writes_for_every_idle_time(idle):
    statement, signal = both_ways("login", None if idle is None else NOW - idle)

    assert statement == signal
    assert len(statement["segments"]) == 1


def test_an_event_that_is_not_activity_queues_no_activity_change():
    statement, signal = both_ways("email.sent", NOW - dt.timedelta(days=40))

    assert (
        statement == signal == {"segments": [(1, ["event:email.sent"])], "scoring": 0, "flows": []}
    )


def test_watched_names_queue_the_scoring_and_flow_rows_too(django_capture_on_commit_callbacks):
    live_version()  # a flow triggered by signed_up
    rule_create(data={"name": "Signed up", "event": "signed_up", "points": 5})
    watched_reset()

    with django_capture_on_commit_callbacks(execute=False):
        statement, signal = both_ways("signed_up", NOW - dt.timedelta(days=2))

    assert statement == signal
    assert (statement["scoring"], statement["flows"]) == (1, ["signed_up"])


def test_a_condition_rule_reading_the_event_is_applied_after_the_commit(
    django_capture_on_commit_callbacks,
):
    # the rule's task runs inline in unit tests: its points show it ran, both ways
    condition = {"type": "event", "event": "demo.booked", "op": "performed"}
    rule_create(data={"name": "Booked", "kind": "condition", "condition": condition, "points": 9})
    watched_reset()
    one, other = ContactFactory(), ContactFactory()

    with django_capture_on_commit_callbacks(execute=True):
        ingest(one, "demo.booked", through_signal=False)
        ingest(other, "demo.booked", through_signal=True)

    assert Contact.objects.get(pk=one.pk).lead_score == 9
    assert Contact.objects.get(pk=other.pk).lead_score == 9


def test_a_replayed_event_writes_no_row():
    live_version()
    contact = ContactFactory()
    first = ingest(contact, "signed_up", through_signal=False, key="once")
    before = rows_of(contact, first.event_id)

    replay = ingest(contact, "signed_up", through_signal=False, key="once")

    assert (replay.event_id, replay.duplicate) == (first.event_id, True)
    assert rows_of(contact, first.event_id) == before
    assert PendingContactChange.objects.count() == 1
