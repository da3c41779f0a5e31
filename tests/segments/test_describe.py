"""Condition trees in plain words (segments/describe.py): every condition type and operator
family, relative windows with the absolute range they resolve to at `now`, names instead of
keys and ids, nested groups."""

import datetime as dt

import pytest

from segments.describe import (
    Names,
    condition_describe,
    conditions_describe,
    conditions_describe_short,
    describe_names,
)
from tests.factories import CustomFieldFactory, SegmentFactory, SubscriptionTopicFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 29, 15, 30, tzinfo=dt.UTC)


def leaf(condition: dict) -> str:
    return condition_describe(condition=condition, now=NOW)


def field(key: str, op: str, value=None) -> dict:
    node = {"type": "field", "field": key, "op": op}
    return node if value is None else {**node, "value": value}


@pytest.fixture
def custom_fields():
    CustomFieldFactory(key="plan", label="Plan", type="choice", choices=["free", "pro", "team"])
    CustomFieldFactory(key="trial_ends_at", label="Trial ends at", type="datetime")
    CustomFieldFactory(key="renewal", label="Renewal day", type="date")
    CustomFieldFactory(key="seats", label="Seats", type="number")
    CustomFieldFactory(key="beta", label="Beta tester", type="boolean")


# --- fields: text and choice -------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "words"),
    [
        ("eq", "pro", "Plan is pro"),
        ("neq", "pro", "Plan is not pro"),
        ("in", ["pro", "team"], "Plan is one of pro, team"),
        ("not_in", ["free"], "Plan is none of free"),
        ("contains", "ro", "Plan contains ro"),
        ("not_contains", "ro", "Plan does not contain ro"),
        ("starts_with", "p", "Plan starts with p"),
        ("ends_with", "m", "Plan ends with m"),
        ("is_set", None, "Plan is set"),
        ("is_not_set", None, "Plan is not set"),
    ],
)
def test_text_and_choice_operators_read_as_sentences(custom_fields, op, value, words):
    assert leaf(field("plan", op, value)) == words


def test_builtin_fields_have_readable_labels():
    assert leaf(field("country", "eq", "FR")) == "Country is FR"
    assert leaf(field("email_status", "neq", "bounced")) == "Email status is not bounced"
    assert leaf(field("email", "ends_with", "@acme.com")) == "Email ends with @acme.com"


def test_an_empty_text_is_shown_in_quotes():
    assert leaf(field("first_name", "eq", "")) == "First name is “”"


# --- numbers and booleans -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "words"),
    [
        ("eq", 3, "Seats is 3"),
        ("neq", 3, "Seats is not 3"),
        ("gt", 2.5, "Seats is more than 2.5"),
        ("gte", 10, "Seats is at least 10"),
        ("lt", 10.0, "Seats is less than 10"),
        ("lte", 0, "Seats is at most 0"),
        ("between", [1, 5], "Seats is between 1 and 5"),
        ("is_set", None, "Seats is set"),
    ],
)
def test_number_operators_read_as_sentences(custom_fields, op, value, words):
    assert leaf(field("seats", op, value)) == words


