import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db.models import Sum

from contacts.models import Contact
from contacts.scoring import contact_score_adjust, contacts_score_adjust
from scoring.conditions import condition_rules_evaluate
from scoring.decay import scores_decay
from scoring.ledger import contact_score_adjust_manual
from scoring.models import ScoreLedgerEntry
from scoring.recompute import scores_recompute
from scoring.rules import rule_create
from tests.factories import ContactFactory
from tests.scoring.conftest import NOW, event, event_rule, ingest_and_score

pytestmark = pytest.mark.django_db


def ledger_sum(contact) -> int:
    total = ScoreLedgerEntry.objects.filter(contact=contact).aggregate(total=Sum("delta"))
    return total["total"] or 0


def test_flow_adjustments_write_one_ledger_row_per_contact():
    ann, bob = ContactFactory.create_batch(2)

    assert (
        contacts_score_adjust(contact_ids=[ann.pk, bob.pk, 10**9], delta=7, reason="flow:3:s1") == 2
    )

    rows = ScoreLedgerEntry.objects.order_by("contact_id").values_list(
        "contact_id", "delta", "reason"
    )
    assert list(rows) == [(ann.pk, 7, "flow:3:s1"), (bob.pk, 7, "flow:3:s1")]


def test_the_ledger_sums_to_lead_score_after_rules_flows_manual_changes_and_decay(
    no_default_rules, decay_on, frozen
):
    event_rule("form.submitted", 10)
    event_rule("email.opened", 1, daily_cap=2)
    rule_create(
        data={
            "name": "French",
            "kind": "condition",
            "condition": {"type": "field", "field": "country", "op": "eq", "value": "FR"},
            "points": 4,
        }
    )
    ann = ContactFactory(country="FR", created_at=NOW - dt.timedelta(days=90))
    bob = ContactFactory(country="DE", created_at=NOW - dt.timedelta(days=90))

    ingest_and_score(
        [event("form.submitted", ann.email)] * 2
        + [event("email.opened", ann.email)] * 5
        + [event("email.opened", bob.email)],
        now=NOW,
    )
    contact_score_adjust(contact_id=bob.pk, delta=-3, reason="flow:1:s2")
    contacts_score_adjust(contact_ids=[ann.pk, bob.pk], delta=25, reason="flow:2:s1")
    contact_score_adjust_manual(contact_id=ann.pk, delta=-6, reason="sales call")
    condition_rules_evaluate(now=NOW)
    Contact.objects.filter(pk=bob.pk).update(country="FR")
    condition_rules_evaluate(now=NOW)
    Contact.objects.filter(pk=ann.pk).update(country="ES")
    condition_rules_evaluate(now=NOW)
    later = NOW + dt.timedelta(days=40)
    Contact.objects.filter(pk__in=[ann.pk, bob.pk]).update(last_activity_at=NOW)
    scores_decay(now=later)

    ann.refresh_from_db()
    bob.refresh_from_db()
    # ann: 20 + 2 + 25 - 6 + 4 - 4 = 41, decayed by ceil(4.1) = 5 -> 36
    # bob: 1 - 3 + 25 + 4 = 27, decayed by ceil(2.7) = 3 -> 24
    assert (ann.lead_score, bob.lead_score) == (36, 24)
    assert (ledger_sum(ann), ledger_sum(bob)) == (36, 24)
    assert scores_recompute(fix=False).contacts == 0


def test_recompute_reports_the_drift_and_fixes_it():
    ann, bob, cid = ContactFactory.create_batch(3)
    contacts_score_adjust(contact_ids=[ann.pk, bob.pk, cid.pk], delta=5, reason="test")
    Contact.objects.filter(pk=ann.pk).update(lead_score=12)  # behind the ledger's back
    Contact.objects.filter(pk=bob.pk).update(lead_score=1)

    report = io.StringIO()
    call_command("recompute_scores", stdout=report)

    assert "contacts drifted: 2" in report.getvalue()
    assert "total drift (points): 11" in report.getvalue()
    assert f"contact {ann.pk}: lead_score 12, ledger 5" in report.getvalue()
    assert Contact.objects.get(pk=ann.pk).lead_score == 12  # only reported

    fixed = io.StringIO()
    call_command("recompute_scores", "--fix", stdout=fixed)

    assert "fixed: 2" in fixed.getvalue()
    scores = dict(Contact.objects.values_list("pk", "lead_score"))
    assert (scores[ann.pk], scores[bob.pk], scores[cid.pk]) == (5, 5, 5)
    assert scores_recompute(fix=False).contacts == 0


def test_a_score_without_any_ledger_row_is_drift():
    contact = ContactFactory(lead_score=9)

    drift = scores_recompute(fix=True)

    assert (drift.contacts, drift.total, drift.fixed) == (1, 9, 1)
    assert Contact.objects.get(pk=contact.pk).lead_score == 0


def test_scores_set_before_the_ledger_get_an_opening_row(default_rules_migration):
    scored = ContactFactory(lead_score=9)
    unscored = ContactFactory()

    default_rules_migration()

    rows = ScoreLedgerEntry.objects.values_list("contact_id", "delta", "reason")
    assert list(rows) == [(scored.pk, 9, "opening balance")]
    assert scores_recompute(fix=False).contacts == 0
    assert unscored.lead_score == 0
