import datetime as dt

import pytest

from contacts.models import Contact
from segments.compiler import compile_conditions
from tests.factories import (
    ContactFactory,
    ContactSubscriptionFactory,
    ContactTagFactory,
    CustomFieldFactory,
    EventFactory,
    SegmentFactory,
    SegmentMembershipFactory,
    SubscriptionTopicFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


def matching(tree, *, now=NOW) -> set[int]:
    return set(
        Contact.objects.filter(compile_conditions(tree, now=now)).values_list("pk", flat=True)
    )


def field(key, op, value=None):
    node = {"type": "field", "field": key, "op": op}
    if value is not None:
        node["value"] = value
    return node


def assert_complement(tree):
    everyone = set(Contact.objects.values_list("pk", flat=True))
    assert matching({"not": tree}) == everyone - matching(tree)


@pytest.fixture
def texts():
    CustomFieldFactory(key="company", type="text")
    return {
        "acme": ContactFactory(first_name="Ann", fields={"company": "ACME Corp"}).pk,
        "globex": ContactFactory(first_name="bob", fields={"company": "Globex"}).pk,
        "missing": ContactFactory(first_name=None, fields={}).pk,
        "percent": ContactFactory(first_name="Cy", fields={"company": "50% off_sale"}).pk,
    }


@pytest.mark.parametrize(
    "op, value, expected",
    [
        ("eq", "acme corp", {"acme"}),
        ("neq", "ACME CORP", {"globex", "missing", "percent"}),
        ("contains", "CORP", {"acme"}),
        ("not_contains", "corp", {"globex", "missing", "percent"}),
        ("starts_with", "glo", {"globex"}),
        ("ends_with", "BEX", {"globex"}),
        ("in", ["globex", "Acme corp"], {"acme", "globex"}),
        ("not_in", ["GLOBEX"], {"acme", "missing", "percent"}),
        ("is_set", None, {"acme", "globex", "percent"}),
        ("is_not_set", None, {"missing"}),
    ],
)
def test_text_operators_on_custom_fields_are_case_insensitive_and_negations_match_missing(
    texts, op, value, expected
):
    tree = field("company", op, value)

    assert matching(tree) == {texts[name] for name in expected}
    assert_complement(tree)


def test_like_wildcards_in_text_values_are_matched_literally(texts):
    assert matching(field("company", "contains", "0% off_")) == {texts["percent"]}
    assert matching(field("company", "contains", "_")) == {texts["percent"]}
    assert matching(field("company", "starts_with", "%")) == set()


@pytest.mark.parametrize(
    "op, value, expected",
    [
        ("eq", "BOB", {"globex"}),
        ("neq", "bob", {"acme", "missing", "percent"}),
        ("in", ["ann", "CY"], {"acme", "percent"}),
        ("is_not_set", None, {"missing"}),
    ],
)
def test_text_operators_on_built_in_columns_treat_null_as_missing(texts, op, value, expected):
    tree = field("first_name", op, value)

    assert matching(tree) == {texts[name] for name in expected}
    assert_complement(tree)


@pytest.fixture
def numbers():
    CustomFieldFactory(key="seats", type="number")
    return {
        "one": ContactFactory(lead_score=-5, fields={"seats": 1}).pk,
        "half": ContactFactory(lead_score=10, fields={"seats": 2.5}).pk,
        "ten": ContactFactory(lead_score=50, fields={"seats": 10}).pk,
        "missing": ContactFactory(lead_score=0, fields={}).pk,
    }


@pytest.mark.parametrize(
    "op, value, expected",
    [
        ("eq", 2.5, {"half"}),
        ("neq", 10, {"one", "half", "missing"}),
        ("gt", 2.5, {"ten"}),
        ("gte", 2.5, {"half", "ten"}),
        ("lt", 2.5, {"one"}),
        ("lte", 1, {"one"}),
        ("between", [1, 2.5], {"one", "half"}),
        ("between", [2.6, 9.99], set()),
        ("is_set", None, {"one", "half", "ten"}),
        ("is_not_set", None, {"missing"}),
    ],
)
def test_number_operators_on_custom_fields(numbers, op, value, expected):
    tree = field("seats", op, value)

    assert matching(tree) == {numbers[name] for name in expected}
    assert_complement(tree)


def test_fractional_bounds_on_an_integer_column_are_not_truncated(numbers):
    assert matching(field("lead_score", "gt", 9.5)) == {numbers["half"], numbers["ten"]}
    assert matching(field("lead_score", "between", [-5, 0.5])) == {
        numbers["one"],
        numbers["missing"],
    }


@pytest.fixture
def booleans():
    CustomFieldFactory(key="vip", type="boolean")
    return {
        "yes": ContactFactory(fields={"vip": True}).pk,
        "no": ContactFactory(fields={"vip": False}).pk,
        "missing": ContactFactory(fields={}).pk,
    }


@pytest.mark.parametrize(
    "op, expected",
    [
        ("is_true", {"yes"}),
        ("is_false", {"no"}),
        ("is_set", {"yes", "no"}),
        ("is_not_set", {"missing"}),
    ],
)
def test_boolean_operators_and_is_false_is_false_on_missing(booleans, op, expected):
    tree = field("vip", op)

    assert matching(tree) == {booleans[name] for name in expected}
    assert_complement(tree)


@pytest.fixture
def dates():
    CustomFieldFactory(key="renews_on", type="date")
    CustomFieldFactory(key="trial_ends_at", type="datetime")
    return {
        "yesterday": ContactFactory(
            fields={"renews_on": "2026-03-09", "trial_ends_at": "2026-03-09T23:59:59.999999Z"}
        ).pk,
        "today": ContactFactory(
            fields={"renews_on": "2026-03-10", "trial_ends_at": "2026-03-10T12:00:00Z"}
        ).pk,
        "tomorrow": ContactFactory(
            fields={"renews_on": "2026-03-11", "trial_ends_at": "2026-03-11T00:00:00Z"}
        ).pk,
        "missing": ContactFactory(fields={}).pk,
    }


@pytest.mark.parametrize(
    "key, op, value, expected",
    [
        ("renews_on", "before", "2026-03-10", {"yesterday"}),
        ("renews_on", "after", "2026-03-10", {"tomorrow"}),
        ("renews_on", "between", ["2026-03-10", "2026-03-11"], {"today", "tomorrow"}),
        ("renews_on", "within_last", {"days": 1}, {"yesterday", "today"}),
        # 13 hours before 12:00 UTC on the 10th is still the 9th (a UTC day).
        ("renews_on", "within_last", {"hours": 13}, {"yesterday", "today"}),
        ("renews_on", "within_last", {"hours": 12}, {"today"}),
        ("renews_on", "within_next", {"days": 1}, {"today", "tomorrow"}),
        ("renews_on", "older_than", {"days": 0}, {"yesterday"}),
        ("renews_on", "later_than", {"minutes": 1}, {"tomorrow"}),
        ("trial_ends_at", "before", "2026-03-10", {"yesterday"}),
        ("trial_ends_at", "after", "2026-03-10", {"tomorrow"}),
        ("trial_ends_at", "after", "2026-03-10T12:00:00Z", {"tomorrow"}),
        ("trial_ends_at", "before", "2026-03-10T13:00:00+01:00", {"yesterday"}),
        ("trial_ends_at", "between", ["2026-03-10", "2026-03-10"], {"today"}),
        (
            "trial_ends_at",
            "between",
            ["2026-03-09T23:59:59.999999Z", "2026-03-10T12:00:00Z"],
            {"yesterday", "today"},
        ),
        ("trial_ends_at", "within_last", {"hours": 12}, {"today"}),
        ("trial_ends_at", "within_last", {"minutes": 721}, {"yesterday", "today"}),
        ("trial_ends_at", "within_next", {"hours": 12}, {"today", "tomorrow"}),
        ("trial_ends_at", "within_next", {"minutes": 719}, {"today"}),
        ("trial_ends_at", "older_than", {"hours": 12}, {"yesterday"}),
        ("trial_ends_at", "older_than", {"minutes": 721}, set()),
        ("trial_ends_at", "older_than", {"minutes": 719}, {"yesterday"}),
        ("trial_ends_at", "later_than", {"hours": 11}, {"tomorrow"}),
        ("trial_ends_at", "later_than", {"hours": 12}, set()),
    ],
)
def test_date_and_datetime_operators_at_window_borders(dates, key, op, value, expected):
    tree = field(key, op, value)

    assert matching(tree) == {dates[name] for name in expected}
    assert_complement(tree)


def test_relative_windows_follow_the_injected_now(dates):
    tree = field("trial_ends_at", "within_next", {"days": 1})

    assert matching(tree, now=NOW + dt.timedelta(hours=12)) == {dates["tomorrow"]}
    assert matching(tree, now=NOW - dt.timedelta(hours=12, microseconds=1)) == {
        dates["yesterday"],
        dates["today"],
    }


def test_built_in_datetime_columns_compare_with_their_missing_values():
    active = ContactFactory(last_activity_at=NOW - dt.timedelta(days=2)).pk
    never = ContactFactory(last_activity_at=None).pk

    assert matching(field("last_activity_at", "older_than", {"days": 1})) == {active}
    assert matching(field("last_activity_at", "is_not_set")) == {never}
    assert_complement(field("last_activity_at", "within_last", {"days": 7}))


def test_a_missing_value_fails_every_positive_operator_and_its_not_matches(dates):
    missing = dates["missing"]

    for op, value in [("before", "2030-01-01"), ("within_last", {"days": 9999})]:
        assert missing not in matching(field("renews_on", op, value))
        assert missing in matching({"not": field("renews_on", op, value)})


def test_choice_built_in_email_status():
    bounced = ContactFactory(email_status="bounced").pk
    ContactFactory(email_status="active")

    assert matching(field("email_status", "eq", "BOUNCED")) == {bounced}


def events_tree(**kwargs):
    return {"type": "event", "event": "friend.added", "op": "performed", **kwargs}


@pytest.fixture
def friends():
    """Contacts with 0, 2 and 5 friend.added events; two of them within 30 days at the border."""
    none = ContactFactory()
    two = ContactFactory()
    five = ContactFactory()
    EventFactory(contact=two, name="friend.added", occurred_at=NOW - dt.timedelta(days=30))
    EventFactory(
        contact=two, name="friend.added", occurred_at=NOW - dt.timedelta(days=30, seconds=1)
    )
    for day in range(5):
        EventFactory(contact=five, name="friend.added", occurred_at=NOW - dt.timedelta(days=day))
    EventFactory(contact=none, name="login", occurred_at=NOW)
    return {"none": none.pk, "two": two.pk, "five": five.pk}


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({}, {"two", "five"}),
        ({"op": "not_performed"}, {"none"}),
        ({"count": {"op": "gte", "value": 5}}, {"five"}),
        ({"count": {"op": "gte", "value": 5}, "within": {"days": 30}}, {"five"}),
        ({"count": {"op": "lte", "value": 2}}, {"none", "two"}),
        ({"count": {"op": "eq", "value": 0}}, {"none"}),
        ({"count": {"op": "eq", "value": 2}}, {"two"}),
        ({"count": {"op": "gte", "value": 0}}, {"none", "two", "five"}),
        ({"within": {"days": 30}, "count": {"op": "eq", "value": 1}}, {"two"}),
        ({"within": {"days": 29}}, {"five"}),
        ({"op": "not_performed", "within": {"days": 29}}, {"none", "two"}),
    ],
)
def test_event_counts_and_windows(friends, changes, expected):
    tree = events_tree(**changes)

    assert matching(tree) == {friends[name] for name in expected}
    assert_complement(tree)


