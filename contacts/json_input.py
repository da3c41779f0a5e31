"""Checks on client JSON that the database would otherwise reject with a 500:
PostgreSQL's jsonb and text refuse NUL characters and non-finite numbers (1e400 parses as
infinity), UTF-8 refuses lone surrogates."""

import math

MAX_DEPTH = 20


def find_unstorable_string(value: object, path: str = "", depth: int = 0) -> str | None:
    """The JSON path of the first string (or key) that cannot be stored, else None."""
    return _find(value, path, depth, numbers=False)


def find_unstorable_value(value: object, path: str = "", depth: int = 0) -> str | None:
    """The JSON path of the first string, key or number that cannot be stored, else None."""
    return _find(value, path, depth, numbers=True)


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
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
