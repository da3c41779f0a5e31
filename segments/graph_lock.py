"""One lock for every write that changes what segments read: a segment's create, conditions
change or delete, and the delete of a custom field (contacts.field_usage asks segments).

Each of them takes the lock first and validates afterwards, inside the transaction that
writes: two saves that would close a cycle, a save that reads a segment or a field being
deleted, run one after the other, and the second one sees what the first one committed.
"""

from django.db import connection

# Any constant unique among the project's advisory locks ("SEGR" in ASCII).
GRAPH_LOCK_KEY = 0x53454752


def segment_graph_lock() -> None:
    """Held until the current transaction ends (PostgreSQL's transaction-scoped advisory
    lock). A no-op on SQLite, whose write transactions are serialized (IMMEDIATE)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [GRAPH_LOCK_KEY])