@pytest.fixture
def page_views():
    pricing = ContactFactory()
    blog = ContactFactory()
    numeric = ContactFactory()
    EventFactory(
        contact=pricing,
        name="page.viewed",
        occurred_at=NOW,
        properties={"url": "https://x.io/PRICING?a=1", "ms": 900},
    )
    EventFactory(
        contact=blog,
        name="page.viewed",
        occurred_at=NOW,
        properties={"url": "https://x.io/blog", "ms": 100, "first": True},
    )
    EventFactory(contact=numeric, name="page.viewed", occurred_at=NOW, properties={"url": 42})
    return {"pricing": pricing.pk, "blog": blog.pk, "numeric": numeric.pk}


@pytest.mark.parametrize(
    "where, expected",
    [
        ([{"property": "url", "op": "contains", "value": "/pricing"}], {"pricing"}),
        ([{"property": "url", "op": "not_contains", "value": "/pricing"}], {"blog", "numeric"}),
        ([{"property": "url", "op": "eq", "value": 42}], {"numeric"}),
        ([{"property": "ms", "op": "gte", "value": 500}], {"pricing"}),
        ([{"property": "ms", "op": "between", "value": [100, 900]}], {"pricing", "blog"}),
        ([{"property": "ms", "op": "neq", "value": 100}], {"pricing", "numeric"}),
        ([{"property": "first", "op": "eq", "value": True}], {"blog"}),
        ([{"property": "first", "op": "is_not_set"}], {"pricing", "numeric"}),
        ([{"property": "url", "op": "in", "value": ["HTTPS://X.IO/BLOG"]}], {"blog"}),
        (
            [
                {"property": "url", "op": "starts_with", "value": "https://"},
                {"property": "ms", "op": "lt", "value": 500},
            ],
            {"blog"},
        ),
    ],
)
def test_event_property_filters_by_json_type(page_views, where, expected):
    tree = {"type": "event", "event": "page.viewed", "op": "performed", "where": where}

    assert matching(tree) == {page_views[name] for name in expected}