@pytest.mark.parametrize(
    ("op", "words"),
    [
        ("is_true", "Beta tester is true"),
        ("is_false", "Beta tester is false"),
        ("is_set", "Beta tester is set"),
        ("is_not_set", "Beta tester is not set"),
    ],
)
def test_boolean_operators_read_as_sentences(custom_fields, op, words):
    assert leaf(field("beta", op)) == words


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "words"),
    [
        ("within_next", {"days": 3}, "Trial ends at within the next 3 days (Nov 29 – Dec 2, 2026)"),
        (
            "within_last",
            {"days": 30},
            "Trial ends at within the last 30 days (Oct 30 – Nov 29, 2026)",
        ),
        ("older_than", {"days": 1}, "Trial ends at more than 1 day ago (before Nov 28, 2026)"),
        (
            "later_than",
            {"days": 40},
            "Trial ends at more than 40 days from now (after Jan 8, 2027)",
        ),
        (
            "within_last",
            {"hours": 12},
            "Trial ends at within the last 12 hours (Nov 29, 2026 03:30 – 15:30 UTC)",
        ),
        (
            "within_next",
            {"hours": 12},
            "Trial ends at within the next 12 hours "
            "(Nov 29, 2026 15:30 UTC – Nov 30, 2026 03:30 UTC)",
        ),
        (
            "older_than",
            {"minutes": 90},
            "Trial ends at more than 90 minutes ago (before Nov 29, 2026 14:00 UTC)",
        ),
        ("before", "2026-12-01", "Trial ends at is before Dec 1, 2026"),
        ("after", "2026-12-01T09:15:00Z", "Trial ends at is after Dec 1, 2026 09:15 UTC"),
        (
            "between",
            ["2026-12-01", "2027-01-31"],
            "Trial ends at is between Dec 1, 2026 and Jan 31, 2027",
        ),
        ("is_not_set", None, "Trial ends at is not set"),
    ],
)
def test_datetime_operators_show_the_absolute_range_at_now(custom_fields, op, value, words):
    assert leaf(field("trial_ends_at", op, value)) == words


def test_date_only_fields_resolve_relative_windows_to_utc_days(custom_fields):
    late_evening = dt.datetime(2026, 12, 30, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    words = condition_describe(
        condition=field("renewal", "within_next", {"days": 3}), now=late_evening
    )
    # 23:00 at UTC-5 is already Dec 31 in UTC: the window runs Dec 31 - Jan 3.
    assert words == "Renewal day within the next 3 days (Dec 31, 2026 – Jan 3, 2027)"
    assert leaf(field("renewal", "within_last", {"days": 0})) == (
        "Renewal day within the last 0 days (Nov 29, 2026)"
    )


def test_the_range_follows_now():
    node = field("created_at", "within_last", {"days": 7})
    later = condition_describe(condition=node, now=NOW + dt.timedelta(days=10))

    assert leaf(node) == "Created at within the last 7 days (Nov 22 – Nov 29, 2026)"
    assert later == "Created at within the last 7 days (Dec 2 – Dec 9, 2026)"


# --- events and emails -------------------------------------------------------------------------


def test_event_condition_with_count_and_window():
    node = {
        "type": "event",
        "event": "login",
        "op": "performed",
        "count": {"op": "gte", "value": 5},
        "within": {"days": 30},
    }
    assert leaf(node) == (
        "performed login at least 5 times in the last 30 days (since Oct 30, 2026)"
    )


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({}, "performed login"),
        ({"count": {"op": "gte", "value": 1}}, "performed login"),
        ({"count": {"op": "lte", "value": 1}}, "performed login at most once"),
        ({"count": {"op": "eq", "value": 2}}, "performed login exactly twice"),
        ({"count": {"op": "eq", "value": 0}}, "performed login exactly 0 times"),
        (
            {"within": {"hours": 1}},
            "performed login in the last 1 hour (since Nov 29, 2026 14:30 UTC)",
        ),
    ],
)
def test_event_counts_read_naturally(extra, words):
    assert leaf({"type": "event", "event": "login", "op": "performed", **extra}) == words


def test_not_performed_and_property_filters():
    node = {
        "type": "event",
        "event": "page.viewed",
        "op": "not_performed",
        "within": {"days": 7},
        "where": [
            {"property": "url", "op": "contains", "value": "/pricing"},
            {"property": "amount", "op": "between", "value": [5, 10]},
            {"property": "first", "op": "eq", "value": True},
            {"property": "coupon", "op": "is_not_set"},
        ],
    }
    assert leaf(node) == (
        "did not perform page.viewed in the last 7 days (since Nov 22, 2026) where url contains "
        "/pricing and amount is between 5 and 10 and first is true and coupon is not set"
    )


