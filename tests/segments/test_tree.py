from segments.validation import dependencies, is_time_relative, segment_references

TREE = {
    "all": [
        {"type": "field", "field": "country", "op": "eq", "value": "FR"},
        {"type": "field", "field": "plan", "op": "eq", "value": "pro"},
        {"not": {"type": "segment", "op": "in", "segment": 4}},
        {
            "any": [
                {"type": "segment", "op": "not_in", "segment": 9},
                {"type": "tag", "op": "has", "tag": "VIP"},
            ]
        },
        {"type": "event", "event": "login", "op": "performed"},
        {"type": "email", "op": "not_opened"},
        {"type": "subscription", "op": "subscribed", "topic": "news"},
    ]
}


def test_segment_references_are_found_at_any_depth():
    assert segment_references(TREE) == {4, 9}


def test_dependencies_name_everything_the_tree_reads():
    found = dependencies(TREE)

    assert found.builtin_fields == {"country", "email_status"}
    assert found.custom_fields == {"plan"}
    assert found.events == {"login", "email.opened"}
    assert found.tags == {"vip"}
    assert found.topics == {"news"}
    assert found.segments == {4, 9}


def test_relative_windows_make_a_tree_time_relative():
    assert is_time_relative(
        {"not": {"type": "field", "field": "created_at", "op": "older_than", "value": {"days": 1}}}
    )
    assert is_time_relative(
        {"type": "event", "event": "x", "op": "performed", "within": {"days": 1}}
    )
    assert is_time_relative({"type": "email", "op": "opened", "within": {"hours": 1}})


def test_absolute_dates_and_plain_events_are_not_time_relative():
    assert not is_time_relative(TREE)
    assert not is_time_relative(
        {"type": "field", "field": "created_at", "op": "before", "value": "2026-01-01"}
    )