def test_email_conditions_filter_by_template_and_flow_and_window():
    opened = ContactFactory()
    opened_long_ago = ContactFactory()
    other_template = ContactFactory()
    EventFactory(
        contact=opened,
        name="email.opened",
        occurred_at=NOW - dt.timedelta(days=3),
        properties={"template": 7, "flow": "2"},
    )
    EventFactory(
        contact=opened_long_ago,
        name="email.opened",
        occurred_at=NOW - dt.timedelta(days=61),
        properties={"template": 7},
    )
    EventFactory(
        contact=other_template, name="email.opened", occurred_at=NOW, properties={"template": 8}
    )

    assert matching({"type": "email", "op": "opened", "template": 7}) == {
        opened.pk,
        opened_long_ago.pk,
    }
    assert matching({"type": "email", "op": "opened", "template": "7", "flow": 2}) == {opened.pk}
    assert matching({"type": "email", "op": "not_opened", "within": {"days": 60}}) == {
        opened_long_ago.pk
    }
    assert_complement({"type": "email", "op": "opened", "within": {"days": 60}})


def test_email_conditions_match_the_ids_segflow_records_on_its_own_email_events():
    # given: email.sent as the send path records it (template_id / flow_id, numbers)
    received = ContactFactory()
    other_flow = ContactFactory()
    props = {"message_id": 1, "template_id": 7, "flow_id": 3, "step_id": "s1"}
    EventFactory(contact=received, name="email.sent", occurred_at=NOW, properties=props)
    EventFactory(
        contact=other_flow,
        name="email.sent",
        occurred_at=NOW,
        properties={**props, "flow_id": 4},
    )

    # then
    assert matching({"type": "email", "op": "received", "template": 7}) == {
        received.pk,
        other_flow.pk,
    }
    assert matching({"type": "email", "op": "received", "template": 7, "flow": 3}) == {received.pk}
    assert matching({"type": "email", "op": "received", "template": 8}) == set()


