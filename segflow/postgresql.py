"""PostgreSQL-only helpers shared by the apps' set-based statements."""

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