@pytest.mark.parametrize(
    ("node", "words"),
    [
        ({"op": "opened"}, "opened an email"),
        ({"op": "clicked", "template": 4}, "clicked a link in an email from template #4"),
        ({"op": "received", "flow": 2}, "received an email sent by flow #2"),
        ({"op": "bounced"}, "had an email bounce"),
        ({"op": "unsubscribed"}, "unsubscribed through an email"),
        (
            {"op": "not_opened", "within": {"days": 14}},
            "did not open an email in the last 14 days (since Nov 15, 2026)",
        ),
        ({"op": "not_clicked"}, "did not click a link in an email"),
    ],
)
def test_email_conditions(node, words):
    assert leaf({"type": "email", **node}) == words


# --- segments, tags, subscriptions -----------------------------------------------------------


def test_segment_conditions_show_the_segment_name():
    trial = SegmentFactory(name="Trial users")

    assert leaf({"type": "segment", "op": "in", "segment": trial.pk}) == (
        "is in segment “Trial users”"
    )
    assert leaf({"type": "segment", "op": "not_in", "segment": trial.pk}) == (
        "is not in segment “Trial users”"
    )
    assert leaf({"type": "segment", "op": "in", "segment": 999_999}) == "is in segment #999999"


def test_tag_and_subscription_conditions():
    SubscriptionTopicFactory(key="news", name="Newsletter")

    assert leaf({"type": "tag", "op": "has", "tag": "vip"}) == "has tag vip"
    assert leaf({"type": "tag", "op": "has_not", "tag": "vip"}) == "does not have tag vip"
    assert leaf({"type": "subscription", "op": "subscribed", "topic": "news"}) == (
        "is subscribed to Newsletter"
    )
    assert leaf({"type": "subscription", "op": "unsubscribed", "topic": "gone"}) == (
        "is not subscribed to gone"
    )


# --- groups ---------------------------------------------------------------------------------


def test_nested_groups_read_as_all_any_not(custom_fields):
    tree = {
        "all": [
            field("plan", "in", ["pro", "team"]),
            {
                "any": [
                    {"type": "tag", "op": "has", "tag": "vip"},
                    field("seats", "gte", 10),
                ]
            },
            {"not": {"type": "event", "event": "churned", "op": "performed"}},
            {"not": {"any": [field("country", "eq", "FR"), field("country", "eq", "DE")]}},
        ]
    }
    assert conditions_describe(conditions=tree, now=NOW) == (
        "all of: Plan is one of pro, team; (any of: has tag vip; Seats is at least 10); "
        "not: performed churned; not: (any of: Country is FR; Country is DE)"
    )


def test_empty_groups_and_single_children():
    assert conditions_describe(conditions={"all": []}, now=NOW) == "every contact"
    assert conditions_describe(conditions={"any": []}, now=NOW) == "no contact"
    single = {"all": [{"any": [{"type": "tag", "op": "has", "tag": "vip"}]}]}
    assert conditions_describe(conditions=single, now=NOW) == "has tag vip"


def test_short_description_cuts_at_a_word():
    tree = {"all": [{"type": "tag", "op": "has", "tag": f"tag{n}"} for n in range(40)]}

    short = conditions_describe_short(conditions=tree, now=NOW, length=60)

    assert len(short) <= 62
    assert short.endswith(" …")
    assert short.startswith("all of: has tag tag0; has tag tag1")


def test_names_are_read_in_a_few_queries_and_reused(custom_fields, django_assert_num_queries):
    segment = SegmentFactory(name="Buyers")
    SubscriptionTopicFactory(key="news", name="Newsletter")
    tree = {
        "any": [
            *[field("plan", "eq", "pro") for _ in range(20)],
            *[{"type": "segment", "op": "in", "segment": segment.pk} for _ in range(20)],
            {"type": "subscription", "op": "subscribed", "topic": "news"},
        ]
    }
    with django_assert_num_queries(3):
        names = describe_names(tree)
    with django_assert_num_queries(0):
        text = conditions_describe(conditions=tree, now=NOW, names=names)
    assert "Plan is pro" in text and "“Buyers”" in text and "Newsletter" in text


def test_unknown_names_fall_back_to_keys():
    names = Names()
    text = condition_describe(condition=field("gone_field", "eq", "x"), now=NOW, names=names)
    assert text == "gone_field is x"
