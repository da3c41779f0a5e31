import pytest

from contacts.models import Contact
from contacts.scoring import contacts_score_adjust
from scoring.models import ScoreLedgerEntry, ScoringRule
from tests.factories import ContactFactory
from tests.scoring.conftest import event, event_rule, ingest_and_score

pytestmark = pytest.mark.django_db

PRICING = [{"property": "url", "op": "contains", "value": "pricing"}]


def paths(response) -> list[str]:
    return [error["path"] for error in response.json()["errors"]]


def test_rules_are_created_listed_changed_and_deleted(api, no_default_rules):
    body = {
        "name": "Pricing",
        "event": "page.viewed",
        "where": PRICING,
        "points": 5,
        "daily_cap": 15,
    }

    created = api.post("/api/v1/scoring-rules", body, format="json")

    assert created.status_code == 201
    rule = created.json()
    assert {key: rule[key] for key in body} == body
    assert (rule["kind"], rule["active"], rule["condition"]) == ("event", True, None)
    listed = api.get("/api/v1/scoring-rules").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == rule["id"]

    patched = api.patch(f"/api/v1/scoring-rules/{rule['id']}", {"points": 7}, format="json")
    assert patched.status_code == 200
    assert (patched.json()["points"], patched.json()["where"]) == (7, PRICING)
    assert api.get(f"/api/v1/scoring-rules/{rule['id']}").json()["points"] == 7

    assert api.delete(f"/api/v1/scoring-rules/{rule['id']}").status_code == 204
    assert api.get(f"/api/v1/scoring-rules/{rule['id']}").status_code == 404


def test_a_condition_rule_is_created(api, no_default_rules):
    body = {
        "name": "French",
        "kind": "condition",
        "condition": {"type": "field", "field": "country", "op": "eq", "value": "FR"},
        "points": 3,
    }

    response = api.post("/api/v1/scoring-rules", body, format="json")

    assert response.status_code == 201
    assert response.json()["condition"] == body["condition"]


def test_every_error_of_a_bad_event_rule_is_reported_with_its_path(api, no_default_rules):
    body = {
        "name": "",
        "event": "page.viewed",
        "where": [
            {"property": "url", "op": "sounds_like", "value": "x"},
            {"property": "amount", "op": "gte", "value": "ten"},
        ],
        "points": 0,
        "daily_cap": -1,
        "colour": "red",
    }

    response = api.post("/api/v1/scoring-rules", body, format="json")

    assert response.status_code == 400
    assert sorted(paths(response)) == [
        "colour",
        "daily_cap",
        "name",
        "points",
        "where[0].op",
        "where[1].value",
    ]
    assert not ScoringRule.objects.exists()


def test_a_bad_condition_is_reported_at_its_path(api, no_default_rules):
    body = {
        "name": "Bad",
        "kind": "condition",
        "condition": {"all": [{"type": "field", "field": "nope", "op": "eq", "value": 1}]},
        "points": 2,
    }

    response = api.post("/api/v1/scoring-rules", body, format="json")

    assert response.status_code == 400
    assert paths(response) == ["condition.all[0].field"]


def test_rules_on_the_wrong_shape_are_refused(api, no_default_rules):
    assert paths(api.post("/api/v1/scoring-rules", {"name": "x", "points": 1}, format="json")) == [
        "event"
    ]
    reads_score = {
        "name": "Loop",
        "kind": "condition",
        "condition": {"type": "field", "field": "lead_score", "op": "lt", "value": 10},
        "points": 20,
    }
    assert paths(api.post("/api/v1/scoring-rules", reads_score, format="json")) == ["condition"]
    assert paths(api.post("/api/v1/scoring-rules", [1, 2], format="json")) == [""]
    assert (
        api.post(
            "/api/v1/scoring-rules", {"name": "x", "points": "5", "event": "a"}, format="json"
        ).status_code
        == 400
    )


def test_a_patch_is_validated_against_the_whole_rule(api, no_default_rules):
    rule = event_rule("email.opened", 1)

    response = api.patch(
        f"/api/v1/scoring-rules/{rule.pk}", {"where": [{"property": "x"}]}, format="json"
    )

    assert response.status_code == 400
    assert paths(response) == ["where[0].op"]
    assert ScoringRule.objects.get(pk=rule.pk).where == []


def test_the_score_endpoint_shows_the_score_and_the_ledger_newest_first(api, no_default_rules):
    rule = event_rule("form.submitted", 10)
    contact = ContactFactory()
    ingest_and_score([event("form.submitted", contact.email)])
    contacts_score_adjust(contact_ids=[contact.pk], delta=-4, reason="flow:1:s1")

    response = api.get(f"/api/v1/contacts/{contact.pk}/score")

    assert response.status_code == 200
    body = response.json()
    assert (body["contact"], body["lead_score"], body["count"]) == (contact.pk, 6, 2)
    newest, oldest = body["results"]
    assert (newest["delta"], newest["reason"], newest["rule"]) == (-4, "flow:1:s1", None)
    assert (oldest["delta"], oldest["rule"], oldest["rule_name"]) == (10, rule.pk, rule.name)
    assert oldest["event"] is not None
    assert api.get("/api/v1/contacts/999999/score").status_code == 404


def test_a_manual_adjustment_goes_through_the_ledger(api):
    contact = ContactFactory()

    response = api.post(
        f"/api/v1/contacts/{contact.pk}/score",
        {"delta": 12, "reason": "met at a fair"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["lead_score"], body["entry"]["delta"], body["entry"]["reason"]) == (
        12,
        12,
        "manual: met at a fair",
    )
    assert Contact.objects.get(pk=contact.pk).lead_score == 12
    assert ScoreLedgerEntry.objects.filter(contact=contact).count() == 1


@pytest.mark.parametrize(
    ("body", "bad"),
    [
        ({"delta": 0}, ["delta"]),
        ({"delta": "5"}, ["delta"]),
        ({"delta": True}, ["delta"]),
        ({"delta": 1.5, "reason": 3}, ["delta", "reason"]),
        ({"reason": "x"}, ["delta"]),
        ({"delta": 1, "extra": 1}, ["extra"]),
    ],
)
def test_bad_manual_adjustments_are_refused(api, body, bad):
    contact = ContactFactory()

    response = api.post(f"/api/v1/contacts/{contact.pk}/score", body, format="json")

    assert response.status_code == 400
    assert sorted(paths(response)) == bad
    assert not ScoreLedgerEntry.objects.exists()
