"""flow_definition_clean: every error with its JSON path, all at once; the normalised output
(defaults, step ids, stored forms of values)."""

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automation.flow_definition import STEP_ID_PATTERN, flow_definition_clean
from automation.flow_tree import FlowTree
from segflow.errors import InvalidInput
from tests.factories import (
    CustomFieldFactory,
    EmailTemplateFactory,
    SegmentFactory,
    SubscriptionTopicFactory,
)

pytestmark = pytest.mark.django_db

EVENT_TRIGGER = {"type": "event", "event": "cart.updated"}
WAIT = {"type": "wait", "duration": {"hours": 1}}
EXIT = {"type": "exit"}


def flow(*steps, **keys) -> dict:
    return {"trigger": EVENT_TRIGGER, "steps": list(steps) or [WAIT], **keys}


def errors_of(definition: object) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as raised:
        flow_definition_clean(definition)
    return raised.value.errors


def assert_single_error(definition: object, path: str, fragment: str) -> None:
    errors = errors_of(definition)
    assert list(errors) == [path], errors
    assert any(fragment in message for message in errors[path]), errors[path]


# --- the whole definition --------------------------------------------------------------------


def test_a_minimal_flow_is_normalised_with_defaults_and_step_ids():
    cleaned = flow_definition_clean(flow(WAIT))

    assert cleaned == {
        "trigger": EVENT_TRIGGER,
        "reentry": "never",
        "exit_when": None,
        "goal": None,
        "holdout_percent": 0,
        "steps": [{"id": "wait-1", "type": "wait", "duration": {"hours": 1}}],
    }


def test_cleaning_does_not_change_the_input():
    definition = flow(WAIT, {"type": "tag", "add": [" VIP "]})
    before = copy.deepcopy(definition)

    flow_definition_clean(definition)

    assert definition == before


def test_cleaning_a_cleaned_definition_gives_it_back_unchanged():
    template = EmailTemplateFactory()
    definition = flow(
        {"type": "send_email", "template": template.pk},
        {"type": "branch", "condition": {"type": "tag", "op": "has", "tag": "vip"}, "yes": [EXIT]},
        reentry={"after": {"days": 30}},
    )
    definition["steps"][1]["no"] = [WAIT]

    cleaned = flow_definition_clean(definition)

    assert flow_definition_clean(cleaned) == cleaned


@pytest.mark.parametrize("data", [None, [], "flow", 3])
def test_a_definition_that_is_not_an_object_is_refused(data):
    assert_single_error(data, "", "Must be an object")


def test_unknown_top_level_keys_are_errors():
    assert_single_error(flow(name_typo="x"), "name_typo", "Unknown key")


def test_every_error_is_reported_at_once_with_its_path():
    definition = {
        "trigger": {"type": "segment_entered"},
        "reentry": "sometimes",
        "holdout_percent": 51,
        "steps": [
            {"type": "wait", "duration": {"days": 0}},
            {"type": "branch", "condition": {"type": "tag", "op": "has", "tag": "x"}, "yes": []},
        ],
    }

    errors = errors_of(definition)

    assert set(errors) == {
        "trigger.segment",
        "reentry",
        "holdout_percent",
        "steps[0].duration.days",
        "steps[1].yes",
        "steps[1].no",
    }


def test_steps_are_required_and_not_empty():
    assert_single_error({"trigger": EVENT_TRIGGER}, "steps", "Required")
    assert_single_error({"trigger": EVENT_TRIGGER, "steps": []}, "steps", "A flow with no steps")
    assert_single_error({"trigger": EVENT_TRIGGER, "steps": {}}, "steps", "Must be a list")


def test_at_most_200_steps():
    assert flow_definition_clean(flow(*[WAIT] * 200))
    assert_single_error(flow(*[WAIT] * 201), "steps", "Too many steps (201)")


def test_nested_steps_count_toward_the_limit():
    branch = {"type": "branch", "condition": {"type": "tag", "op": "has", "tag": "x"}}
    branch |= {"yes": [WAIT] * 100, "no": [WAIT] * 100}

    assert_single_error(flow(branch), "steps", "Too many steps (201)")