@pytest.mark.parametrize(
    "op, event",
    [
        ("received", "email.sent"),
        ("clicked", "email.clicked"),
        ("bounced", "email.bounced"),
        ("unsubscribed", "email.unsubscribed"),
    ],
)
def test_email_ops_read_their_email_events(op, event):
    contact = ContactFactory()
    ContactFactory()
    EventFactory(contact=contact, name=event, occurred_at=NOW)

    assert matching({"type": "email", "op": op}) == {contact.pk}


def test_segment_conditions_read_current_memberships_only():
    segment = SegmentFactory()
    member = SegmentMembershipFactory(segment=segment).contact
    SegmentMembershipFactory(segment=segment, left_at=NOW)
    SegmentMembershipFactory()

    assert matching({"type": "segment", "op": "in", "segment": segment.pk}) == {member.pk}
    assert_complement({"type": "segment", "op": "in", "segment": segment.pk})


def test_tag_conditions_are_case_insensitive():
    tagged = ContactTagFactory(tag=TagFactory(name="VIP")).contact
    ContactTagFactory(tag=TagFactory(name="VIP-ish"))

    assert matching({"type": "tag", "op": "has", "tag": "vip"}) == {tagged.pk}
    assert_complement({"type": "tag", "op": "has", "tag": " Vip "})


