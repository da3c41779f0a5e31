import pytest

from segments.validation import MAX_DEPTH, MAX_NODES, ConditionError, validate_conditions
from tests.factories import CustomFieldFactory, SegmentFactory, SubscriptionTopicFactory

pytestmark = pytest.mark.django_db


def errors_of(tree, **kwargs) -> dict[str, str]:
    return {error.path: error.message for error in validate_conditions(tree, **kwargs)}


def field(key, op, value=None):
    node = {"type": "field", "field": key, "op": op}
    if value is not None:
        node["value"] = value
    return node


@pytest.fixture
def custom_fields():
    CustomFieldFactory(key="plan", type="choice", choices=["free", "pro"])
    CustomFieldFactory(key="seats", type="number")
    CustomFieldFactory(key="trial_ends_on", type="date")
    CustomFieldFactory(key="trial_ends_at", type="datetime")
    CustomFieldFactory(key="vip", type="boolean")
    CustomFieldFactory(key="company", type="text")


def test_a_valid_tree_of_every_condition_kind_has_no_errors(custom_fields):
    SubscriptionTopicFactory(key="news")
    other = SegmentFactory()
    tree = {
        "all": [
            field("country", "in", ["FR", "de"]),
            field("plan", "eq", "PRO"),
            field("seats", "between", [1, 10.5]),
            field("trial_ends_on", "within_next", {"days": 3}),
            field("trial_ends_at", "before", "2026-01-31T10:00:00+02:00"),
            field("vip", "is_true"),
            field("company", "is_not_set"),
            {
                "not": {
                    "any": [field("lead_score", "gte", 50), field("email", "ends_with", "@x.io")]
                }
            },
            {
                "type": "event",
                "event": "friend.added",
                "op": "performed",
                "count": {"op": "gte", "value": 5},
                "within": {"days": 30},
                "where": [
                    {"property": "url", "op": "contains", "value": "/pricing"},
                    {"property": "amount", "op": "between", "value": [1, 2]},
                    {"property": "first", "op": "eq", "value": True},
                    {"property": "ref", "op": "is_set"},
                ],
            },
            {"type": "email", "op": "not_opened", "within": {"days": 60}, "template": 3},
            {"type": "segment", "op": "not_in", "segment": other.pk},
            {"type": "tag", "op": "has", "tag": "VIP"},
            {"type": "subscription", "op": "subscribed", "topic": "news"},
        ]
    }

    assert validate_conditions(tree) == []


def test_errors_are_condition_errors_with_path_and_message():
    assert validate_conditions({"all": [field("nope", "eq", "x")]}) == [
        ConditionError(path="conditions.all[0].field", message="Unknown field 'nope'.")
    ]


def test_every_error_is_reported_at_once_with_its_path(custom_fields):
    tree = {
        "all": [
            field("seats", "contains", "x"),
            {"any": [field("seats", "gt", "ten"), field("first_name", "eq", 3)]},
            {
                "type": "event",
                "event": "login",
                "op": "performed",
                "count": {"op": "gte", "value": -1},
            },
        ]
    }

    errors = errors_of(tree)

    assert set(errors) == {
        "conditions.all[0].op",
        "conditions.all[1].any[0].value",
        "conditions.all[1].any[1].value",
        "conditions.all[2].count.value",
    }


def test_the_root_path_can_be_chosen():
    assert set(errors_of({"all": [{}]}, path="exit_when")) == {"exit_when.all[0]"}


@pytest.mark.parametrize(
    "tree, path",
    [
        ([], "conditions"),
        ({"all": {}}, "conditions.all"),
        ({"all": [], "any": []}, "conditions"),
        ({"color": "red"}, "conditions"),
        ({"type": "weather"}, "conditions.type"),
        ({"type": "tag", "op": "has", "tag": "x", "extra": 1}, "conditions.extra"),
    ],
)
def test_malformed_nodes_are_rejected(tree, path):
    assert path in errors_of(tree)