def branch_chain(levels: int) -> list[dict]:
    """Branches nested `levels` deep (each in the previous one's yes path)."""
    steps = [WAIT]
    for _ in range(levels):
        steps = [
            {
                "type": "branch",
                "condition": {"type": "tag", "op": "has", "tag": "x"},
                "yes": steps,
                "no": [WAIT],
            }
        ]
    return steps


def test_steps_nest_at_most_ten_levels():
    assert flow_definition_clean({"trigger": EVENT_TRIGGER, "steps": branch_chain(9)})

    errors = errors_of({"trigger": EVENT_TRIGGER, "steps": branch_chain(10)})

    deepest = "steps[0]" + ".yes[0]" * 9
    too_deep = ["Nested too deep: at most 10 levels of steps."]
    assert errors == {f"{deepest}.yes": too_deep, f"{deepest}.no": too_deep}


def test_strings_the_database_cannot_store_are_errors():
    assert_single_error(
        flow({"type": "tag", "add": ["ok"], "remove": ["bad\ud800"]}),
        "steps[0].remove[0]",
        "invalid code points",
    )


# --- trigger ---------------------------------------------------------------------------------


def test_a_segment_trigger_needs_an_existing_segment():
    segment = SegmentFactory()

    cleaned = flow_definition_clean(flow(trigger={"type": "segment_left", "segment": segment.pk}))

    assert cleaned["trigger"] == {"type": "segment_left", "segment": segment.pk}
    assert_single_error(
        flow(trigger={"type": "segment_entered", "segment": segment.pk + 1000}),
        "trigger.segment",
        "does not exist",
    )
    assert_single_error(
        flow(trigger={"type": "segment_entered", "segment": "1"}), "trigger.segment", "Required"
    )


@pytest.mark.parametrize(
    ("trigger", "path", "fragment"),
    [
        (None, "trigger", "Required"),
        ("event", "trigger", "Must be an object"),
        ({"type": "webhook"}, "trigger.type", "one of segment_entered, segment_left, event"),
        ({"type": "event"}, "trigger.event", "Required"),
        ({"type": "event", "event": " login"}, "trigger.event", "spaces"),
        ({"type": "event", "event": "x" * 201}, "trigger.event", "at most 200"),
        ({"type": "event", "event": "login", "segment": 1}, "trigger.segment", "Unknown key"),
        ({"type": "event", "event": "login", "where": {}}, "trigger.where", "Must be a list"),
        (
            {"type": "event", "event": "buy", "where": [{"property": "total", "op": "gt"}]},
            "trigger.where[0].value",
            "Must be a number",
        ),
        (
            {"type": "event", "event": "buy", "where": [{"property": "x", "op": "near"}]},
            "trigger.where[0].op",
            "does not apply",
        ),
    ],
)
def test_trigger_errors(trigger, path, fragment):
    assert_single_error(flow(trigger=trigger), path, fragment)


def test_a_segment_trigger_takes_no_event():
    segment = SegmentFactory()
    trigger = {"type": "segment_left", "segment": segment.pk, "event": "x"}

    assert_single_error(flow(trigger=trigger), "trigger.event", "Unknown key")


def test_an_event_trigger_keeps_its_where_filters():
    trigger = {
        "type": "event",
        "event": "cart.updated",
        "where": [{"property": "total", "op": "gte", "value": 50}],
    }

    assert flow_definition_clean(flow(trigger=trigger))["trigger"] == trigger


# --- reentry, exit_when, goal, holdout -------------------------------------------------------


@pytest.mark.parametrize("reentry", ["never", "always", {"after": {"days": 7}}])
def test_reentry_policies(reentry):
    assert flow_definition_clean(flow(reentry=reentry))["reentry"] == reentry


