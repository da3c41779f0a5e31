"""PostgreSQL-only helpers shared by the apps' set-based statements."""

from contextlib import contextmanager

import psycopg
from django.db import connection


def binary_cursor():
    """A server-side-binding cursor on Django's connection (same transaction) for `%b`
    parameters: arrays travel in PostgreSQL's binary format instead of being quoted into the
    SQL text in Python (Django's default client-side binding), which costs far more for
    large batches. Wrapped as Django wraps its own cursors, so execute wrappers and query
    capture still see it."""
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(raw)
    return connection.make_cursor(raw)


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
