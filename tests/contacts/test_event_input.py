import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contacts.builtins import normalize_email, normalize_email_checked
from contacts.event_input import MAX_PROPERTIES_BYTES, event_parse

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def test_an_invalid_email_is_rejected_every_time_it_is_sent():
    # event_parse remembers emails it has checked; that memory must keep errors too.
    first = event_parse({"email": "not-an-email", "name": "x"}, now=NOW)
    second = event_parse({"email": "not-an-email", "name": "x"}, now=NOW)

    assert first[0] is None and second[0] is None
    assert first[1]["email"] == second[1]["email"] == ["Enter a valid email address."]


def test_an_email_is_normalised_when_remembered():
    parsed = [event_parse({"email": " Ann@Example.COM ", "name": "x"}, now=NOW) for _ in "ab"]

    assert [p[0].email for p in parsed] == ["ann@example.com", "ann@example.com"]


def _outcome(normalize, value: object) -> tuple[str, str]:
    try:
        return "ok", normalize(value)
    except ValueError as exc:
        return "error", str(exc)


INVALID = "Enter a valid email address."


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ann@example.com", ("ok", "ann@example.com")),
        ("Ann.Lee+news@Mail.Example.CO.UK", ("ok", "ann.lee+news@mail.example.co.uk")),
        (" Ann@Example.COM\n", ("ok", "ann@example.com")),
        ("  ann@example.com", ("ok", "ann@example.com")),
        ("ann lee@example.com", ("error", INVALID)),
        ("ANN@BÜCHER.DE", ("ok", "ann@bücher.de")),
        ("ann@xn--bcher-kva.de", ("ok", "ann@xn--bcher-kva.de")),
        ("ann@example.xn--p1ai", ("ok", "ann@example.xn--p1ai")),
        ("\u212aate@example.com", ("ok", "kate@example.com")),  # Kelvin sign
        ('"ann.lee"@example.com', ("ok", '"ann.lee"@example.com')),
        ('"ann@lee"@example.com', ("ok", '"ann@lee"@example.com')),
        ('"ann lee"@example.com', ("error", INVALID)),
        ("o'brien@example.com", ("ok", "o'brien@example.com")),
        ("ann@localhost", ("ok", "ann@localhost")),
        ("ann@[127.0.0.1]", ("ok", "ann@[127.0.0.1]")),
        ("ann@ex--ample.com", ("ok", "ann@ex--ample.com")),
        ("ann@" + "a" * 63 + ".com", ("ok", "ann@" + "a" * 63 + ".com")),
        ("ann@" + "a" * 64 + ".com", ("error", INVALID)),
        ("ann@example", ("error", INVALID)),
        ("ann@example.c", ("error", INVALID)),
        ("ann@example.co1", ("error", INVALID)),
        ("ann@example.com.", ("error", INVALID)),
        ("ann@-example.com", ("error", INVALID)),
        ("ann@example-.com", ("error", INVALID)),
        ("ann@exa_mple.com", ("error", INVALID)),
        ("ann..lee@example.com", ("error", INVALID)),
        (".ann@example.com", ("error", INVALID)),
        ("ann@@example.com", ("error", INVALID)),
        ("ann@exa mple.com", ("error", INVALID)),
        ("", ("error", INVALID)),
        ("a" * 242 + "@example.com", ("ok", "a" * 242 + "@example.com")),
        ("a" * 243 + "@example.com", ("error", "Must be at most 254 characters.")),
        (
            "ann\x00@example.com",
            ("error", "Must not contain NUL characters or invalid code points."),
        ),
        ("ann@\ud800.com", ("error", "Must not contain NUL characters or invalid code points.")),
        (42, ("error", "Must be a string.")),
    ],
)
def test_email_is_normalised_as_djangos_validator_decides(value, expected):
    assert _outcome(normalize_email, value) == expected
    assert _outcome(normalize_email, value) == _outcome(normalize_email_checked, value)


_email_parts = st.text(alphabet="aZ09._+-'\"@ éÜ\u212a\u017f\x00", max_size=8)
_emails = st.builds(
    lambda local, labels, tld, before, after: f"{before}{local}@{'.'.join(labels)}.{tld}{after}",
    _email_parts,
    st.lists(st.text(alphabet="aZ09-_ü", min_size=0, max_size=64), min_size=1, max_size=3),
    st.text(alphabet="aZ0-", max_size=4),
    st.sampled_from(["", " ", "\n"]),
    st.sampled_from(["", " ", "\n"]),
)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(_emails, _email_parts))
def test_email_normalisation_agrees_with_djangos_validator_on_random_addresses(value):
    assert _outcome(normalize_email, value) == _outcome(normalize_email_checked, value)


def test_a_property_that_cannot_be_stored_is_reported_by_path():
    event, errors = event_parse(
        {"email": "a@example.com", "name": "x", "properties": {"ok": "😀", "bad": ["\ud800"]}},
        now=NOW,
    )

    assert event is None
    assert list(errors) == ["properties.bad[0]"]


def test_properties_are_kept_as_json_dumps_writes_them():
    properties = {"emoji": "😀", "big": 10**30, "nested": {"list": [1.5, None, True]}}

    event, errors = event_parse(
        {"email": "a@example.com", "name": "x", "properties": properties}, now=NOW
    )

    assert errors == {}
    assert event.properties == properties
    assert event.properties_as_json() == json.dumps(properties)


def test_properties_over_the_size_limit_are_refused():
    properties = {"s": "é" * (MAX_PROPERTIES_BYTES // 6)}  # each written as \u00e9

    _, errors = event_parse(
        {"email": "a@example.com", "name": "x", "properties": properties}, now=NOW
    )

    assert errors == {"properties": [f"Must be at most {MAX_PROPERTIES_BYTES} bytes as JSON."]}