def test_subscription_uses_the_contact_choice_else_the_topic_default_and_needs_active_email():
    news = SubscriptionTopicFactory(key="news", default_opt_in=True)
    promos = SubscriptionTopicFactory(key="promos", default_opt_in=False)
    default = ContactFactory()
    opted_out = ContactSubscriptionFactory(topic=news, status="unsubscribed").contact
    opted_in = ContactSubscriptionFactory(topic=promos, status="subscribed").contact
    bounced = ContactFactory(email_status="bounced")

    assert matching({"type": "subscription", "op": "subscribed", "topic": "news"}) == {
        default.pk,
        opted_in.pk,
    }
    assert matching({"type": "subscription", "op": "subscribed", "topic": "promos"}) == {
        opted_in.pk
    }
    assert matching({"type": "subscription", "op": "unsubscribed", "topic": "news"}) == {
        opted_out.pk,
        bounced.pk,
    }


def test_groups_combine_and_empty_groups_are_everyone_and_no_one(texts):
    assert matching({"all": []}) == set(texts.values())
    assert matching({"any": []}) == set()
    tree = {
        "any": [
            field("company", "eq", "globex"),
            {"all": [field("first_name", "eq", "ann"), {"not": field("company", "is_not_set")}]},
        ]
    }
    assert matching(tree) == {texts["globex"], texts["acme"]}


def test_a_segment_evaluates_in_one_query(django_assert_num_queries, friends):
    CustomFieldFactory(key="plan", type="text")
    tree = {
        "all": [
            field("country", "in", ["FR", "DE"]),
            field("plan", "eq", "pro"),
            events_tree(count={"op": "gte", "value": 5}, within={"days": 30}),
            {"type": "event", "event": "purchase", "op": "not_performed", "within": {"days": 7}},
        ]
    }
    fields = {"plan": CustomFieldFactory(key="plan")}

    with django_assert_num_queries(1):
        list(Contact.objects.filter(compile_conditions(tree, now=NOW, fields=fields)))


def test_custom_field_definitions_are_loaded_once_when_not_given(django_assert_num_queries):
    CustomFieldFactory(key="plan", type="text")
    tree = {"all": [field("plan", "eq", "pro"), field("plan", "is_set"), field("email", "is_set")]}

    with django_assert_num_queries(2):
        list(Contact.objects.filter(compile_conditions(tree, now=NOW)))


def test_values_are_bound_parameters_never_sql_text():
    CustomFieldFactory(key="plan", type="text")
    hostile = "x'); DROP TABLE contacts_contact; --"
    tree = {
        "all": [
            field("plan", "eq", hostile),
            {
                "type": "event",
                "event": hostile,
                "op": "performed",
                "where": [{"property": hostile, "op": "eq", "value": hostile}],
            },
        ]
    }

    sql, params = Contact.objects.filter(compile_conditions(tree, now=NOW)).query.sql_with_params()

    assert hostile not in sql
    assert params.count(hostile) >= 3


