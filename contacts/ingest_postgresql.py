"""The set-based statements of event ingestion on PostgreSQL: each takes whole arrays as one
parameter, so a 1,000-event batch is a handful of round trips and no per-row SQL.

Every writer takes its locks in one order (idempotency keys sorted, contact ids sorted), so
concurrent batches queue behind each other instead of deadlocking.

The arrays travel in PostgreSQL's binary format through a server-side-binding cursor: Django's
default client-side binding quotes every element into the SQL text in Python, which cost
about 25 ms per 1,000-event batch; binary parameters cost about 1 ms (bench/ingest.py).
"""

import datetime as dt
import functools
import json
from collections.abc import Iterable, Sequence

from django.db import connection

from contacts.models import Contact
from contacts.single_event_writes import SingleEventWrite
from segflow.postgresql import (
    binary_cursor,
    native_cursor,
    native_named_placeholders,
    prepared_at_once,
)

# One index probe per identity, whatever the statistics say: with `email = ANY(..) OR
# external_id = ANY(..)` the planner picked a sequential scan of all contacts on the bench
# database (docs/benchmarks.md, the contact lookup). OFFSET 0 keeps each
# LATERAL subquery a parameterised index scan. A contact found both ways comes back twice,
# which the caller's dictionaries absorb.
# {columns} is "c.id, c.email, c.external_id", and for the ingest last_activity_at too, as
# Unix seconds: the rows are read anyway, and a float loads for a fraction of what a
# timestamptz costs in Python (~8 ms per 1,000 rows).
_CONTACTS_BY_IDENTITY_SQL = """
SELECT {columns}
FROM unnest(%b::text[]) AS given(email),
    LATERAL (SELECT id, email, external_id, last_activity_at FROM contacts_contact
             WHERE email = given.email OFFSET 0) AS c
UNION ALL
SELECT {columns}
FROM unnest(%b::text[]) AS given(external_id),
    LATERAL (SELECT id, email, external_id, last_activity_at FROM contacts_contact
             WHERE external_id = given.external_id OFFSET 0) AS c
"""
_IDENTITY_COLUMNS = "c.id, c.email, c.external_id"
_CONTACTS_BY_IDENTITY = {
    False: _CONTACTS_BY_IDENTITY_SQL.format(columns=_IDENTITY_COLUMNS),
    True: _CONTACTS_BY_IDENTITY_SQL.format(
        columns=f"{_IDENTITY_COLUMNS}, extract(epoch FROM c.last_activity_at)::float8"
    ),
}

# New contacts get the model's defaults (contacts_create passes them); a concurrent creator of
# the same email or external_id wins, and its row is not returned.
_CREATE_CONTACTS_SQL = """
INSERT INTO contacts_contact
    (email, external_id, email_status, lead_score, fields, created_at, updated_at)
SELECT email, external_id, %s, %s, %s::jsonb, %s, %s
FROM unnest(%b::text[], %b::text[]) AS new(email, external_id)
ON CONFLICT DO NOTHING
RETURNING id, email, external_id
"""

# Events without an idempotency key cannot conflict: a plain insert, ids back in input order.
_INSERT_KEYLESS_EVENTS_SQL = """
INSERT INTO contacts_event
    (contact_id, name, properties, occurred_at, received_at, source, idempotency_key)
SELECT contact_id, name, properties::jsonb, occurred_at, %s, %s, NULL
FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::timestamptz[])
    WITH ORDINALITY AS batch(contact_id, name, properties, occurred_at, position)
ORDER BY position
RETURNING id
"""

# Keyed events, sorted by key (one lock order for every writer). A key another batch is still
# inserting makes this statement wait for that batch's commit, so it runs after the keyless
# insert: the shorter the rest of the transaction, the shorter everyone's wait.
_INSERT_KEYED_EVENTS_SQL = """
INSERT INTO contacts_event
    (contact_id, name, properties, occurred_at, received_at, source, idempotency_key)
SELECT contact_id, name, properties::jsonb, occurred_at, %s, %s, idempotency_key
FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::timestamptz[], %b::text[])
    AS batch(contact_id, name, properties, occurred_at, idempotency_key)
ORDER BY idempotency_key
ON CONFLICT (source, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING id, idempotency_key
"""

_ADVANCE_LAST_ACTIVITY_SQL = """
UPDATE contacts_contact AS c SET last_activity_at = v.at
FROM unnest(%b::bigint[], %b::timestamptz[]) AS v(id, at)
WHERE c.id = v.id AND (c.last_activity_at IS NULL OR c.last_activity_at < v.at)
"""


