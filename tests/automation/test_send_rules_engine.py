"""The sending policy through the engine: a capped or out-of-window send sleeps with its
delay reason (shown by the enrollments API), is re-checked when due, and goes out once."""

import datetime as dt

import pytest
import time_machine
from django.core import mail

from automation.engine import steps_run
from automation.models import Enrollment, Message, SendingPolicy, StepRun
from automation.tasks import run_due_enrollments
from tests.automation.engine_helpers import NOW, enroll, flow_version, visited
from tests.automation.test_steps_effects import SEND_STEP_QUERIES, advance, outbox  # noqa: F401
from tests.factories import ContactFactory, EmailTemplateFactory, MessageFactory

# Every test sends through the locmem backend (test_steps_effects' fixture): mail.outbox.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbox")]

AFTER = {"id": "after", "type": "tag", "add": ["after"]}
HOUR = dt.timedelta(hours=1)


def mail_flow(*, frequency_cap: str | None = None, template=None):
    template = template or EmailTemplateFactory()
    version = flow_version([{"id": "mail", "type": "send_email", "template": template.pk}, AFTER])
    if frequency_cap is not None:
        version.definition["frequency_cap"] = frequency_cap
        version.save()
    return version


def sent_before(contact, *ages_hours: int) -> None:
    for hours in ages_hours:
        MessageFactory(contact=contact, created_at=NOW - hours * HOUR)


def enrollment_json(api, enrollment) -> dict:
    page = api.get(f"/api/v1/flows/{enrollment.flow_id}/enrollments").json()
    return next(row for row in page["results"] if row["id"] == enrollment.pk)


def test_the_fourth_send_waits_for_the_oldest_to_age_out_then_goes_out_once(api):
    SendingPolicy.objects.create(frequency_cap_count=3, frequency_cap_hours=24)
    enrollment = enroll(mail_flow(), ContactFactory(email="ann@example.com"))
    sent_before(enrollment.contact, 20, 10, 1)  # the oldest leaves the window at NOW + 4 h

    advance(enrollment)

    assert mail.outbox == []
    assert (enrollment.sleeping, enrollment.next_run_at) == (True, NOW + 4 * HOUR)
    shown = enrollment_json(api, enrollment)
    assert shown["delay_reason"] == (
        "frequency cap: 3 emails in 24 h, next at 2026-11-02 16:00 UTC"
    )
    assert shown["next_run_at"] == "2026-11-02T16:00:00Z"
    assert not Message.objects.filter(enrollment=enrollment).exists()
    assert visited(enrollment) == []

    advance(enrollment, now=NOW + 4 * HOUR)

    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    assert Message.objects.get(enrollment=enrollment).status == "sent"
    assert visited(enrollment) == [("mail", "sent"), ("after", "")]
    assert enrollment_json(api, enrollment)["delay_reason"] == ""


def test_with_frequency_cap_skip_the_capped_send_is_a_skipped_message_and_the_journey_goes_on():
    SendingPolicy.objects.create(frequency_cap_count=1, frequency_cap_hours=24)
    enrollment = enroll(mail_flow(frequency_cap="skip"))
    sent_before(enrollment.contact, 2)

    advance(enrollment)

    assert mail.outbox == []
    message = Message.objects.get(enrollment=enrollment)
    assert (message.status, message.reason) == ("skipped", "frequency_cap")
    assert visited(enrollment) == [("mail", "skipped"), ("after", "")]
    assert (enrollment.state, enrollment.delay_reason) == ("completed", "")


def test_a_transactional_send_is_not_capped():
    SendingPolicy.objects.create(frequency_cap_count=1)
    enrollment = enroll(mail_flow(template=EmailTemplateFactory(transactional=True)))
    sent_before(enrollment.contact, 1, 2)

    advance(enrollment)

    assert len(mail.outbox) == 1