@pytest.mark.parametrize(
    ("reentry", "path", "fragment"),
    [
        ("sometimes", "reentry", '"never", "always"'),
        ({"after": {"days": 0}}, "reentry.after.days", "more than zero"),
        ({"after": {"weeks": 1}}, "reentry.after.weeks", "Unknown unit"),
        ({"after": {"days": 1}, "x": 1}, "reentry", '"never", "always"'),
        (None, "reentry", '"never", "always"'),
    ],
)
def test_reentry_errors(reentry, path, fragment):
    assert_single_error(flow(reentry=reentry), path, fragment)


def test_exit_when_is_a_condition_tree_validated_with_its_path():
    tree = {"all": [{"type": "event", "event": "purchase", "op": "performed"}]}
    assert flow_definition_clean(flow(exit_when=tree))["exit_when"] == tree

    bad = {"all": [{"type": "field", "field": "plan", "op": "eq", "value": "pro"}]}
    assert_single_error(flow(exit_when=bad), "exit_when.all[0].field", "Unknown field 'plan'")


def test_exit_when_can_use_custom_fields():
    CustomFieldFactory(key="plan", type="text")
    tree = {"type": "field", "field": "plan", "op": "eq", "value": "pro"}

    assert flow_definition_clean(flow(exit_when=tree))["exit_when"] == tree


def test_a_goal_is_an_event_within_a_window():
    goal = {"event": "purchase", "within": {"days": 7}}
    assert flow_definition_clean(flow(goal=goal))["goal"] == goal


@pytest.mark.parametrize(
    ("goal", "path", "fragment"),
    [
        ("purchase", "goal", "Must be an object"),
        ({"within": {"days": 7}}, "goal.event", "Required"),
        ({"event": "purchase"}, "goal.within", "Required"),
        ({"event": "purchase", "within": {"days": 0}}, "goal.within.days", "more than zero"),
        ({"event": "purchase", "within": {"days": 7}, "x": 1}, "goal.x", "Unknown key"),
    ],
)
def test_goal_errors(goal, path, fragment):
    assert_single_error(flow(goal=goal), path, fragment)


@pytest.mark.parametrize("percent", [-1, 51, 10.5, "10", True])
def test_holdout_percent_is_a_whole_number_up_to_50(percent):
    assert_single_error(flow(holdout_percent=percent), "holdout_percent", "0 to 50")


def test_holdout_percent_of_50_is_allowed():
    assert flow_definition_clean(flow(holdout_percent=50))["holdout_percent"] == 50


# --- step ids --------------------------------------------------------------------------------


def test_given_step_ids_are_kept_and_missing_ones_do_not_collide_with_them():
    cleaned = flow_definition_clean(flow({**WAIT, "id": "wait-1"}, WAIT, {**WAIT, "id": "wait-3"}))

    assert [step["id"] for step in cleaned["steps"]] == ["wait-1", "wait-2", "wait-3"]


def test_missing_step_ids_are_assigned_per_type_in_document_order():
    branch = {"type": "branch", "condition": {"type": "tag", "op": "has", "tag": "x"}}
    branch |= {"yes": [WAIT, EXIT], "no": [{"type": "adjust_score", "by": 5}]}

    cleaned = flow_definition_clean(flow(WAIT, branch, WAIT))

    steps = cleaned["steps"]
    assert [s["id"] for s in steps] == ["wait-1", "branch-1", "wait-3"]
    assert [s["id"] for s in steps[1]["yes"]] == ["wait-2", "exit-1"]
    assert [s["id"] for s in steps[1]["no"]] == ["adjust_score-1"]


def test_the_same_definition_always_gets_the_same_ids():
    definition = flow(WAIT, {"type": "tag", "add": ["a"]}, WAIT)

    assert flow_definition_clean(definition) == flow_definition_clean(definition)


@pytest.mark.parametrize("step_id", ["", "has space", "x" * 65, 7, "é"])
def test_a_step_id_is_a_slug_of_at_most_64_characters(step_id):
    assert_single_error(flow({**WAIT, "id": step_id}), "steps[0].id", "letters, digits")


def test_step_ids_are_unique_across_the_flow():
    branch = {"type": "branch", "condition": {"type": "tag", "op": "has", "tag": "x"}}
    branch |= {"yes": [{**WAIT, "id": "a"}], "no": [WAIT]}

    assert_single_error(flow({**WAIT, "id": "a"}, branch), "steps[1].yes[0].id", "Duplicate")


