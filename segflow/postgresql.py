"""PostgreSQL-only helpers shared by the apps' set-based statements."""

import itertools
import re
from contextlib import contextmanager

import psycopg
from django.db import connection


def binary_cursor():
    """A server-side-binding cursor on Django's connection (same transaction) for `%b`
    parameters: arrays travel in PostgreSQL's binary format instead of being quoted into the
    SQL text in Python (Django's default client-side binding), which costs far more for
    large batches. Wrapped as Django wraps its own cursors, so execute wrappers and query
    capture still see it."""
    return _wrapped(psycopg.Cursor)


def native_cursor():
    """binary_cursor for statements written with PostgreSQL's own placeholders ($1, $2, ...,
    see native_placeholders): psycopg sends them as they are. With `%s`, psycopg parses the
    statement's placeholders on every execution, and does not cache that for a statement
    over 4 kB (an incremental segment batch's is tens of kB: 3.5 ms a batch)."""
    return _wrapped(psycopg.RawCursor)


def _wrapped(cursor_class):
    """A psycopg cursor of that class on Django's connection, wrapped as Django's own."""
    connection.ensure_connection()
    raw = cursor_class(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(raw)
    return connection.make_cursor(raw)


_PLACEHOLDER = re.compile(r"%(%|s)")
_native_statements: dict[str, str] = {}
_NATIVE_STATEMENTS_MAX = 64


def native_placeholders(sql: str) -> str:
    """`sql` in Django's and psycopg's format (`%s` for each parameter, `%%` for a `%`) with
    $1, $2, ... instead, for native_cursor; converted once per statement text."""
    if sql not in _native_statements:
        if len(_native_statements) >= _NATIVE_STATEMENTS_MAX:
            _native_statements.clear()
        numbers = itertools.count(1)
        _native_statements[sql] = _PLACEHOLDER.sub(
            lambda match: "%" if match.group(1) == "%" else f"${next(numbers)}", sql
        )
    return _native_statements[sql]


_NAMED_PLACEHOLDER = re.compile(r"%(%|\((\w+)\)s)")
_native_named_statements: dict[str, tuple[str, tuple[str, ...]]] = {}


def native_named_placeholders(sql: str) -> tuple[str, tuple[str, ...]]:
    """`sql` written with named placeholders (`%(name)s`, `%%` for a `%`) as native_cursor
    takes it, and the parameter names in the order of their numbers: a name used several
    times is one parameter. Pass `[params[name] for name in names]`. Converted once per
    statement text; psycopg would map and reorder a dict's names on every execution."""
    if sql not in _native_named_statements:
        if len(_native_named_statements) >= _NATIVE_STATEMENTS_MAX:
            _native_named_statements.clear()
        numbers: dict[str, int] = {}

        def number(match: re.Match) -> str:
            if match.group(1) == "%":
                return "%"
            return f"${numbers.setdefault(match.group(2), len(numbers) + 1)}"

        native = _NAMED_PLACEHOLDER.sub(number, sql)
        _native_named_statements[sql] = (native, tuple(numbers))
    return _native_named_statements[sql]


@contextmanager
def prepared_at_once():
    """Statements executed inside are prepared on the server at their first execution and
    reused by later executions inside this block (Django turns psycopg's preparing off for
    its connections), planned once per connection when the transaction also sets
    plan_cache_mode = force_generic_plan. For large statements run often with new
    parameters, whose planning costs more than their execution. Applies to server-side-
    binding cursors (binary_cursor); Django's own cursors never prepare."""
    connection.ensure_connection()
    raw = connection.connection
    threshold = raw.prepare_threshold
    raw.prepare_threshold = 0
    try:
        yield
    finally:
        raw.prepare_threshold = threshold
