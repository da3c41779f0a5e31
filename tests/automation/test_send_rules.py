"""automation.send_rules: the frequency cap and the send window, decided for a batch at a
send_email step (time injected; the engine's use is in test_send_rules_engine.py)."""

import datetime as dt
import threading
import zoneinfo

import pytest

from automation.models import SendingPolicy
from automation.send_rules import (
    DELAY,
    SEND,
    SKIP,
    SendWindow,
    days_text,
    send_decisions,
    skip_reasons,
    zone_of,
)
from tests.automation.engine_helpers import enroll, flow_version
from tests.factories import ContactFactory, EmailTemplateFactory, MessageFactory

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=UTC)  # a Monday
WORKDAYS = frozenset({1, 2, 3, 4, 5})
DAYTIME = SendWindow(dt.time(8), dt.time(20), frozenset())


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


# --- the send window (pure Python) ------------------------------------------------------------


def test_the_same_instant_is_inside_the_window_in_new_york_and_outside_in_tokyo():
    instant = at(2026, 11, 2, 14, 0)  # 09:00 in New York, 23:00 in Tokyo

    assert DAYTIME.next_open(instant, zone("America/New_York")) is None
    assert DAYTIME.next_open(instant, zone("Asia/Tokyo")) == at(2026, 11, 2, 23, 0)  # 08:00 JST


def test_the_window_includes_its_start_and_excludes_its_end():
    paris = zone("Europe/Paris")  # UTC+1 in November

    assert DAYTIME.next_open(at(2026, 11, 2, 7, 0), paris) is None  # 08:00 local
    assert DAYTIME.next_open(at(2026, 11, 2, 18, 59), paris) is None  # 19:59
    assert DAYTIME.next_open(at(2026, 11, 2, 19, 0), paris) == at(2026, 11, 3, 7, 0)  # 20:00


def test_a_weekend_send_waits_for_monday_morning():
    window = SendWindow(dt.time(8), dt.time(20), WORKDAYS)
    paris = zone("Europe/Paris")
    saturday = at(2026, 11, 7, 9, 0)  # Saturday 10:00 in Paris
    friday_evening = at(2026, 11, 6, 19, 0)  # Friday 20:00 in Paris

    assert window.next_open(saturday, paris) == at(2026, 11, 9, 7, 0)  # Monday 08:00
    assert window.next_open(friday_evening, paris) == at(2026, 11, 9, 7, 0)
    assert window.next_open(at(2026, 11, 6, 18, 59), paris) is None


def test_on_the_autumn_dst_change_the_window_opens_at_local_eight_in_the_new_offset():
    paris = zone("Europe/Paris")  # 2026-10-25 03:00 CEST -> 02:00 CET
    saturday_night = at(2026, 10, 24, 19, 30)  # 21:30 CEST (UTC+2)

    opens = DAYTIME.next_open(saturday_night, paris)

    assert opens == at(2026, 10, 25, 7, 0)  # 08:00 CET (UTC+1), not 06:00 UTC
    assert opens.astimezone(paris).time() == dt.time(8)


def test_on_the_spring_dst_change_a_start_in_the_skipped_hour_opens_just_after_the_gap():
    paris = zone("Europe/Paris")  # 2026-03-29 02:00 CET -> 03:00 CEST
    window = SendWindow(dt.time(2, 30), dt.time(20), frozenset())

    opens = window.next_open(at(2026, 3, 29, 0, 0), paris)  # 01:00 CET

    assert opens == at(2026, 3, 29, 1, 30)  # 03:30 CEST: the first local 02:30 after the gap
    assert window.next_open(opens, paris) is None


def test_an_overnight_window_belongs_to_the_day_it_starts_on():
    window = SendWindow(dt.time(20), dt.time(6), frozenset({5}))  # Friday night only

    assert window.next_open(at(2026, 11, 6, 23, 0), UTC) is None  # Friday 23:00
    assert window.next_open(at(2026, 11, 7, 5, 59), UTC) is None  # Saturday 05:59
    assert window.next_open(at(2026, 11, 7, 6, 0), UTC) == at(2026, 11, 13, 20, 0)
    assert window.next_open(at(2026, 11, 5, 23, 0), UTC) == at(2026, 11, 6, 20, 0)  # Thursday


@pytest.mark.parametrize(
    ("days", "text"),
    [
        ([], "every day"),
        ([1, 2, 3, 4, 5], "Mon–Fri"),
        ([6, 7], "Sat, Sun"),
        ([1, 3, 4, 5], "Mon, Wed–Fri"),
        (range(1, 8), "every day"),
    ],
)
def test_days_in_words(days, text):
    assert days_text(days) == text


def test_a_missing_or_unknown_time_zone_falls_back_to_the_default_then_utc():
    assert zone_of("Asia/Tokyo", "Europe/Paris")[1] == "Asia/Tokyo"
    assert zone_of("", "Europe/Paris")[1] == "Europe/Paris"
    assert zone_of("Mars/Olympus", "Europe/Paris")[1] == "Europe/Paris"
    assert zone_of("../../etc/passwd", "Nowhere/Else") == (UTC, "UTC")