def test_a_send_outside_the_window_waits_for_it_and_shows_why(api):
    SendingPolicy.objects.create(
        send_window_enabled=True,
        send_window_start=dt.time(8),
        send_window_end=dt.time(20),
        send_window_days=[1, 2, 3, 4, 5],
    )
    version = mail_flow()
    tokyo = enroll(version, ContactFactory(timezone="Asia/Tokyo"))  # 21:00 Monday there
    new_york = enroll(version, ContactFactory(timezone="America/New_York"))  # 07:00
    paris = enroll(version, ContactFactory(timezone="Europe/Paris"))  # 13:00

    advance(tokyo, new_york, paris)

    assert len(mail.outbox) == 1 and paris.state == "completed"
    assert tokyo.next_run_at == dt.datetime(2026, 11, 2, 23, 0, tzinfo=dt.UTC)
    assert new_york.next_run_at == dt.datetime(2026, 11, 2, 13, 0, tzinfo=dt.UTC)
    assert enrollment_json(api, tokyo)["delay_reason"] == (
        "quiet hours: sends 08:00–20:00 Mon–Fri Asia/Tokyo"
    )

    advance(tokyo, new_york, now=dt.datetime(2026, 11, 2, 13, 0, tzinfo=dt.UTC))

    assert len(mail.outbox) == 2
    assert (new_york.state, new_york.delay_reason) == ("completed", "")
    assert tokyo.delay_reason.startswith("quiet hours") and tokyo.state == "active"


def test_a_delayed_send_woken_early_checks_again_and_sleeps_again():
    SendingPolicy.objects.create(frequency_cap_count=1)
    enrollment = enroll(mail_flow())
    sent_before(enrollment.contact, 20)
    advance(enrollment)
    Enrollment.objects.filter(pk=enrollment.pk).update(next_run_at=NOW + HOUR)  # a wake-up

    advance(enrollment, now=NOW + HOUR)

    assert mail.outbox == []
    assert (enrollment.sleeping, enrollment.next_run_at) == (True, NOW + 4 * HOUR)
    assert enrollment.delay_reason.startswith("frequency cap: 1 email in 24 h")


@pytest.mark.postgresql
@pytest.mark.parametrize("size", [5, 50])
def test_a_send_step_under_a_policy_costs_three_more_queries_whatever_its_size(
    size, django_assert_num_queries
):
    SendingPolicy.objects.create(
        frequency_cap_count=3,
        send_window_enabled=True,
        send_window_start=dt.time(0),
        send_window_end=dt.time(23, 59),
    )
    version = mail_flow()
    ids = [enroll(version).pk for _ in range(size)]
    for capped in Enrollment.objects.filter(pk__in=ids[::2]).select_related("contact"):
        sent_before(capped.contact, 1, 2)  # under the cap of 3: still sent
    enrollments = list(Enrollment.objects.filter(pk__in=ids))

    # The template's transactional flag; the contacts' cap locks; their time zones and
    # counted messages.
    with django_assert_num_queries(SEND_STEP_QUERIES + 3):
        effects = steps_run(enrollments=enrollments, now=NOW)

    assert [effect.message.status for effect in effects] == ["queued"] * size


def test_across_a_delay_no_email_is_lost_or_sent_twice_through_the_scheduler_task():
    # given: a cap of 2 a day and a flow sending three emails in a row to six contacts
    SendingPolicy.objects.create(frequency_cap_count=2, frequency_cap_hours=24)
    templates = [EmailTemplateFactory(subject=subject) for subject in ("A", "B", "C")]
    steps = [
        {"id": f"mail-{t.subject.lower()}", "type": "send_email", "template": t.pk}
        for t in templates
    ]
    version = flow_version([*steps, AFTER])
    enrollments = [enroll(version) for _ in range(6)]

    with time_machine.travel(NOW, tick=False) as traveller:
        # when: the scheduler's task runs now, an hour later (after an early wake-up of
        # half of them), twice a day later
        run_due_enrollments()
        assert sorted(m.subject for m in mail.outbox) == ["A"] * 6 + ["B"] * 6
        traveller.move_to(NOW + HOUR)
        Enrollment.objects.filter(pk__in=[e.pk for e in enrollments[:3]]).update(
            next_run_at=NOW + HOUR
        )
        run_due_enrollments()
        assert len(mail.outbox) == 12
        delayed = Enrollment.objects.filter(pk__in=[e.pk for e in enrollments])
        assert {(e.step_id, e.sleeping, e.next_run_at) for e in delayed} == {
            ("mail-c", True, NOW + 24 * HOUR)
        }
        traveller.move_to(NOW + 24 * HOUR)
        run_due_enrollments()
        run_due_enrollments()

    # then: every contact got A, B and C exactly once, each recorded once
    received: dict[str, list[str]] = {}
    for email in mail.outbox:
        received.setdefault(email.to[0], []).append(email.subject)
    assert len(received) == 6
    assert all(subjects == ["A", "B", "C"] for subjects in received.values())
    assert Message.objects.filter(status="sent").count() == 18
    assert StepRun.objects.filter(step_id="mail-c").count() == 6
    for enrollment in enrollments:
        enrollment.refresh_from_db()
        assert (enrollment.state, enrollment.delay_reason) == ("completed", "")