def contacts_by_identity(
    *, external_ids: Iterable[str], emails: Iterable[str], last_activity: bool = False
) -> list[tuple]:
    """(id, email, external_id) of the contacts having one of these emails or external ids,
    with their last_activity_at in Unix seconds (or None) as a fourth value when
    `last_activity`."""
    with binary_cursor() as cursor:
        cursor.execute(_CONTACTS_BY_IDENTITY[last_activity], [list(emails), list(external_ids)])
        return cursor.fetchall()


def contacts_create(
    *, identities: Sequence[tuple[str | None, str | None]], now: dt.datetime
) -> list[tuple[int, str | None, str | None]]:
    """Create contacts from (email, external_id) pairs, in the order given; (id, email,
    external_id) of those created (not of those a concurrent writer created first)."""
    field = Contact._meta.get_field
    with binary_cursor() as cursor:
        cursor.execute(
            _CREATE_CONTACTS_SQL,
            [
                str(field("email_status").default),
                int(field("lead_score").default),
                json.dumps(field("fields").get_default()),
                now,
                now,
                [email for email, _ in identities],
                [external_id for _, external_id in identities],
            ],
        )
        return cursor.fetchall()


def constraints_check_now() -> None:
    """Check the events' contact foreign keys as rows go in, not at commit (Django declares
    them deferred): the commit then follows the last_activity_at update at once, and other
    batches waiting on those contact rows wait less."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def events_insert_keyless(
    *,
    contact_ids: Sequence[int],
    names: Sequence[str],
    properties_json: Sequence[str],
    occurred_at: Sequence[dt.datetime],
    source: str,
    received_at: dt.datetime,
) -> list[int]:
    """Insert events that have no idempotency key; their ids, in input order."""
    rows = _insert(
        _INSERT_KEYLESS_EVENTS_SQL,
        received_at,
        source,
        [contact_ids, names, properties_json, occurred_at],
    )
    return [pk for (pk,) in rows]


def events_insert_keyed(
    *,
    contact_ids: Sequence[int],
    names: Sequence[str],
    properties_json: Sequence[str],
    occurred_at: Sequence[dt.datetime],
    idempotency_keys: Sequence[str],
    source: str,
    received_at: dt.datetime,
) -> dict[str, int]:
    """Insert the events whose key is new; {key: id} of those inserted."""
    rows = _insert(
        _INSERT_KEYED_EVENTS_SQL,
        received_at,
        source,
        [contact_ids, names, properties_json, occurred_at, idempotency_keys],
    )
    return {key: pk for pk, key in rows}


def _insert(sql: str, received_at: dt.datetime, source: str, columns: list[Sequence]) -> list:
    with binary_cursor() as cursor:
        cursor.execute(sql, [received_at, source, *(list(column) for column in columns)])
        return cursor.fetchall()


def contacts_advance_last_activity(*, latest: dict[int, dt.datetime]) -> None:
    """Move last_activity_at forward (never back) for these contacts, in id order."""
    ids = sorted(latest)
    with binary_cursor() as cursor:
        cursor.execute(_ADVANCE_LAST_ACTIVITY_SQL, [ids, [latest[pk] for pk in ids]])


# One event in one statement (its own transaction under autocommit): find the contact by its
# one identity, or create it when `create` (a concurrent creator wins, as in contacts_create),
# insert the event unless its key was seen, advance last_activity_at. The statement's UPDATE
# cannot see a contact its own INSERT made, so a created contact gets last_activity_at in
# that INSERT. No contact id comes back when the contact is unknown and not created (or was
# created meanwhile by another transaction), and nothing is written: the caller then takes
# the general path, which creates, links and re-reads contacts. `outcome` is the stored
# event's row, which the contacts_changed receivers' parts ({writes}: data-modifying CTEs,
# contacts.single_event_writes) read, so their rows commit with the event.
_INGEST_ONE_SQL = """
WITH found AS (
    SELECT id, last_activity_at FROM contacts_contact WHERE {identity_column} = %(identity)s
), created AS (
    INSERT INTO contacts_contact
        (email, external_id, email_status, lead_score, fields, created_at, updated_at,
         last_activity_at)
    SELECT %(email)s, %(external_id)s, %(email_status)s, %(lead_score)s, %(fields)s::jsonb,
        %(received_at)s, %(received_at)s,
        CASE WHEN %(is_activity)s THEN %(occurred_at)s::timestamptz END
    WHERE %(create)s AND NOT EXISTS (SELECT FROM found)
    ON CONFLICT DO NOTHING
    RETURNING id
), target AS (
    SELECT id FROM found UNION ALL SELECT id FROM created
), inserted AS (
    INSERT INTO contacts_event
        (contact_id, name, properties, occurred_at, received_at, source, idempotency_key)
    SELECT id, %(name)s, %(properties)s::jsonb, %(occurred_at)s, %(received_at)s, %(source)s,
        %(idempotency_key)s
    FROM target
    ON CONFLICT (source, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, contact_id
), advanced AS (
    UPDATE contacts_contact AS c SET last_activity_at = %(occurred_at)s
    FROM inserted
    WHERE %(is_activity)s AND c.id = inserted.contact_id
        AND (c.last_activity_at IS NULL OR c.last_activity_at < %(occurred_at)s)
    RETURNING c.id
), outcome AS (
    SELECT inserted.id AS event_id, inserted.contact_id,
        EXISTS (SELECT FROM advanced) OR (%(is_activity)s AND EXISTS (SELECT FROM created))
            AS advanced,
        (SELECT last_activity_at FROM found) AS previous_activity
    FROM inserted
){writes}
SELECT (SELECT id FROM target), (SELECT event_id FROM outcome),
    coalesce((SELECT advanced FROM outcome), false), (SELECT last_activity_at FROM found)
"""
_INGEST_ONE_MAX = 64  # statements by (identity column, receivers' parts), kept
_ingest_one_sql: dict[tuple[str, tuple[str, ...]], str] = {}


def _ingest_one_statement(identity_column: str, writes: Sequence[SingleEventWrite]) -> str:
    """The statement text, the receivers' parts as CTEs: the same text for the same parts,
    so the server's plan cache and psycopg's prepared statements see few distinct ones."""
    key = (identity_column, tuple(write.sql for write in writes))
    if key not in _ingest_one_sql:
        if len(_ingest_one_sql) >= _INGEST_ONE_MAX:
            _ingest_one_sql.clear()
        parts = "".join(f", write_{n} AS ({sql})" for n, sql in enumerate(key[1]) if sql)
        _ingest_one_sql[key] = _INGEST_ONE_SQL.format(identity_column=identity_column, writes=parts)
    return _ingest_one_sql[key]


def event_ingest_one(
    *,
    identity_column: str,
    identity: str,
    create: bool,
    name: str,
    properties_json: str,
    occurred_at: dt.datetime,
    idempotency_key: str | None,
    is_activity: bool,
    source: str,
    received_at: dt.datetime,
    writes: Sequence[SingleEventWrite] = (),
) -> tuple[int | None, int | None, bool, dt.datetime | None]:
    """(contact id, or None when unknown and not created; new event id, or None when the key
    was seen; whether last_activity_at moved forward; its value before, None for a created
    or never active contact). `create` makes a contact identified by `identity` alone when
    none has it. `writes` are the contacts_changed receivers' rows for a stored event
    (contacts.single_event_writes), written by the same statement."""
    params = _created_contact_defaults().copy()
    for write in writes:
        if write.params:
            params.update(write.params)
    params.update(
        identity=identity,
        create=create,
        email=identity if identity_column == "email" else None,
        external_id=identity if identity_column == "external_id" else None,
        name=name,
        properties=properties_json,
        occurred_at=occurred_at,
        received_at=received_at,
        source=source,
        idempotency_key=idempotency_key,
        is_activity=is_activity,
    )
    # Prepared (server-side binding): the statement is parsed and planned once per connection,
    # which cost the server more than running it. Sent with PostgreSQL's own placeholders, so
    # psycopg does not map some twenty names to positions on every request.
    sql, names = native_named_placeholders(_ingest_one_statement(identity_column, writes))
    with native_cursor() as cursor, prepared_at_once():
        cursor.execute(sql, [params[name] for name in names])
        return cursor.fetchone()


@functools.cache
def _created_contact_defaults() -> dict:
    """The model's defaults of a contact the statement creates, read once per process."""
    field = Contact._meta.get_field
    return {
        "email_status": str(field("email_status").default),
        "lead_score": int(field("lead_score").default),
        "fields": json.dumps(field("fields").get_default()),
    }
