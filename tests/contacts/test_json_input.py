"""storable_json (event properties) and ParsedJSONParser (request bodies) each take a fast path
that must give what the precise path gives: find_unstorable_value then json.dumps, and Python's
json as REST framework calls it."""

import io
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from segflow.api.parsers import ParsedJSONParser, StorableJSONParser
from segflow.json_input import MAX_DEPTH, find_unstorable_value, storable_json


def _nested_lists(levels: int, inner: object = 1) -> object:
    value = inner
    for _ in range(levels):
        value = [value]
    return value


def _cycle() -> dict:
    value: dict = {}
    value["self"] = value
    return value


def _precisely(value: object) -> tuple[str | None, str | None]:
    bad = find_unstorable_value(value, "properties")
    return (None, bad) if bad is not None else (json.dumps(value), None)


@pytest.mark.parametrize(
    ("value", "bad_path"),
    [
        ({}, None),
        ({"plan": "pro", "amount": 12.5, "n": 3, "ok": True, "none": None}, None),
        ({"a": {"b\x00": 1}}, "properties.a.b\x00"),
        ({"a": [1, "x\x00"]}, "properties.a[1]"),
        ({"s": "\ud800"}, "properties.s"),
        ({"\udfff": 1}, "properties.\udfff"),
        # The two halves of a surrogate pair as separate code points: json.dumps writes them
        # as it writes the emoji, yet UTF-8 refuses them.
        ({"s": "\ud83d\ude00"}, "properties.s"),
        ({"s": "😀", "é": "한국어"}, None),
        ({"s": "\\u0000 and \\ud800, as text"}, None),
        ({"s": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{{{{{"}, None),
        ({"n": float("inf")}, "properties.n"),
        ({"n": float("-inf")}, "properties.n"),
        ({"n": float("nan")}, "properties.n"),
        ({"ok": 1, "list": [0.5, float("nan")]}, "properties.list[1]"),
        ({"n": 10**30, "m": -(10**30)}, None),
        ({"n": 1.7976931348623157e308}, None),
        # Keys that are not strings are written as JSON writes them, and not checked.
        ({float("nan"): 1, 2: "two", None: 0}, None),
        ({"a": _nested_lists(MAX_DEPTH - 1)}, None),
        ({"a": _nested_lists(MAX_DEPTH)}, "properties.a" + "[0]" * MAX_DEPTH),
        ({"a": _nested_lists(MAX_DEPTH - 1, inner=[])}, None),
        ({"a": _nested_lists(MAX_DEPTH, inner=[])}, "properties.a" + "[0]" * MAX_DEPTH),
        ({"a": _nested_lists(5000)}, "properties.a" + "[0]" * MAX_DEPTH),
        ({"loop": _cycle()}, "properties.loop" + ".self" * MAX_DEPTH),
        ({"x": "\x00", "n": float("inf")}, "properties.x"),
    ],
)
def test_storable_json_gives_what_the_walk_then_json_dumps_give(value, bad_path):
    expected = (None, bad_path) if bad_path else (json.dumps(value), None)

    assert storable_json(value, "properties") == expected == _precisely(value)


def test_storable_json_raises_on_a_type_json_lacks_as_json_dumps_does():
    with pytest.raises(TypeError):
        storable_json({"when": object()}, "properties")


def test_storable_json_reports_an_unstorable_value_before_a_type_json_lacks():
    assert storable_json({"a\x00": 1, "when": object()}, "properties") == (None, "properties.a\x00")


_characters = st.characters(codec=None, exclude_categories=())  # NUL and surrogates included
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(_characters, max_size=6)
    | st.sampled_from(["😀", "\ud83d\ude00", "\\u0000", "[[[[[[[[[[[[[[[[[[[[[["]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(_characters, max_size=4), children, max_size=3)
    ),
    max_leaves=40,
)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.text(_characters, max_size=4), _json_values, max_size=4))
def test_storable_json_agrees_with_the_precise_walk_on_random_values(value):
    assert storable_json(value, "properties") == _precisely(value)


def _parse(parser, body: bytes, encoding: str = "utf-8") -> tuple[str, object]:
    """("ok", repr of the data) or ("error", the ParseError's message); repr tells an int from
    the float of the same value."""
    try:
        data = parser.parse(io.BytesIO(body), "application/json", {"encoding": encoding})
    except ParseError as exc:
        return "error", str(exc.detail)
    return "ok", repr(data)


def _parse_with_python_json(body: bytes, encoding: str = "utf-8") -> tuple[str, object]:
    try:
        return _parse(JSONParser(), body, encoding)
    except RecursionError:
        return "error", "JSON parse error - nested too deeply."


BODIES = [
    b'{"events": [{"email": "a@example.com", "name": "x", "properties": {"n": 1.5}}]}',
    b'{"n": 10000000000000000000000000000000}',
    b'{"n": -10000000000000000000000000000000}',
    b'{"n": 18446744073709551615, "m": 18446744073709551616}',
    b'{"n": -9223372036854775808, "m": -9223372036854775809}',
    b'{"n": 1234567890123456789, "m": 123456789012345678}',
    b'{"id": "12345678901234567890123"}',
    b'{"n": 1e400}',
    b'{"n": -1e999}',
    b'{"n": 1.7976931348623157e308, "m": 5e-324, "z": -0.0, "e": 1E2}',
    b'{"n": NaN}',
    b'{"n": Infinity}',
    b'{"n": -Infinity}',
    b'{"s": "\\ud800"}',
    b'{"s": "\\ud83d\\ude00", "t": "\xf0\x9f\x98\x80", "u": "\\u00e9"}',
    b'{"s": "\\u0000"}',
    b'{"a": 1, "b": 2, "a": 3}',
    b'{"a": 1,}',
    b'{"s": "a\tb"}',
    b"\xef\xbb\xbf{}",
    b'{"s": "\xff"}',
    b'{"s": "\xed\xa0\x80"}',
    b"",
    b"[1] [2]",
    b"  [1, 2]\n",
    b'"just a string"',
    b"[" * 500 + b"]" * 500,
    b"[" * 2000 + b"]" * 2000,
    b"[" * 100_000,
]


@pytest.mark.parametrize("body", BODIES)
def test_body_parses_as_with_python_json(body):
    assert _parse(ParsedJSONParser(), body) == _parse_with_python_json(body)


def test_integers_beyond_64_bits_stay_exact_integers():
    parsed = ParsedJSONParser().parse(io.BytesIO(b'{"n": 10000000000000000000000000000001}'))

    assert parsed == {"n": 10**31 + 1}
    assert isinstance(parsed["n"], int)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_literals_are_a_parse_error(literal):
    with pytest.raises(ParseError, match="not JSON compliant"):
        ParsedJSONParser().parse(io.BytesIO(b'{"n": ' + literal + b"}"))


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        # As latin-1 bytes these read as valid UTF-8 too ("é"): the charset must decide.
        ('{"name": "Ã©"}', "latin-1"),
        ('{"name": "Zoë"}', "utf-16"),
    ],
)
def test_body_in_another_charset_is_read_in_that_charset(text, encoding):
    body = text.encode(encoding)

    assert ParsedJSONParser().parse(io.BytesIO(body), None, {"encoding": encoding}) == json.loads(
        text
    )


@pytest.mark.parametrize(
    ("body", "bad_path"),
    [
        (b'{"s": "\\ud800"}', "s"),
        (b'{"s": "\\u0000"}', "s"),
        (b'{"n": 1e400}', "n"),
        (
            b'{"a": ' + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"}",
            "a" + "[0]" * MAX_DEPTH,
        ),
    ],
)
def test_storable_parser_refuses_an_unstorable_value_by_path(body, bad_path):
    with pytest.raises(ParseError, match=f"^Invalid value at '{re.escape(bad_path)}'"):
        StorableJSONParser().parse(io.BytesIO(body))


def test_storable_parser_keeps_integers_beyond_64_bits():
    body = b'{"n": 100000000000000000000000000000, "m": 1}'

    assert StorableJSONParser().parse(io.BytesIO(body)) == {"n": 10**29, "m": 1}