# --- steps, type by type ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "path", "fragment"),
    [
        ("wait", "steps[0]", 'with a "type"'),
        ({"type": "sleep"}, "steps[0].type", "one of wait,"),
        ({**WAIT, "extra": 1}, "steps[0].extra", "Unknown key for a wait step"),
        # wait
        ({"type": "wait"}, "steps[0].duration", "Required"),
        ({"type": "wait", "duration": {"days": 0}}, "steps[0].duration.days", "more than zero"),
        ({"type": "wait", "duration": {"days": 3650}}, "steps[0].duration.days", "at most 365"),
        (
            {"type": "wait", "duration": {"hours": 365 * 24 + 1}},
            "steps[0].duration.hours",
            "at most 365",
        ),
        ({"type": "wait", "duration": {"days": -1}}, "steps[0].duration.days", "more than zero"),
        ({"type": "wait", "duration": {"days": 1.5}}, "steps[0].duration.days", "whole number"),
        ({"type": "wait", "duration": {"weeks": 1}}, "steps[0].duration.weeks", "Unknown unit"),
        ({"type": "wait", "duration": {"days": 1, "hours": 1}}, "steps[0].duration", "one of"),
        # wait_until
        ({"type": "wait_until"}, "steps[0].field", "Required"),
        ({"type": "wait_until", "field": "nope"}, "steps[0].field", "Unknown field"),
        ({"type": "wait_until", "field": "country"}, "steps[0].field", "text field"),
        (
            {"type": "wait_until", "field": "created_at", "offset": {"weeks": -1}},
            "steps[0].offset.weeks",
            "Unknown unit",
        ),
        (
            {"type": "wait_until", "field": "created_at", "offset": {"days": -400}},
            "steps[0].offset.days",
            "at most 365",
        ),
        # wait_for_event
        ({"type": "wait_for_event", "timeout": {"days": 1}}, "steps[0].event", "Required"),
        ({"type": "wait_for_event", "event": "buy"}, "steps[0].timeout", "Required"),
        (
            {"type": "wait_for_event", "event": "buy", "timeout": {"minutes": 0}},
            "steps[0].timeout.minutes",
            "more than zero",
        ),
        (
            {"type": "wait_for_event", "event": "buy", "timeout": {"days": 1}, "on_event": {}},
            "steps[0].on_event",
            "Must be a list",
        ),
        # send_email
        ({"type": "send_email"}, "steps[0].template", "Required"),
        ({"type": "send_email", "template": "1"}, "steps[0].template", "Required"),
        ({"type": "send_email", "template": 999999}, "steps[0].template", "does not exist"),
        # branch
        ({"type": "branch", "yes": [WAIT], "no": [WAIT]}, "steps[0].condition", "Required"),
        (
            {"type": "branch", "condition": {"type": "tag", "op": "has", "tag": "x"}, "no": [WAIT]},
            "steps[0].yes",
            "Required",
        ),
        (
            {
                "type": "branch",
                "condition": {"type": "tag", "op": "has", "tag": "x"},
                "yes": [WAIT],
                "no": [],
            },
            "steps[0].no",
            "A branch with no steps",
        ),
        (
            {
                "type": "branch",
                "condition": {"any": [{"type": "email", "op": "seen"}]},
                "yes": [WAIT],
                "no": [WAIT],
            },
            "steps[0].condition.any[0].op",
            "does not apply",
        ),
        # split
        ({"type": "split"}, "steps[0].variants", "2 to 20 variants"),
        (
            {"type": "split", "variants": [{"percent": 100, "steps": [WAIT]}]},
            "steps[0].variants",
            "2 to 20 variants",
        ),
        (
            {"type": "split", "variants": [{"percent": 60, "steps": [WAIT]}] * 2},
            "steps[0].variants",
            "add up to 100, not 120",
        ),
        (
            {
                "type": "split",
                "variants": [
                    {"percent": 50.5, "steps": [WAIT]},
                    {"percent": 50, "steps": [WAIT]},
                ],
            },
            "steps[0].variants[0].percent",
            "whole number",
        ),
        (
            {
                "type": "split",
                "variants": [{"percent": 50, "steps": []}, {"percent": 50, "steps": [WAIT]}],
            },
            "steps[0].variants[0].steps",
            "A branch with no steps",
        ),
        (
            {
                "type": "split",
                "variants": [
                    {"percent": 50, "steps": [WAIT], "name": "A"},
                    {"percent": 50, "steps": [WAIT]},
                ],
            },
            "steps[0].variants[0].name",
            "Unknown key",
        ),
        (
            {"type": "split", "variants": ["a", {"percent": 100, "steps": [WAIT]}]},
            "steps[0].variants[0]",
            "Must be an object",
        ),
        # update_field
        ({"type": "update_field", "value": 1}, "steps[0].field", "Required"),
        ({"type": "update_field", "field": "first_name"}, "steps[0].value", "Required"),
        ({"type": "update_field", "field": "email", "value": "a@b.co"}, "steps[0].field", "email"),
        (
            {"type": "update_field", "field": "external_id", "value": "x"},
            "steps[0].field",
            "identifies",
        ),
        ({"type": "update_field", "field": "lead_score", "value": 3}, "steps[0].field", "adjust"),
        (
            {"type": "update_field", "field": "email_status", "value": "ok"},
            "steps[0].field",
            "set by Segflow",
        ),
        ({"type": "update_field", "field": "nope", "value": 1}, "steps[0].field", "Unknown field"),
        (
            {"type": "update_field", "field": "country", "value": "Narnia"},
            "steps[0].value",
            "ISO 3166",
        ),
        # adjust_score
        ({"type": "adjust_score"}, "steps[0].by", "not 0"),
        ({"type": "adjust_score", "by": 0}, "steps[0].by", "not 0"),
        ({"type": "adjust_score", "by": 1001}, "steps[0].by", "-1000 to 1000"),
        ({"type": "adjust_score", "by": -1001}, "steps[0].by", "-1000 to 1000"),
        ({"type": "adjust_score", "by": 2.5}, "steps[0].by", "whole number"),
        # tag
        ({"type": "tag"}, "steps[0]", 'Give tag names to "add"'),
        ({"type": "tag", "add": [], "remove": []}, "steps[0]", 'Give tag names to "add"'),
        ({"type": "tag", "add": ["ok", " "]}, "steps[0].add[1]", "blank"),
        ({"type": "tag", "remove": "vip"}, "steps[0].remove", "Must be a list"),
        ({"type": "tag", "add": ["VIP"], "remove": ["vip"]}, "steps[0].remove", "also added"),
        # webhook
        ({"type": "webhook"}, "steps[0].url", "Required"),
        ({"type": "webhook", "url": "ftp://example.com/x"}, "steps[0].url", "http://"),
        ({"type": "webhook", "url": "javascript:alert(1)"}, "steps[0].url", "http://"),
        ({"type": "webhook", "url": "https://"}, "steps[0].url", "no host"),
        ({"type": "webhook", "url": "https://x.io", "body": 3}, "steps[0].body", "Jinja"),
        (
            {"type": "webhook", "url": "https://x.io", "body": '{"a": 1}\n{{ contact.email '},
            "steps[0].body",
            "line 2",
        ),
        (
            {"type": "webhook", "url": "https://x.io", "body": "{% for x in y %}"},
            "steps[0].body",
            "Template error on line 1",
        ),
        # exit
        ({"type": "exit", "reason": "done"}, "steps[0].reason", "Unknown key for a exit step"),
    ],
)
def test_step_errors(step, path, fragment):
    assert_single_error(flow(step), path, fragment)


