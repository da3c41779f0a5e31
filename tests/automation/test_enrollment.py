import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from automation import enrollment as enrollment_module
from automation.enrollment import enrollment_start, enrollments_start_bulk, in_holdout
from automation.models import Enrollment, FlowStatus
from contacts.models import Contact
from tests.automation.live_flow import live_version, version_add
from tests.factories import ContactFactory

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["set-based", "portable"])
def insert_path(request, monkeypatch):
    """Every rule holds on both paths: PostgreSQL's one statement and the portable one of the
    embedded SQLite default (run here on PostgreSQL too)."""
    if request.param == "portable":
        monkeypatch.setattr(
            enrollment_module, "_insert_postgresql", enrollment_module._insert_portable
        )
    return request.param


def start(version, contact, key, now=NOW, event_id=None):
    return enrollment_start(
        version=version, contact_id=contact.pk, trigger_key=key, trigger_event_id=event_id, now=now
    )


def finish(enrollment, at=NOW):
    Enrollment.objects.filter(pk=enrollment.pk).update(state="completed", ended_at=at)


def test_new_enrollment_starts_at_the_first_step_due_now(insert_path):
    version, contact = live_version(), ContactFactory()

    started = start(version, contact, "event:1", event_id=1)

    row = Enrollment.objects.get()
    assert started.pk == row.pk
    assert (row.flow_id, row.version_id, row.contact_id) == (
        version.flow_id,
        version.pk,
        contact.pk,
    )
    assert (row.state, row.step_id, row.next_run_at, row.step_started_at) == (
        "active",
        "s1",
        NOW,
        NOW,
    )
    assert (row.trigger_key, row.trigger_event_id, row.sleeping) == ("event:1", 1, False)


def test_new_enrollment_wakes_the_scheduler_on_commit(
    insert_path, django_capture_on_commit_callbacks
):
    version, contact = live_version(), ContactFactory()

    with django_capture_on_commit_callbacks() as callbacks:
        start(version, contact, "event:1")

    assert len(callbacks) == 1


def test_a_flow_without_steps_completes_at_once(insert_path):
    version, contact = live_version(), ContactFactory()
    version.definition = {**version.definition, "steps": []}
    version.save()

    started = start(version, contact, "event:1")

    row = Enrollment.objects.get()
    assert (started.state, row.state, row.step_id, row.next_run_at, row.ended_at) == (
        "completed",
        "completed",
        None,
        None,
        NOW,
    )


@pytest.mark.parametrize("status", [FlowStatus.PAUSED, FlowStatus.ARCHIVED, FlowStatus.DRAFT])
def test_a_flow_that_is_not_active_enrolls_nobody(insert_path, status):
    version, contact = live_version(status=status), ContactFactory()

    assert start(version, contact, "event:1") is None
    assert not Enrollment.objects.exists()


def test_an_old_version_enrolls_nobody(insert_path):
    old = live_version()
    flow = old.flow
    flow.live_version = version_add(flow)
    flow.save()

    assert start(old, ContactFactory(), "event:1") is None
    assert not Enrollment.objects.exists()


def test_a_replayed_trigger_is_a_no_op(insert_path):
    version, contact = live_version(reentry="always"), ContactFactory()
    first = start(version, contact, "event:1")
    finish(first)

    assert start(version, contact, "event:1") is None
    assert Enrollment.objects.count() == 1


def test_a_missing_contact_is_skipped(insert_path):
    version, contact = live_version(), ContactFactory()
    gone = ContactFactory()
    gone_id = gone.pk
    gone.delete()

    enrolled = enrollments_start_bulk(
        version=version,
        items=[(gone_id, "event:1", None), (contact.pk, "event:2", None)],
        now=NOW,
    )

    assert enrolled == 1
    assert list(Enrollment.objects.values_list("contact_id", flat=True)) == [contact.pk]


def test_bulk_enrolls_each_contact_once_per_call_by_its_first_item(insert_path):
    version = live_version(reentry="always")
    version.definition = {**version.definition, "steps": []}
    version.save()
    one, two = ContactFactory(), ContactFactory()

    enrolled = enrollments_start_bulk(
        version=version,
        items=[(one.pk, "event:1", 1), (two.pk, "event:2", 2), (one.pk, "event:3", 3)],
        now=NOW,
    )

    assert enrolled == 2
    assert set(Enrollment.objects.values_list("trigger_key", flat=True)) == {"event:1", "event:2"}


