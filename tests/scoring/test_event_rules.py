import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.ingest import events_ingest
from contacts.models import Contact
from scoring.event_scoring import events_score, pending_score_events_process
from scoring.models import PendingScoreEvents, ScoreLedgerEntry, ScoringRule
from tests.factories import ContactFactory
from tests.scoring.conftest import NOW, event, event_rule, ingest_and_score

pytestmark = pytest.mark.django_db


def score(contact) -> int:
    return Contact.objects.get(pk=contact.pk).lead_score


def test_the_default_rules_are_shipped(default_rules):
    rules = {rule.event: rule for rule in ScoringRule.objects.filter(active=True)}
    assert {name: rules[name].points for name in rules} == {
        "email.opened": 1,
        "email.clicked": 3,
        "page.viewed": 5,
        "form.submitted": 10,
    }
    assert all(rule.daily_cap for rule in rules.values())


def test_default_rules_score_opens_clicks_pricing_views_and_forms(default_rules):
    contact = ContactFactory()
    ingest_and_score(
        [
            event("email.opened", contact.email),
            event("email.clicked", contact.email),
            event("page.viewed", contact.email, properties={"url": "https://x.io/Pricing"}),
            event("page.viewed", contact.email, properties={"path": "/pricing/teams"}),
            event("page.viewed", contact.email, properties={"url": "https://x.io/docs"}),
            event("form.submitted", contact.email),
            event("login", contact.email),
        ]
    )

    assert score(contact) == 1 + 3 + 5 + 5 + 10
    assert ScoreLedgerEntry.objects.filter(contact=contact).count() == 5


def test_where_filters_use_the_condition_language(no_default_rules):
    big = event_rule("purchase", 20, where=[{"property": "amount", "op": "gte", "value": 100}])
    ann, bob = ContactFactory.create_batch(2)

    ingest_and_score(
        [
            event("purchase", ann.email, properties={"amount": 150}),
            event("purchase", bob.email, properties={"amount": 99}),
            event("purchase", bob.email, properties={}),
        ]
    )

    assert (score(ann), score(bob)) == (20, 0)
    entry = ScoreLedgerEntry.objects.get(contact=ann)
    assert (entry.rule_id, entry.delta, entry.reason) == (big.pk, 20, "rule: purchase 20")
    assert entry.event_id is not None


def test_negative_points_lower_the_score(no_default_rules):
    event_rule("email.unsubscribed", -15)
    contact = ContactFactory()

    ingest_and_score([event("email.unsubscribed", contact.email)])

    assert score(contact) == -15


def test_a_replayed_event_scores_once(no_default_rules):
    event_rule("form.submitted", 10)
    contact = ContactFactory()
    submitted = event("form.submitted", contact.email, idempotency_key="form-1")

    ingest_and_score([submitted])
    ingest_and_score([submitted])
    ingest_and_score([submitted, submitted])

    assert score(contact) == 10
    assert ScoreLedgerEntry.objects.filter(contact=contact).count() == 1


def test_scoring_the_same_events_twice_writes_nothing_the_second_time(no_default_rules):
    event_rule("form.submitted", 10)
    contact = ContactFactory()
    ingest_and_score([event("form.submitted", contact.email)])
    event_ids = list(ScoreLedgerEntry.objects.values_list("event_id", flat=True))

    assert events_score(event_ids=event_ids, now=NOW) == []
    assert score(contact) == 10


def test_the_daily_cap_holds_within_a_batch_and_across_batches(no_default_rules, frozen):
    event_rule("email.opened", 2, daily_cap=5)
    ann, bob = ContactFactory.create_batch(2)

    ingest_and_score([event("email.opened", ann.email) for _ in range(4)])
    assert score(ann) == 4  # 2 + 2; a third open would pass the cap
    ingest_and_score([event("email.opened", ann.email), event("email.opened", bob.email)])

    assert (score(ann), score(bob)) == (4, 2)


def test_the_cap_starts_again_the_next_utc_day(no_default_rules, frozen):
    event_rule("email.opened", 2, daily_cap=5)
    contact = ContactFactory()
    ingest_and_score([event("email.opened", contact.email) for _ in range(3)])

    tomorrow = NOW + dt.timedelta(days=1)
    frozen.move_to(tomorrow)
    ingest_and_score([event("email.opened", contact.email) for _ in range(3)], now=tomorrow)

    assert score(contact) == 8


def test_each_rule_has_its_own_cap(no_default_rules, frozen):
    event_rule("page.viewed", 1, daily_cap=1)
    event_rule(
        "page.viewed",
        3,
        daily_cap=3,
        where=[{"property": "url", "op": "contains", "value": "pricing"}],
    )
    contact = ContactFactory()

    ingest_and_score([event("page.viewed", contact.email, properties={"url": "/pricing"})] * 3)

    assert score(contact) == 1 + 3


def test_an_inactive_rule_scores_nothing_and_queues_nothing(no_default_rules):
    event_rule("email.opened", 1, active=False)
    contact = ContactFactory()

    ingest_and_score([event("email.opened", contact.email)])

    assert score(contact) == 0
    assert not PendingScoreEvents.objects.exists()


def _ingest_queries(events) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        events_ingest(events=events, now=NOW)
    return [query["sql"] for query in captured.captured_queries]


def _mixed_batch(contacts) -> list:
    return [
        event(
            "email.opened" if i % 2 else "page.viewed",
            contacts[i % 100].email,
            properties={"url": "/pricing" if i % 4 == 0 else "/docs"},
        )
        for i in range(1000)
    ]