# --- decisions for a batch (database) -----------------------------------------------------------


def policy(**values) -> SendingPolicy:
    return SendingPolicy.objects.create(**values)


def send_step(template=None, **extra) -> tuple:
    template = template or EmailTemplateFactory()
    step = {"id": "mail", "type": "send_email", "template": template.pk, **extra}
    return flow_version([step]), step


def sent_before(contact, *ages_hours: float, **values) -> None:
    for hours in ages_hours:
        MessageFactory(contact=contact, created_at=NOW - dt.timedelta(hours=hours), **values)


def decide(enrollment, step, *, now=NOW, on_cap=DELAY):
    return send_decisions(enrollments=[enrollment], step=step, now=now, on_cap=on_cap)[
        enrollment.pk
    ]


@pytest.mark.django_db
def test_the_fourth_email_in_the_window_waits_until_the_oldest_leaves_it():
    policy(frequency_cap_count=3, frequency_cap_hours=24)
    version, step = send_step()
    enrollment = enroll(version)
    sent_before(enrollment.contact, 20, 10, 1)

    decision = decide(enrollment, step)

    assert (decision.action, decision.until) == (DELAY, NOW + dt.timedelta(hours=4))
    assert decision.reason == "frequency cap: 3 emails in 24 h, next at 2026-11-02 16:00 UTC"
    assert decide(enrollment, step, now=NOW + dt.timedelta(hours=4)).action == SEND


@pytest.mark.django_db
def test_under_the_cap_it_sends_and_old_or_unsent_messages_do_not_count():
    policy(frequency_cap_count=3, frequency_cap_hours=24)
    version, step = send_step()
    enrollment = enroll(version)
    sent_before(enrollment.contact, 24, 30)  # left the window (exactly 24 h is out)
    sent_before(enrollment.contact, 1, 2, status="skipped")
    sent_before(enrollment.contact, 3, status="failed")
    sent_before(enrollment.contact, 5, 6)

    assert decide(enrollment, step).action == SEND


@pytest.mark.django_db
def test_queued_and_unknown_messages_count_against_the_cap():
    policy(frequency_cap_count=2)
    version, step = send_step()
    enrollment = enroll(version)
    sent_before(enrollment.contact, 1, status="queued")
    sent_before(enrollment.contact, 2, status="unknown")

    assert decide(enrollment, step).action == DELAY


@pytest.mark.django_db
def test_with_skip_a_capped_send_is_skipped_with_its_reason():
    policy(frequency_cap_count=1)
    version, step = send_step()
    enrollment = enroll(version)
    sent_before(enrollment.contact, 2)

    decisions = send_decisions(enrollments=[enrollment], step=step, now=NOW, on_cap=SKIP)

    assert decisions[enrollment.pk].action == SKIP
    assert skip_reasons(decisions) == {enrollment.pk: "frequency_cap"}


@pytest.mark.django_db
def test_transactional_and_test_messages_do_not_count():
    policy(frequency_cap_count=2)
    version, step = send_step()
    enrollment = enroll(version)
    receipt = EmailTemplateFactory(transactional=True)
    sent_before(enrollment.contact, 1, 2, 3, template=receipt)
    sent_before(enrollment.contact, 1, 2, 3, is_test=True)
    sent_before(enrollment.contact, 4)

    assert decide(enrollment, step).action == SEND


@pytest.mark.django_db
def test_a_transactional_template_is_neither_capped_nor_held_by_the_window():
    policy(frequency_cap_count=1, send_window_enabled=True, **_closed_window_now())
    version, step = send_step(EmailTemplateFactory(transactional=True))
    enrollment = enroll(version)
    sent_before(enrollment.contact, 1, 2)

    assert decide(enrollment, step).action == SEND


@pytest.mark.django_db
def test_a_holdout_enrollment_is_never_delayed():
    policy(frequency_cap_count=1, send_window_enabled=True, **_closed_window_now())
    version, step = send_step()
    enrollment = enroll(version, holdout=True)
    sent_before(enrollment.contact, 1)

    assert decide(enrollment, step).action == SEND


def _closed_window_now() -> dict:
    """A window that is closed at NOW (12:00 UTC) in Paris."""
    return {"send_window_start": dt.time(18), "send_window_end": dt.time(20)}


@pytest.mark.django_db
def test_outside_the_window_it_waits_in_the_contacts_time_zone_with_a_reason():
    policy(
        send_window_enabled=True,
        send_window_start=dt.time(8),
        send_window_end=dt.time(20),
        send_window_days=[1, 2, 3, 4, 5],
    )
    version, step = send_step()
    tokyo = enroll(version, ContactFactory(timezone="Asia/Tokyo"))
    paris = enroll(version, ContactFactory(timezone="Europe/Paris"))

    decisions = send_decisions(enrollments=[tokyo, paris], step=step, now=NOW)

    assert decisions[paris.pk].action == SEND  # 13:00 in Paris
    assert decisions[tokyo.pk].action == DELAY  # 21:00 in Tokyo
    assert decisions[tokyo.pk].until == at(2026, 11, 2, 23, 0)  # Tuesday 08:00 JST
    assert decisions[tokyo.pk].reason == "quiet hours: sends 08:00–20:00 Mon–Fri Asia/Tokyo"


