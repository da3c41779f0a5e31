import datetime as dt

import pytest

from contacts.models import Contact
from segments.compiler import compile_conditions
from segments.explain import explain_contact
from tests.factories import (
    ContactFactory,
    ContactSubscriptionFactory,
    ContactTagFactory,
    CustomFieldFactory,
    EventFactory,
    SegmentMembershipFactory,
    SubscriptionTopicFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def jane():
    CustomFieldFactory(key="plan", type="text")
    CustomFieldFactory(key="seats", type="number")
    CustomFieldFactory(key="trial_ends_at", type="datetime")
    contact = ContactFactory(
        country="FR",
        fields={"plan": "Pro", "seats": 2.5, "trial_ends_at": "2026-03-11T09:00:00Z"},
    )
    for days in (1, 2, 40):
        EventFactory(contact=contact, name="login", occurred_at=NOW - dt.timedelta(days=days))
    ContactTagFactory(contact=contact, tag=TagFactory(name="VIP"))
    ContactTagFactory(contact=contact, tag=TagFactory(name="beta"))
    return contact


def test_explain_mirrors_the_tree_with_results_and_actual_values(jane):
    tree = {
        "all": [
            {"type": "field", "field": "country", "op": "in", "value": ["fr", "de"]},
            {"type": "field", "field": "plan", "op": "eq", "value": "pro"},
            {
                "any": [
                    {
                        "type": "event",
                        "event": "login",
                        "op": "performed",
                        "count": {"op": "gte", "value": 5},
                        "within": {"days": 30},
                    },
                    {"not": {"type": "tag", "op": "has", "tag": "vip"}},
                ]
            },
        ]
    }

    explained = explain_contact(tree, contact_id=jane.pk, now=NOW)

    assert explained == {
        "all": [
            {**tree["all"][0], "result": True, "actual": {"value": "FR"}},
            {**tree["all"][1], "result": True, "actual": {"value": "Pro"}},
            {
                "any": [
                    {**tree["all"][2]["any"][0], "result": False, "actual": {"count": 2}},
                    {
                        "not": {
                            **tree["all"][2]["any"][1]["not"],
                            "result": True,
                            "actual": {"tags": ["VIP", "beta"]},
                        },
                        "result": False,
                    },
                ],
                "result": False,
            },
        ],
        "result": False,
    }


def test_explain_reports_typed_custom_values_and_missing_ones_as_null(jane):
    tree = {
        "all": [
            {"type": "field", "field": "seats", "op": "gt", "value": 2},
            {"type": "field", "field": "trial_ends_at", "op": "within_next", "value": {"days": 1}},
            {"type": "field", "field": "last_activity_at", "op": "is_not_set"},
        ]
    }

    explained = explain_contact(tree, contact_id=jane.pk, now=NOW)

    assert [(leaf["result"], leaf["actual"]) for leaf in explained["all"]] == [
        (True, {"value": 2.5}),
        (True, {"value": "2026-03-11T09:00:00Z"}),
        (True, {"value": None}),
    ]


def test_explain_reports_subscription_and_membership_facts():
    topic = SubscriptionTopicFactory(key="news", default_opt_in=True)
    contact = ContactFactory(email_status="bounced")
    ContactSubscriptionFactory(contact=contact, topic=topic, status="subscribed")
    membership = SegmentMembershipFactory(contact=contact, entered_at=NOW)
    tree = {
        "any": [
            {"type": "subscription", "op": "subscribed", "topic": "news"},
            {"type": "segment", "op": "not_in", "segment": membership.segment_id},
        ]
    }

    explained = explain_contact(tree, contact_id=contact.pk, now=NOW)

    assert explained["any"][0]["result"] is False
    assert explained["any"][0]["actual"] == {
        "email_status": "bounced",
        "status": "subscribed",
        "default_opt_in": True,
    }
    assert explained["any"][1]["result"] is False
    assert explained["any"][1]["actual"] == {"member": True, "entered_at": "2026-03-10T12:00:00Z"}
    assert explained["result"] is False


def test_explain_agrees_with_the_compiled_segment_for_every_contact(jane):
    others = [ContactFactory(country=None), ContactFactory(country="DE", fields={"plan": "free"})]
    EventFactory(
        contact=others[1], name="email.opened", occurred_at=NOW, properties={"template": 3}
    )
    tree = {
        "any": [
            {
                "all": [
                    {"type": "field", "field": "plan", "op": "neq", "value": "pro"},
                    {"not": {"type": "field", "field": "country", "op": "eq", "value": "fr"}},
                ]
            },
            {"type": "email", "op": "opened", "template": 3, "within": {"days": 1}},
            {
                "type": "event",
                "event": "login",
                "op": "performed",
                "count": {"op": "lte", "value": 2},
                "within": {"days": 30},
            },
        ]
    }
    members = set(
        Contact.objects.filter(compile_conditions(tree, now=NOW)).values_list("pk", flat=True)
    )

    for contact in [jane, *others]:
        assert explain_contact(tree, contact_id=contact.pk, now=NOW)["result"] == (
            contact.pk in members
        )


def test_explain_is_one_query(django_assert_num_queries, jane):
    fields = {"plan": CustomFieldFactory(key="plan")}
    tree = {
        "all": [
            {"type": "field", "field": "plan", "op": "eq", "value": "pro"},
            {"type": "event", "event": "login", "op": "performed", "within": {"days": 30}},
            {"type": "email", "op": "not_opened"},
            {"type": "tag", "op": "has", "tag": "vip"},
        ]
    }

    with django_assert_num_queries(1):
        explain_contact(tree, contact_id=jane.pk, now=NOW, fields=fields)


def test_explaining_an_unknown_contact_raises_does_not_exist():
    with pytest.raises(Contact.DoesNotExist):
        explain_contact({"all": []}, contact_id=999_999, now=NOW)


def test_an_empty_tree_explains_as_everyone():
    contact = ContactFactory()

    assert explain_contact({"all": []}, contact_id=contact.pk, now=NOW) == {
        "all": [],
        "result": True,
    }