def _active_later(count: int) -> list:
    """Contacts whose last_activity_at no event of these tests moves: each ingest then runs
    the same statements, whatever ran before it."""
    return ContactFactory.create_batch(count, last_activity_at=NOW + dt.timedelta(days=1))


def test_unwatched_names_cost_no_query_on_ingest(no_default_rules):
    contacts = _active_later(3)
    events_ingest(events=[event("login", contacts[0].email)], now=NOW)  # warms the caches
    without_rules = _ingest_queries([event("login", c.email) for c in contacts * 10])
    event_rule("email.opened", 1)
    events_ingest(events=[event("login", contacts[0].email)], now=NOW)  # reloads the names

    with_rules = _ingest_queries([event("login", c.email) for c in contacts * 10])

    assert len(with_rules) == len(without_rules)
    assert not any("scoring" in sql for sql in with_rules)
    assert not PendingScoreEvents.objects.exists()


def test_a_batch_of_1000_watched_events_adds_one_insert_to_ingest(no_default_rules):
    contacts = _active_later(100)
    events_ingest(events=[event("login", contacts[0].email)], now=NOW)  # warms the caches
    without_rules = _ingest_queries(_mixed_batch(contacts))
    event_rule("email.opened", 1, daily_cap=3)
    event_rule("page.viewed", 5, where=[{"property": "url", "op": "contains", "value": "pricing"}])
    events_ingest(events=[event("login", contacts[0].email)], now=NOW)  # reloads the names

    with_rules = _ingest_queries(_mixed_batch(contacts))

    assert len(with_rules) == len(without_rules) + 1
    assert len([sql for sql in with_rules if "scoring_pendingscoreevents" in sql]) == 1
    (row,) = PendingScoreEvents.objects.all()
    assert len(row.event_ids) == 1000


@pytest.mark.postgresql  # the set-based statement; SQLite takes the portable path
def test_the_worker_scores_1000_events_in_a_fixed_number_of_queries(
    no_default_rules, django_assert_num_queries
):
    event_rule("email.opened", 1, daily_cap=3)
    event_rule("page.viewed", 5, where=[{"property": "url", "op": "contains", "value": "pricing"}])
    contacts = ContactFactory.create_batch(100)
    events_ingest(events=_mixed_batch(contacts), now=NOW)

    # savepoint, claim, rules, lock the contacts, the scoring statement, segments' pending
    # row, delete the claimed row, release: the same for 1 or 1,000 events
    with django_assert_num_queries(8):
        processed = pending_score_events_process(now=NOW)

    assert processed == 1000
    # contact i % 100: odd ones get 10 opens (1 point, capped at 3 a day), those with
    # i % 4 == 0 get 10 pricing views (5 points, no cap), the others only /docs views
    expected = {
        contact.pk: (3 if index % 2 else 0) + (50 if index % 4 == 0 else 0)
        for index, contact in enumerate(contacts)
    }
    assert dict(Contact.objects.filter(pk__in=expected).values_list("pk", "lead_score")) == expected


def test_the_portable_path_of_sqlite_scores_like_the_postgresql_statement(no_default_rules, frozen):
    from django.db import transaction

    from contacts.models import Event
    from scoring.event_scoring import _day_start, rule_reason
    from scoring.event_scoring_portable import events_score_portable

    opened = event_rule("email.opened", 2, daily_cap=5)
    event_rule("page.viewed", 3, where=[{"property": "url", "op": "contains", "value": "PRICING"}])
    event_rule("email.unsubscribed", -7)
    ann, bob, cid = ContactFactory.create_batch(3)
    # bob already had 2 points from the opens rule today
    ScoreLedgerEntry.objects.create(
        contact=bob, rule=opened, delta=2, reason=rule_reason(opened), event_id=None
    )
    events_ingest(
        events=[event("email.opened", ann.email)] * 4
        + [event("email.opened", bob.email)] * 3
        + [
            event("page.viewed", c.email, properties={"url": f"/{p}"})
            for c in (ann, cid)
            for p in ("pricing", "docs")
        ]
        + [event("email.unsubscribed", cid.email), event("login", bob.email)],
        now=NOW,
    )
    event_ids = list(Event.objects.values_list("pk", flat=True))

    def outcome(score) -> tuple:
        with transaction.atomic():
            savepoint = transaction.savepoint()
            moved = score()
            ledger = list(
                ScoreLedgerEntry.objects.order_by("contact_id", "rule_id", "event_id").values_list(
                    "contact_id", "rule_id", "event_id", "delta", "reason"
                )
            )
            scores = dict(Contact.objects.values_list("pk", "lead_score"))
            transaction.savepoint_rollback(savepoint)
        return sorted(moved), ledger, scores

    statement = outcome(lambda: events_score(event_ids=event_ids, now=NOW))
    rules = list(ScoringRule.objects.order_by("pk"))
    portable = outcome(
        lambda: events_score_portable(
            rules=rules, event_ids=event_ids, day_start=_day_start(NOW), now=NOW
        )
    )

    assert portable == statement
    moved, ledger, scores = statement
    assert moved == sorted([ann.pk, bob.pk, cid.pk])
    assert len(ledger) == 1 + 2 + 1 + 2 + 1  # bob's earlier row, ann's 2 capped opens, ...
    assert (scores[ann.pk], scores[cid.pk]) == (4 + 3, 3 - 7)