@pytest.mark.django_db
def test_a_contact_without_a_valid_time_zone_gets_the_policys_default():
    policy(
        send_window_enabled=True,
        send_window_start=dt.time(8),
        send_window_end=dt.time(20),
        default_timezone="America/New_York",
    )
    version, step = send_step()
    enrollment = enroll(version, ContactFactory(timezone="Not/AZone"))

    decision = decide(enrollment, step, now=at(2026, 11, 2, 12, 0))  # 07:00 in New York

    assert decision.until == at(2026, 11, 2, 13, 0)
    assert decision.reason.endswith("America/New_York")


@pytest.mark.django_db
def test_a_capped_send_whose_moment_falls_outside_the_window_waits_for_the_window_too():
    policy(
        frequency_cap_count=1,
        send_window_enabled=True,
        send_window_start=dt.time(8),
        send_window_end=dt.time(20),
        default_timezone="UTC",
    )
    version, step = send_step()
    enrollment = enroll(version, ContactFactory(timezone=""))
    sent_before(enrollment.contact, 15)  # leaves the window at 21:00 UTC, after hours

    decision = decide(enrollment, step)

    assert decision.until == at(2026, 11, 3, 8, 0)
    assert decision.reason.startswith("frequency cap: 1 email in 24 h")


@pytest.mark.django_db
def test_a_step_may_ignore_the_send_window_but_not_the_cap():
    policy(frequency_cap_count=1, send_window_enabled=True, **_closed_window_now())
    version, step = send_step(ignore_send_window=True)
    enrollment = enroll(version)

    assert decide(enrollment, step).action == SEND
    sent_before(enrollment.contact, 1)
    assert decide(enrollment, step).reason.startswith("frequency cap")


@pytest.mark.django_db
def test_no_rule_on_costs_one_query_for_the_policy_and_nothing_else(django_assert_num_queries):
    version, step = send_step()
    enrollments = [enroll(version) for _ in range(3)]

    with django_assert_num_queries(1):
        decisions = send_decisions(enrollments=enrollments, step=step, now=NOW)

    assert {d.action for d in decisions.values()} == {SEND}


@pytest.mark.django_db
@pytest.mark.parametrize("size", [5, 50])
def test_a_batch_costs_three_queries_whatever_its_size(size, django_assert_num_queries):
    rules = policy(frequency_cap_count=2, send_window_enabled=True, **_closed_window_now())
    version, step = send_step()
    enrollments = [enroll(version) for _ in range(size)]
    for enrollment in enrollments[::2]:
        sent_before(enrollment.contact, 1, 2)

    # the template's flag; the contacts' cap locks; time zones and counts
    with django_assert_num_queries(3):
        decisions = send_decisions(enrollments=enrollments, step=step, now=NOW, policy=rules)

    assert len(decisions) == size
    assert {d.action for d in decisions.values()} == {DELAY}


# --- two workers at once ------------------------------------------------------------------------


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_flows_sending_to_one_contact_at_once_keep_the_cap():
    """Worker A prepares its send and has not committed yet when worker B decides for the
    same contact (another flow): B waits for A's commit and counts A's message."""
    from django.db import connection, transaction

    from automation.sending import messages_prepare

    rules = policy(frequency_cap_count=1)
    contact = ContactFactory()
    (version_a, step_a), (version_b, step_b) = send_step(), send_step()
    enrollment_a, enrollment_b = enroll(version_a, contact), enroll(version_b, contact)
    a_prepared, a_may_commit = threading.Event(), threading.Event()
    decided: dict[str, str] = {}
    errors: list[BaseException] = []

    def worker_a():
        try:
            with transaction.atomic():
                decision = send_decisions(
                    enrollments=[enrollment_a], step=step_a, now=NOW, policy=rules
                )[enrollment_a.pk]
                messages_prepare(items=[(enrollment_a, step_a)], now=NOW)
                decided["a"] = decision.action
                a_prepared.set()
                a_may_commit.wait(10)
        except BaseException as exc:
            errors.append(exc)
        finally:
            a_prepared.set()
            connection.close()

    def worker_b():
        try:
            with transaction.atomic():
                decided["b"] = send_decisions(
                    enrollments=[enrollment_b], step=step_b, now=NOW, policy=rules
                )[enrollment_b.pk].action
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    first = threading.Thread(target=worker_a)
    first.start()
    assert a_prepared.wait(10)
    second = threading.Thread(target=worker_b)
    second.start()
    second.join(1.0)  # with the lock, B is still waiting for A here
    a_may_commit.set()
    first.join(10)
    second.join(10)

    assert not errors
    assert decided == {"a": SEND, "b": DELAY}
