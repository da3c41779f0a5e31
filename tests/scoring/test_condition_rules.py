import pytest

from contacts.models import Contact
from scoring.conditions import condition_rule_evaluate_by_id, condition_rules_evaluate
from scoring.models import ConditionRuleHit, ScoreLedgerEntry
from scoring.rules import rule_delete, rule_update
from tests.factories import ContactFactory, CustomFieldFactory
from tests.scoring.conftest import NOW

pytestmark = pytest.mark.django_db

ENTERPRISE = {"type": "field", "field": "plan", "op": "eq", "value": "enterprise"}


@pytest.fixture
def enterprise_rule(no_default_rules):
    from scoring.rules import rule_create

    CustomFieldFactory(key="plan", type="text")
    return rule_create(
        data={"name": "Enterprise", "kind": "condition", "condition": ENTERPRISE, "points": 20}
    )


def scores() -> dict[int, int]:
    return dict(Contact.objects.values_list("pk", "lead_score"))


def test_points_are_given_once_while_the_contact_matches(enterprise_rule):
    big = ContactFactory(fields={"plan": "Enterprise"})
    small = ContactFactory(fields={"plan": "free"})

    assert condition_rules_evaluate(now=NOW) == 1
    assert condition_rules_evaluate(now=NOW) == 0  # still matching: nothing more

    assert scores() == {big.pk: 20, small.pk: 0}
    assert ScoreLedgerEntry.objects.filter(contact=big).count() == 1


def test_points_are_reversed_when_the_contact_stops_matching(enterprise_rule):
    big = ContactFactory(fields={"plan": "enterprise"})
    condition_rules_evaluate(now=NOW)

    Contact.objects.filter(pk=big.pk).update(fields={"plan": "free"})
    condition_rules_evaluate(now=NOW)

    assert scores()[big.pk] == 0
    reasons = list(
        ScoreLedgerEntry.objects.filter(contact=big).order_by("pk").values_list("reason", "delta")
    )
    assert reasons == [("condition matched", 20), ("condition no longer matched", -20)]
    assert not ConditionRuleHit.objects.exists()


def test_a_points_change_gives_back_the_old_points_and_applies_the_new(enterprise_rule):
    big = ContactFactory(fields={"plan": "enterprise"})
    condition_rules_evaluate(now=NOW)

    rule_update(rule=enterprise_rule, data={"points": 5}, now=NOW)
    condition_rule_evaluate_by_id(rule_id=enterprise_rule.pk, now=NOW)  # its task, after commit

    assert scores()[big.pk] == 5


def test_deactivating_or_deleting_a_rule_gives_its_points_back(enterprise_rule):
    big = ContactFactory(fields={"plan": "enterprise"})
    condition_rules_evaluate(now=NOW)

    rule_update(rule=enterprise_rule, data={"active": False}, now=NOW)
    assert scores()[big.pk] == 0
    condition_rules_evaluate(now=NOW)
    assert scores()[big.pk] == 0

    rule_update(rule=enterprise_rule, data={"active": True}, now=NOW)
    condition_rules_evaluate(now=NOW)
    assert scores()[big.pk] == 20
    rule_delete(rule=enterprise_rule, now=NOW)
    assert scores()[big.pk] == 0
    assert (
        list(ScoreLedgerEntry.objects.filter(contact=big).values_list("rule", flat=True))
        == [None] * 4
    )


def test_conditions_may_read_events_and_tags(no_default_rules):
    from scoring.rules import rule_create
    from tests.factories import ContactTagFactory, EventFactory

    rule_create(
        data={
            "name": "Engaged VIP",
            "kind": "condition",
            "condition": {
                "all": [
                    {"type": "tag", "op": "has", "tag": "vip"},
                    {
                        "type": "event",
                        "event": "login",
                        "op": "performed",
                        "count": {"op": "gte", "value": 2},
                    },
                ]
            },
            "points": 15,
        }
    )
    vip, other = ContactFactory.create_batch(2)
    ContactTagFactory(contact=vip, tag__name="vip")
    EventFactory.create_batch(2, contact=vip, name="login")
    EventFactory.create_batch(2, contact=other, name="login")

    condition_rules_evaluate(now=NOW)

    assert scores() == {vip.pk: 15, other.pk: 0}


def test_a_contact_write_applies_condition_rules_to_that_contact_after_commit(
    enterprise_rule, django_capture_on_commit_callbacks
):
    from contacts.services import contact_update

    big, other = ContactFactory.create_batch(2, fields={"plan": "enterprise"})

    with django_capture_on_commit_callbacks(execute=True):
        contact_update(contact=big, values={}, fields={"plan": "enterprise"})

    assert scores() == {big.pk: 20, other.pk: 0}  # only the written contact, until the sweep
    with django_capture_on_commit_callbacks(execute=True):
        contact_update(contact=big, values={}, fields={"plan": "free"})
    assert scores()[big.pk] == 0


def test_writes_that_cannot_move_a_condition_rule_do_not_evaluate_it(
    enterprise_rule, django_capture_on_commit_callbacks
):
    from contacts.services import contact_update

    contact = ContactFactory(fields={"plan": "enterprise"})  # matches, not evaluated yet

    with django_capture_on_commit_callbacks(execute=True):
        contact_update(contact=contact, values={"first_name": "Ann"})

    assert scores()[contact.pk] == 0  # the periodic sweep will give the points
    condition_rules_evaluate(now=NOW)
    assert scores()[contact.pk] == 20