@pytest.mark.parametrize(
    "condition, path",
    [
        (field("lead_score", "contains", "1"), "op"),
        (field("country", "gt", "FR"), "op"),
        (field("last_activity_at", "eq", "2026-01-01"), "op"),
        (field("email", "eq"), "value"),
        (field("email", "in", []), "value"),
        (field("email", "in", ["a", 2]), "value[1]"),
        (field("email", "is_set", "yes"), "value"),
        (field("email_status", "eq", "sleeping"), "value"),
        (field("lead_score", "eq", True), "value"),
        (field("lead_score", "between", [5]), "value"),
        (field("lead_score", "between", [5, "x"]), "value[1]"),
        (field("lead_score", "between", [9, 5]), "value"),
        (field("created_at", "before", "yesterday"), "value"),
        (field("created_at", "between", ["2026-02-01", "2026-01-01"]), "value"),
        (field("created_at", "within_last", {"weeks": 2}), "value"),
        (field("created_at", "within_last", {"days": -2}), "value"),
        (field("created_at", "within_last", {"days": 1, "hours": 2}), "value"),
        (field("created_at", "older_than", 7), "value"),
    ],
)
def test_wrong_operators_and_values_for_built_in_fields_are_rejected(condition, path):
    assert f"conditions.{path}" in errors_of(condition)


@pytest.mark.parametrize(
    "condition, path",
    [
        (field("plan", "eq", "enterprise"), "value"),
        (field("plan", "in", ["free", "gold"]), "value[1]"),
        (field("seats", "is_true"), "op"),
        (field("vip", "eq", True), "op"),
        (field("vip", "is_true", True), "value"),
        (field("trial_ends_on", "after", "2026-01-01T10:00:00Z"), "value"),
        (field("trial_ends_at", "between", ["2026-01-01", "soon"]), "value[1]"),
    ],
)
def test_wrong_operators_and_values_for_custom_fields_are_rejected(custom_fields, condition, path):
    assert f"conditions.{path}" in errors_of(condition)


@pytest.mark.parametrize(
    "changes, path",
    [
        ({"event": ""}, "event"),
        ({"op": "did"}, "op"),
        ({"count": {"op": "gt", "value": 1}}, "count.op"),
        ({"count": {"op": "gte", "value": 1.5}}, "count.value"),
        ({"count": {"op": "gte", "value": 10**30}}, "count.value"),
        ({"event": " login"}, "event"),
        ({"event": "log\tin"}, "event"),
        ({"count": 3}, "count"),
        ({"within": {"days": "7"}}, "within"),
        ({"where": {"url": "x"}}, "where"),
        ({"where": [{"property": "", "op": "eq", "value": "x"}]}, "where[0].property"),
        ({"where": [{"property": "url", "op": "gt", "value": "x"}]}, "where[0].value"),
        ({"where": [{"property": "url", "op": "in", "value": "x"}]}, "where[0].value"),
        ({"where": [{"property": "url", "op": "is_true"}]}, "where[0].op"),
        ({"where": [{"property": "url", "op": "is_set", "value": 1}]}, "where[0].value"),
        ({"where": [{"property": "url", "op": "eq", "value": None}]}, "where[0].value"),
    ],
)
def test_bad_event_conditions_are_rejected_at_their_path(changes, path):
    condition = {"type": "event", "event": "login", "op": "performed", **changes}

    assert f"conditions.{path}" in errors_of(condition)