@pytest.mark.parametrize(
    "count, offsets",
    [
        ({"op": "gte", "value": 5}, ["OFFSET 4"]),
        ({"op": "lte", "value": 2}, ["OFFSET 2"]),
        ({"op": "eq", "value": 3}, ["OFFSET 2", "OFFSET 3"]),
    ],
)
def test_event_counts_stop_at_the_deciding_event_instead_of_counting_all(count, offsets):
    # given: a count condition; the bench showed COUNT(id) per contact reading every event
    # row of heavy users (segments bench, docs/benchmarks.md)
    tree = events_tree(count=count, within={"days": 30})

    # when
    sql = str(Contact.objects.filter(compile_conditions(tree, now=NOW)).query)

    # then: bounded EXISTS probes of the (contact, name, occurred_at) index, no aggregate
    assert "COUNT(" not in sql.upper()
    assert [part for part in offsets if part in sql] == offsets


def test_event_conditions_compile_to_correlated_subqueries():
    tree = {
        "all": [
            events_tree(within={"days": 30}),
            events_tree(count={"op": "gte", "value": 5}),
            {"type": "event", "event": "purchase", "op": "not_performed"},
        ]
    }

    sql = str(Contact.objects.filter(compile_conditions(tree, now=NOW)).query)

    # an index probe per contact on (contact, name, occurred_at), plus the implied "at least
    # one" beside the count, which the planner can run as a semi-join; no global GROUP BY
    assert sql.count('U0."contact_id" = ("contacts_contact"."id")') == 4
    assert sql.count('NOT (EXISTS(SELECT 1 AS "a" FROM "contacts_event"') == 1
    assert "GROUP BY" not in sql


@pytest.fixture
def odd_plans():
    """Values of a text field as stored, plus ones only a type change or raw SQL leaves."""
    CustomFieldFactory(key="plan", type="text")
    values = {"pro": "Pro", "five": 5, "five_text": "5", "true": True, "list": ["pro"]}
    ids = {name: ContactFactory(fields={"plan": value}).pk for name, value in values.items()}
    ids["missing"] = ContactFactory(fields={}).pk
    return ids


@pytest.mark.parametrize(
    "op, value, expected",
    [
        ("eq", "pro", {"pro"}),
        ("in", ["PRO", "basic"], {"pro"}),
        ("eq", "5", {"five_text"}),
        ("eq", "true", set()),
        ("eq", '["pro"]', set()),
        ("in", ["5", "pro"], {"five_text", "pro"}),
    ],
)
def test_text_comparisons_match_json_strings_only(odd_plans, op, value, expected):
    tree = field("plan", op, value)

    assert matching(tree) == {odd_plans[name] for name in expected}
    assert_complement(tree)


@pytest.mark.parametrize(
    "value, type_checked",
    [("pro", False), ("5", True), ("TRUE", True), ("[x]", True), ("-1.5e3", True)],
)
@pytest.mark.postgresql
def test_string_comparisons_skip_the_json_type_check_when_only_a_string_can_match(
    value, type_checked
):
    # given: the segments bench measured the per-row jsonb_typeof at ~100 ms per 1M contacts
    CustomFieldFactory(key="plan", type="choice", choices=["pro", "5", "TRUE", "[x]", "-1.5e3"])

    # when
    sql = str(Contact.objects.filter(compile_conditions(field("plan", "eq", value), now=NOW)).query)

    # then
    assert ("jsonb_typeof" in sql) is type_checked


@pytest.fixture
def countries():
    return {
        "fr": ContactFactory(country="FR", email="ann@example.com").pk,
        "de": ContactFactory(country="DE", email="bob@example.com").pk,
        "none": ContactFactory(country=None, email="cy@example.com").pk,
    }


