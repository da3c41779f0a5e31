"""Checks on client JSON that the database would otherwise reject with a 500:
PostgreSQL's jsonb and text refuse NUL characters and non-finite numbers (1e400 parses as
infinity), UTF-8 refuses lone surrogates."""

import json
import math
import re
from json.encoder import c_make_encoder, encode_basestring_ascii

MAX_DEPTH = 20

# In text written by json.dumps (ASCII only), a NUL or a surrogate code point can only appear
# as the escape \u0000 or \ud800-\udfff. A valid pair (an emoji) is escaped the same way as
# two lone halves, so it is only a maybe.
_NUL_OR_SURROGATE_ESCAPE = re.compile(r"\\u(?:0000|d[89a-f])", re.IGNORECASE)


def find_unstorable_string(value: object, path: str = "", depth: int = 0) -> str | None:
    """The JSON path of the first string (or key) that cannot be stored, else None."""
    return _find(value, path, depth, numbers=False)


def find_unstorable_value(value: object, path: str = "", depth: int = 0) -> str | None:
    """The JSON path of the first string, key or number that cannot be stored, else None."""
    return _find(value, path, depth, numbers=True)


def storable_json(value: object, path: str = "") -> tuple[str | None, str | None]:
    """(json.dumps(value), None) if find_unstorable_value(value, path) finds nothing, else
    (None, the path it finds).

    The JSON text is needed anyway, and checking it is cheaper than walking the value: the
    walk runs only when the text shows something that might be wrong."""
    try:
        text = _finite_json(value)
    except (TypeError, ValueError, RecursionError):
        # A non-finite float, a type JSON lacks, a cycle or deep nesting: the walk decides,
        # and json.dumps below raises as it always did when the walk finds nothing.
        text = None
    if text is None or _might_be_unstorable(text):
        bad = find_unstorable_value(value, path)
        if bad is not None:
            return None, bad
        if text is None:
            text = json.dumps(value)
    return text, None


def _might_be_unstorable(json_text: str) -> bool:
    """False only if the value written as `json_text` (by json.dumps, and without NaN or
    infinities) has no NUL, no surrogate and no value nested deeper than MAX_DEPTH."""
    # A value at depth MAX_DEPTH + 1 sits inside MAX_DEPTH + 1 containers, each written with an
    # opening bracket (brackets inside strings only make this overcount).
    if json_text.count("{") + json_text.count("[") > MAX_DEPTH:
        return True
    return _NUL_OR_SURROGATE_ESCAPE.search(json_text) is not None


def _make_finite_json():
    """json.dumps, but raising ValueError on NaN and infinities. json.dumps builds a new C
    encoder on every call; reusing one is much cheaper for small values."""
    if c_make_encoder is None:  # Python without the json C accelerator
        return json.JSONEncoder(allow_nan=False).encode
    encoder = c_make_encoder(
        None,  # no cycle check: a cycle ends in RecursionError, which storable_json catches
        json.JSONEncoder().default,
        encode_basestring_ascii,
        None,  # indent
        ": ",
        ", ",
        False,  # sort_keys
        False,  # skipkeys
        False,  # allow_nan
    )
    return lambda value: "".join(encoder(value, 0))


_finite_json = _make_finite_json()


def _find(value: object, path: str, depth: int, *, numbers: bool) -> str | None:
    if depth > MAX_DEPTH:
        return path
    if isinstance(value, str):
        return path if _unstorable(value) else None
    if isinstance(value, float):
        return path if numbers and not math.isfinite(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            item_path = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _unstorable(key):
                return item_path
            found = _find(item, item_path, depth + 1, numbers=numbers)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find(item, f"{path}[{index}]", depth + 1, numbers=numbers)
            if found is not None:
                return found
    return None


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    if text.isascii():  # O(1) in CPython, and most text is ASCII: no encoding needed
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