def test_steps_after_an_exit_are_unreachable():
    assert_single_error(flow(WAIT, EXIT, WAIT, WAIT), "steps[2]", "Unreachable")


def test_wait_takes_seconds_and_up_to_365_days():
    cleaned = flow_definition_clean(
        flow(
            {"type": "wait", "duration": {"seconds": 30}},
            {"type": "wait", "duration": {"days": 365}},
        )
    )

    assert [step["duration"] for step in cleaned["steps"]] == [{"seconds": 30}, {"days": 365}]


def test_wait_until_takes_date_fields_with_a_signed_offset():
    CustomFieldFactory(key="trial_ends_at", type="date")
    CustomFieldFactory(key="renews_at", type="datetime")
    steps = [
        {"type": "wait_until", "field": "trial_ends_at", "offset": {"days": -1}},
        {"type": "wait_until", "field": "renews_at", "offset": {"hours": 2}},
        {"type": "wait_until", "field": "last_activity_at"},
        {"type": "wait_until", "field": "created_at", "offset": {"minutes": 0}},
    ]

    assert flow_definition_clean(flow(*steps))["steps"][0]["offset"] == {"days": -1}


def test_wait_until_refuses_a_custom_field_that_is_not_a_date():
    CustomFieldFactory(key="plan", type="choice", choices=["free", "pro"])

    assert_single_error(
        flow({"type": "wait_until", "field": "plan"}), "steps[0].field", "choice field"
    )