# --- Re-entry ----------------------------------------------------------------------------------


def test_reentry_never_enrolls_a_contact_once_ever(insert_path):
    version, contact = live_version(reentry="never"), ContactFactory()
    finish(start(version, contact, "event:1"))

    assert start(version, contact, "event:2", now=NOW + dt.timedelta(days=400)) is None
    assert Enrollment.objects.count() == 1


def test_reentry_always_ignores_a_trigger_while_one_is_active(insert_path):
    version, contact = live_version(reentry="always"), ContactFactory()
    start(version, contact, "event:1")

    assert start(version, contact, "event:2") is None
    assert Enrollment.objects.count() == 1


def test_reentry_always_enrolls_again_once_the_last_one_ended(insert_path):
    version, contact = live_version(reentry="always"), ContactFactory()
    finish(start(version, contact, "event:1"))

    again = start(version, contact, "event:2", now=NOW + dt.timedelta(minutes=1))

    assert again is not None
    assert Enrollment.objects.filter(contact=contact, state="active").count() == 1


def test_reentry_after_waits_for_the_delay_since_the_last_start(insert_path):
    version, contact = live_version(reentry={"after": {"days": 7}}), ContactFactory()
    with time_machine.travel(NOW, tick=False):
        finish(start(version, contact, "event:1", now=timezone.now()))

    with time_machine.travel(NOW + dt.timedelta(days=6, hours=23), tick=False):
        too_soon = start(version, contact, "event:2", now=timezone.now())
    with time_machine.travel(NOW + dt.timedelta(days=7, minutes=1), tick=False):
        later = start(version, contact, "event:3", now=timezone.now())

    assert too_soon is None
    assert later is not None
    assert later.enrolled_at == NOW + dt.timedelta(days=7, minutes=1)


def test_reentry_after_never_overlaps_an_active_enrollment(insert_path):
    version, contact = live_version(reentry={"after": {"hours": 1}}), ContactFactory()
    start(version, contact, "event:1")

    assert start(version, contact, "event:2", now=NOW + dt.timedelta(days=30)) is None


# --- Holdout -----------------------------------------------------------------------------------


def test_holdout_is_the_same_answer_every_time():
    answers = [
        in_holdout(flow_id=7, contact_id=contact_id, percent=20) for contact_id in range(500)
    ]

    again = [in_holdout(flow_id=7, contact_id=contact_id, percent=20) for contact_id in range(500)]

    assert answers == again


@pytest.mark.parametrize("percent", [10, 25, 50])
def test_holdout_takes_about_its_share_of_contacts(percent):
    held = sum(in_holdout(flow_id=3, contact_id=pk, percent=percent) for pk in range(1, 10_001))

    assert abs(held / 10_000 - percent / 100) < 0.015


def test_holdout_differs_between_flows():
    first = [in_holdout(flow_id=1, contact_id=pk, percent=50) for pk in range(200)]
    second = [in_holdout(flow_id=2, contact_id=pk, percent=50) for pk in range(200)]

    assert first != second


def test_no_holdout_percent_holds_nobody_out():
    assert not any(in_holdout(flow_id=1, contact_id=pk, percent=0) for pk in range(1000))


def test_enrollment_records_the_contacts_holdout(insert_path):
    version = live_version(reentry="always", holdout_percent=50)
    contacts = ContactFactory.create_batch(40)

    enrollments_start_bulk(
        version=version, items=[(c.pk, f"event:{c.pk}", None) for c in contacts], now=NOW
    )

    stored = dict(Enrollment.objects.values_list("contact_id", "holdout"))
    expected = {
        c.pk: in_holdout(flow_id=version.flow_id, contact_id=c.pk, percent=50) for c in contacts
    }
    assert stored == expected
    assert 0 < sum(stored.values()) < 40


@pytest.mark.postgresql
def test_bulk_start_is_one_statement_whatever_its_size(django_assert_num_queries):
    version = live_version()
    contacts = Contact.objects.bulk_create([Contact(email=f"c{i}@example.com") for i in range(500)])

    with django_assert_num_queries(1):
        enrolled = enrollments_start_bulk(
            version=version, items=[(c.pk, f"event:{c.pk}", None) for c in contacts], now=NOW
        )

    assert enrolled == 500