@pytest.mark.parametrize(
    "condition, path",
    [
        ({"type": "email", "op": "read"}, "op"),
        ({"type": "email", "op": "opened", "template": 0}, "template"),
        ({"type": "email", "op": "opened", "flow": True}, "flow"),
        ({"type": "email", "op": "opened", "within": {"days": None}}, "within"),
        ({"type": "tag", "op": "is", "tag": "vip"}, "op"),
        ({"type": "tag", "op": "has", "tag": "  "}, "tag"),
        ({"type": "subscription", "op": "subscribed", "topic": "missing"}, "topic"),
        ({"type": "subscription", "op": "opted", "topic": ""}, "op"),
        ({"type": "segment", "op": "in", "segment": "1"}, "segment"),
        ({"type": "segment", "op": "in", "segment": 999_999}, "segment"),
    ],
)
def test_bad_email_tag_subscription_and_segment_conditions_are_rejected(condition, path):
    assert f"conditions.{path}" in errors_of(condition)


def test_a_segment_cannot_refer_to_itself():
    segment = SegmentFactory()
    tree = {"all": [{"type": "segment", "op": "in", "segment": segment.pk}]}

    errors = errors_of(tree, segment_id=segment.pk)

    assert errors == {"conditions.all[0].segment": "A segment cannot refer to itself."}


def test_a_cycle_through_stored_segments_is_rejected():
    # given: c -> b -> a (stored); a is being saved with a reference to c
    a = SegmentFactory()
    b = SegmentFactory(conditions={"type": "segment", "op": "in", "segment": a.pk})
    c = SegmentFactory(conditions={"not": {"type": "segment", "op": "in", "segment": b.pk}})
    tree = {
        "any": [
            {"type": "tag", "op": "has", "tag": "x"},
            {"type": "segment", "op": "in", "segment": c.pk},
        ]
    }

    errors = errors_of(tree, segment_id=a.pk)

    assert list(errors) == ["conditions.any[1].segment"]
    assert f"{c.pk} -> {b.pk}" in errors["conditions.any[1].segment"]


def test_references_to_segments_outside_any_cycle_are_accepted():
    a = SegmentFactory()
    b = SegmentFactory(conditions={"type": "segment", "op": "in", "segment": a.pk})
    new = SegmentFactory()

    assert errors_of({"type": "segment", "op": "in", "segment": b.pk}, segment_id=new.pk) == {}


def test_trees_nested_deeper_than_the_limit_are_rejected():
    tree = field("email", "is_set")
    for _ in range(MAX_DEPTH):
        tree = {"not": tree}

    errors = errors_of(tree)

    assert errors == {
        "conditions" + ".not" * MAX_DEPTH: f"Nested too deep: at most {MAX_DEPTH} levels."
    }


def test_trees_at_the_depth_limit_are_accepted():
    tree = field("email", "is_set")
    for _ in range(MAX_DEPTH - 1):
        tree = {"not": tree}

    assert errors_of(tree) == {}


def test_trees_with_too_many_nodes_are_rejected():
    tree = {"any": [field("email", "is_set")] * MAX_NODES}

    assert "conditions" in errors_of(tree)


def test_validation_takes_a_fixed_number_of_queries(django_assert_num_queries, custom_fields):
    # given: custom fields, topics and segments referenced many times
    SubscriptionTopicFactory(key="news")
    segment = SegmentFactory()
    tree = {
        "all": [field("plan", "eq", "pro"), field("seats", "gt", 1)] * 10
        + [{"type": "subscription", "op": "subscribed", "topic": "news"}] * 5
        + [{"type": "segment", "op": "in", "segment": segment.pk}] * 5
    }

    # then: definitions, topics, one level of segments
    with django_assert_num_queries(3):
        assert validate_conditions(tree) == []


def test_text_custom_fields_take_any_string(custom_fields):
    assert errors_of(field("company", "eq", "anything")) == {}


def test_validate_or_raise_raises_invalid_input_keyed_by_path():
    from segflow.errors import InvalidInput
    from segments.validation import validate_conditions_or_raise

    with pytest.raises(InvalidInput) as raised:
        validate_conditions_or_raise({"all": [field("nope", "eq", "x")]}, path="exit_when")

    assert raised.value.errors == {"exit_when.all[0].field": ["Unknown field 'nope'."]}
