import datetime as dt
import threading
import time

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.models import Contact
from contacts.services import contact_delete
from segments.evaluation import segment_evaluate
from segments.feed import transitions_claim
from segments.models import Segment, SegmentDailyStats, SegmentMembership, SegmentTransition
from segments.scheduler import (
    contact_changes_process_batch,
    contact_changes_record,
)
from segments.services import segment_create
from segments.signals import transitions_written
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

IN_FRANCE = {"type": "field", "field": "country", "op": "eq", "value": "FR"}
NAMED_ANN = {"type": "field", "field": "first_name", "op": "eq", "value": "Ann"}


def evaluated(name, conditions):
    segment = segment_create(name=name, conditions=conditions)
    segment_evaluate(segment=segment, now=timezone.now() - dt.timedelta(hours=1))
    return segment


@pytest.fixture
def wakeups():
    sent = []
    transitions_written.connect(lambda **kwargs: sent.append(1), weak=False, dispatch_uid="t")
    yield sent
    transitions_written.disconnect(dispatch_uid="t")


def left_transitions() -> list[tuple[int, int]]:
    rows = SegmentTransition.objects.filter(kind="left").order_by("segment", "contact")
    return list(rows.values_list("segment", "contact"))


def test_deleting_a_contact_through_the_api_writes_its_left_transitions(
    api, wakeups, django_capture_on_commit_callbacks
):
    ann = ContactFactory(country="FR", first_name="Ann")
    bob = ContactFactory(country="FR")
    france, anns = evaluated("France", IN_FRANCE), evaluated("Ann", NAMED_ANN)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"/api/v1/contacts/{ann.pk}")

    assert response.status_code == 204
    assert left_transitions() == [(france.pk, ann.pk), (anns.pk, ann.pk)]
    assert not SegmentMembership.objects.filter(contact_id=ann.pk).exists()
    sizes = dict(Segment.objects.values_list("pk", "size"))
    assert sizes == {france.pk: 1, anns.pk: 0}
    today = SegmentDailyStats.objects.get(segment=france, day=timezone.now().date())
    assert (today.size, today.left) == (1, 1)
    assert SegmentMembership.objects.current().filter(segment=france).get().contact_id == bob.pk
    assert wakeups == [1]  # the feed's consumers were woken once, after the commit


def test_deleting_contacts_in_the_admin_in_bulk_writes_their_left_transitions(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    ann, bob, eve = ContactFactory.create_batch(3, country="FR")
    france = evaluated("France", IN_FRANCE)

    response = client.post(
        "/admin/contacts/contact/",
        {"action": "delete_selected", "_selected_action": [ann.pk, bob.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert list(Contact.objects.values_list("pk", flat=True)) == [eve.pk]
    assert left_transitions() == [(france.pk, ann.pk), (france.pk, bob.pk)]
    france.refresh_from_db()
    assert france.size == 1


@pytest.mark.django_db(transaction=True)
def test_the_left_transitions_outlive_the_contact_in_the_feed():
    ann = ContactFactory(country="FR")
    ann_id = ann.pk
    france = evaluated("France", IN_FRANCE)
    with transaction.atomic():
        transitions_claim(consumer="webhooks", limit=10)  # the consumer starts here

    contact_delete(contact=ann)

    rows = claim_until_some(consumer="webhooks")
    assert [(row.segment_id, row.contact_id, row.kind) for row in rows] == [
        (france.pk, ann_id, "left")
    ]


def claim_until_some(*, consumer: str, timeout: float = 10.0) -> list:
    """The feed holds rows back while any transaction on the server may precede them (other
    test processes' included), so under load they may show up a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        with transaction.atomic():
            rows = transitions_claim(consumer=consumer, limit=10)
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


@pytest.mark.postgresql
def test_a_deletion_locks_every_segment_in_dependency_order():
    ann = ContactFactory(country="FR")
    france = evaluated("France", IN_FRANCE)
    reader = evaluated("Reads France", {"type": "segment", "op": "in", "segment": france.pk})
    vips = evaluated("VIP", {"type": "tag", "op": "has", "tag": "vip"})  # reads no segment

    ann_id = ann.pk

    with CaptureQueriesContext(connection) as captured:
        contact_delete(contact=ann)

    [lock] = [q["sql"] for q in captured.captured_queries if "FOR NO KEY UPDATE" in q["sql"]]
    assert f"'{{{france.pk},{vips.pk},{reader.pk}}}'" in lock
    assert left_transitions() == [(france.pk, ann_id), (reader.pk, ann_id)]


def test_deleting_a_contact_in_no_segment_locks_nothing():
    ann = ContactFactory(country="DE")
    evaluated("France", IN_FRANCE)

    with CaptureQueriesContext(connection) as captured:
        contact_delete(contact=ann)

    assert not [q for q in captured.captured_queries if "FOR NO KEY UPDATE" in q["sql"]]
    assert left_transitions() == []


def _race(*calls) -> list:
    """Run the calls in threads (each with its own connection) released together; their
    errors, if any."""
    barrier, errors = threading.Barrier(len(calls)), []

    def run(call):
        try:
            barrier.wait()
            call()
        except Exception as exc:  # surfaced by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_deletions_racing_incremental_batches_neither_deadlock_nor_lose_a_departure():
    france = evaluated("France", IN_FRANCE)
    reader = evaluated("Reads France", {"type": "segment", "op": "in", "segment": france.pk})
    for _ in range(15):
        # given contacts entering France (a batch evaluates them) while they are deleted
        doomed = ContactFactory.create_batch(4, country="DE")
        Contact.objects.filter(pk__in=[c.pk for c in doomed]).update(country="FR")
        contact_changes_record(contact_ids=[c.pk for c in doomed], changes=["field:country"])

        errors = _race(
            lambda: contact_changes_process_batch(now=timezone.now()),
            *(lambda contact=contact: contact_delete(contact=contact) for contact in doomed),
        )

        # then every write succeeded, every entry has its departure, sizes are exact
        assert errors == []
        for segment in (france, reader):
            kinds = SegmentTransition.objects.filter(segment=segment).values_list("kind")
            assert kinds.filter(kind="entered").count() == kinds.filter(kind="left").count()
            assert Segment.objects.get(pk=segment.pk).size == 0
