import json

import pytest

from scoring.models import ScoreLedgerEntry, ScoringRule
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def form(**values) -> dict:
    data = {
        "name": "Pricing",
        "kind": "event",
        "event": "page.viewed",
        "where": "[]",
        "condition": "null",
        "points": 5,
        "daily_cap": "",
        "active": "on",
    }
    data.update(values)
    return data


def test_the_admin_refuses_a_bad_filter_with_its_path(admin_client, no_default_rules):
    bad = json.dumps([{"property": "url", "op": "sounds_like", "value": "x"}])

    response = admin_client.post("/admin/scoring/scoringrule/add/", form(where=bad))

    assert response.status_code == 200
    assert "where[0].op" in response.content.decode()
    assert not ScoringRule.objects.exists()


def test_the_admin_creates_and_edits_rules(admin_client, no_default_rules):
    good = json.dumps([{"property": "url", "op": "contains", "value": "pricing"}])

    created = admin_client.post("/admin/scoring/scoringrule/add/", form(where=good))

    assert created.status_code == 302
    rule = ScoringRule.objects.get()
    assert (rule.event, rule.where, rule.points) == ("page.viewed", json.loads(good), 5)
    edited = admin_client.post(
        f"/admin/scoring/scoringrule/{rule.pk}/change/", form(where=good, points=8)
    )
    assert edited.status_code == 302
    assert ScoringRule.objects.get().points == 8


def test_the_admin_deletes_a_condition_rule_through_the_service(admin_client, no_default_rules):
    from scoring.conditions import condition_rules_evaluate
    from scoring.rules import rule_create
    from tests.scoring.conftest import NOW

    rule = rule_create(
        data={
            "name": "French",
            "kind": "condition",
            "condition": {"type": "field", "field": "country", "op": "eq", "value": "FR"},
            "points": 4,
        }
    )
    contact = ContactFactory(country="FR")
    condition_rules_evaluate(now=NOW)

    response = admin_client.post(f"/admin/scoring/scoringrule/{rule.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.lead_score == 0
    assert ScoreLedgerEntry.objects.filter(contact=contact).count() == 2


@pytest.mark.parametrize(
    "page",
    [
        "/admin/scoring/scoringrule/",
        "/admin/scoring/scoreledgerentry/",
        "/admin/scoring/scoredecay/",
        "/admin/scoring/pendingscoreevents/",
    ],
)
def test_admin_pages_open(admin_client, page):
    assert admin_client.get(page).status_code == 200