@pytest.mark.parametrize(
    "node, expected",
    [
        (field("country", "eq", "fr"), {"fr"}),
        (field("country", "in", ["De", "fR"]), {"fr", "de"}),
        (field("country", "neq", "FR"), {"de", "none"}),
        (field("country", "not_in", ["de"]), {"fr", "none"}),
        (field("country", "eq", "f\u212a"), set()),  # KELVIN SIGN: the general form
        (field("email", "eq", "ANN@Example.COM"), {"ann"}),
        (field("email", "in", ["Bob@example.com", "nobody@example.com"]), {"de"}),
    ],
)
def test_columns_of_a_fixed_stored_case_compare_case_insensitively(countries, node, expected):
    by_email = {"ann": countries["fr"]}
    assert matching(node) == {by_email.get(name, countries.get(name)) for name in expected}
    assert_complement(node)


@pytest.mark.parametrize(
    "node, lowered",
    [
        (field("country", "in", ["FR", "de"]), False),
        (field("country", "neq", "fr"), False),
        (field("email", "eq", "ANN@example.com"), False),
        (field("country", "eq", "f\u212a"), True),
        (field("country", "contains", "f"), True),
    ],
)
def test_country_and_email_equality_compares_the_column_not_its_lowercase(node, lowered):
    # given: lower(country) of every contact was most of what the compiled SQL cost more
    # than hand-written SQL in the segments bench
    column = node["field"]

    # when
    sql = str(Contact.objects.filter(compile_conditions(node, now=NOW)).query)

    # then
    assert (f'LOWER("contacts_contact"."{column}")' in sql) is lowered


@pytest.mark.parametrize(
    "count, expected",
    [
        ({"op": "gte", "value": 2}, {"two", "five"}),
        ({"op": "gte", "value": 3}, {"five"}),
        ({"op": "eq", "value": 2}, {"two"}),
        ({"op": "lte", "value": 1}, {"none"}),
    ],
)
def test_counts_of_two_or_more_also_ask_for_one_event_with_the_same_result(
    friends, count, expected
):
    # given: a count of 2 or more compiles to "one such event exists" (a semi-join a full
    # evaluation can run over the window) beside the bounded probe
    tree = events_tree(count=count, within={"days": 31})
    sql = str(Contact.objects.filter(compile_conditions(tree, now=NOW)).query)

    # then: both subqueries are there, and the result is the count's own
    assert sql.count("EXISTS(") == (4 if count["op"] == "eq" else 2)
    assert matching(tree) == {friends[name] for name in expected}
    assert_complement(tree)


def test_a_condition_repeated_in_a_group_is_compiled_once(friends):
    # given: the same event condition twice under all, and twice under any
    once = events_tree(count={"op": "gte", "value": 2})
    twice_all = {"all": [once, dict(once)]}
    twice_any = {"any": [once, {**once}]}

    sql = str(Contact.objects.filter(compile_conditions(twice_all, now=NOW)).query)
    single_sql = str(Contact.objects.filter(compile_conditions(once, now=NOW)).query)

    # then: one set of subqueries, the same members as the condition alone
    assert sql.count("EXISTS(") == single_sql.count("EXISTS(")
    assert matching(twice_all) == matching(once) == {friends["two"], friends["five"]}
    assert matching(twice_any) == matching(once)
    assert_complement(twice_all)


@pytest.mark.parametrize(
    "condition",
    [
        events_tree(within={"days": 30}),
        field("last_activity_at", "within_last", {"days": 7}),
        {"any": [events_tree(), field("country", "eq", "FR")]},
    ],
)
def test_a_condition_beside_its_own_not_is_no_one_under_all_and_everyone_under_any(
    friends, condition
):
    # given: a contradiction as marketers build one by accident (active in 7 days, and not)
    everyone = set(Contact.objects.values_list("pk", flat=True))
    contradiction = {"all": [field("email", "is_set"), condition, {"not": condition}]}
    tautology = {"any": [{"not": condition}, field("email", "is_not_set"), condition]}

    sql = str(Contact.objects.filter(compile_conditions(contradiction, now=NOW)).query)

    # then: decided without querying the events, the same result as evaluating both sides
    assert "contacts_event" not in sql
    assert matching(contradiction) == set()
    assert matching(tautology) == everyone
    assert_complement(contradiction)