def test_wait_for_event_paths_may_be_empty_or_missing():
    step = {"type": "wait_for_event", "event": "purchase", "timeout": {"days": 2}}

    cleaned = flow_definition_clean(flow(step, {**step, "on_event": [], "on_timeout": [WAIT]}))

    assert cleaned["steps"][0]["on_event"] == [] and cleaned["steps"][0]["on_timeout"] == []
    assert cleaned["steps"][1]["on_timeout"][0]["type"] == "wait"


def test_send_email_needs_an_existing_template_and_topic():
    template = EmailTemplateFactory()
    SubscriptionTopicFactory(key="news")
    ok = {"type": "send_email", "template": template.pk, "topic": "news"}

    assert flow_definition_clean(flow(ok))["steps"][0]["topic"] == "news"
    assert_single_error(flow({**ok, "topic": "promos"}), "steps[0].topic", "Unknown subscription")


def test_template_and_topic_references_are_checked_in_one_query_each(django_assert_num_queries):
    template = EmailTemplateFactory()
    SubscriptionTopicFactory(key="news")
    step = {"type": "send_email", "template": template.pk, "topic": "news"}

    with django_assert_num_queries(2):
        flow_definition_clean(flow(*[step] * 20))


def test_split_percents_may_include_zero():
    variants = [{"percent": 0, "steps": [WAIT]}, {"percent": 100, "steps": [EXIT]}]

    cleaned = flow_definition_clean(flow({"type": "split", "variants": variants}))

    assert [v["percent"] for v in cleaned["steps"][0]["variants"]] == [0, 100]


def test_update_field_values_are_normalised_like_contact_writes():
    CustomFieldFactory(key="trial_ends_at", type="date")
    CustomFieldFactory(key="plan", type="choice", choices=["Free", "Pro"])
    CustomFieldFactory(key="seats", type="number")

    cleaned = flow_definition_clean(
        flow(
            {"type": "update_field", "field": "country", "value": "fr"},
            {"type": "update_field", "field": "plan", "value": "pro"},
            {"type": "update_field", "field": "seats", "value": "12"},
            {"type": "update_field", "field": "trial_ends_at", "value": None},
            {"type": "update_field", "field": "first_name", "value": "  Ann "},
        )
    )

    assert [step["value"] for step in cleaned["steps"]] == ["FR", "Pro", 12, None, "Ann"]


def test_update_field_reports_the_custom_field_normalisation_error():
    CustomFieldFactory(key="seats", type="number")

    assert_single_error(
        flow({"type": "update_field", "field": "seats", "value": "many"}),
        "steps[0].value",
        "'many' is not a number",
    )


def test_tag_names_are_trimmed_and_deduplicated():
    cleaned = flow_definition_clean(flow({"type": "tag", "add": [" VIP ", "vip", "beta"]}))

    assert cleaned["steps"][0] == {"id": "tag-1", "type": "tag", "add": ["VIP", "beta"]} | {
        "remove": []
    }


def test_a_webhook_may_post_a_jinja_body():
    step = {
        "type": "webhook",
        "url": "https://hooks.example.com/sales",
        "body": '{"email": "{{ contact.email }}"}',
    }

    assert flow_definition_clean(flow(step))["steps"][0]["body"] == step["body"]


def test_a_webhook_to_a_private_address_is_checked_when_called_not_when_saved():
    step = {"type": "webhook", "url": "http://127.0.0.1:8000/hook"}

    assert flow_definition_clean(flow(step))["steps"][0]["url"] == step["url"]


def test_errors_deep_in_the_tree_carry_their_full_path():
    inner = {"type": "wait_for_event", "event": "buy", "timeout": {"days": 1}}
    inner |= {"on_timeout": [{"type": "wait", "duration": {"days": 0}}]}
    split = {"type": "split", "variants": [{"percent": 50, "steps": [inner]}] * 2}
    branch = {"type": "branch", "condition": {"type": "tag", "op": "has", "tag": "x"}}
    branch |= {"yes": [WAIT], "no": [split]}

    errors = errors_of(flow(WAIT, branch))

    assert set(errors) == {
        "steps[1].no[0].variants[0].steps[0].on_timeout[0].duration.days",
        "steps[1].no[0].variants[1].steps[0].on_timeout[0].duration.days",
    }


# --- property: any valid tree cleans to unique ids, and cleaning is idempotent ---------------

LEAVES = [
    WAIT,
    EXIT,
    {"type": "adjust_score", "by": 3},
    {"type": "tag", "add": ["vip"]},
    {"type": "webhook", "url": "https://hooks.example.com/x"},
]
leaf_steps = st.sampled_from(LEAVES)
step_ids = st.one_of(st.none(), st.sampled_from(["a", "wait-1", "wait-2", "tag-1", "b_2"]))


def _paths(children):
    condition = {"type": "tag", "op": "has", "tag": "x"}
    return st.one_of(
        st.tuples(children, children).map(
            lambda p: {"type": "branch", "condition": condition, "yes": p[0], "no": p[1]}
        ),
        st.tuples(children, children).map(
            lambda p: {
                "type": "wait_for_event",
                "event": "buy",
                "timeout": {"days": 1},
                "on_event": p[0],
                "on_timeout": p[1],
            }
        ),
        st.tuples(children, children).map(
            lambda p: {
                "type": "split",
                "variants": [{"percent": 30, "steps": p[0]}, {"percent": 70, "steps": p[1]}],
            }
        ),
    )


step_lists = st.recursive(
    st.lists(leaf_steps, min_size=1, max_size=3),
    lambda children: st.lists(st.one_of(leaf_steps, _paths(children)), min_size=1, max_size=3),
    max_leaves=25,
)


def _with_ids(steps: list[dict], ids, used: set[str]) -> list[dict]:
    """Steps with some ids given (distinct), exits moved to the end of their list."""
    steps = sorted(steps, key=lambda step: step["type"] == "exit")
    steps = steps[: next((i + 1 for i, s in enumerate(steps) if s["type"] == "exit"), None)]
    result = []
    for step in steps:
        step = dict(step)
        given = ids.draw(step_ids)
        if given is not None and given not in used:
            used.add(given)
            step["id"] = given
        for key in ("yes", "no", "on_event", "on_timeout"):
            if key in step:
                step[key] = _with_ids(step[key], ids, used)
        if "variants" in step:
            step["variants"] = [
                {**v, "steps": _with_ids(v["steps"], ids, used)} for v in step["variants"]
            ]
        result.append(step)
    return result


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=step_lists, ids=st.data())
def test_valid_trees_get_unique_ids_and_clean_idempotently(steps, ids):
    steps = _with_ids(steps, ids, set())

    cleaned = flow_definition_clean(flow(*steps))

    tree = FlowTree(cleaned)
    all_ids = tree.step_ids()
    assert len(all_ids) == len(set(all_ids))
    assert all(STEP_ID_PATTERN.match(step_id) for step_id in all_ids)
    assert flow_definition_clean(cleaned) == cleaned
