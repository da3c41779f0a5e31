"""The set-based statements of a CSV import on PostgreSQL: one statement per kind of write for a
whole batch of rows (create, update, tag), each taking the batch as arrays in one parameter.

Columns travel as parallel arrays (NULL for a blank cell, which leaves the stored value as it
is); custom values as one JSON object per row, merged into `fields` with `||`. The arrays go in
PostgreSQL's binary format through ingest_postgresql's server-side-binding cursor.
"""

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import connection

from contacts.models import Contact
from segflow.postgresql import binary_cursor

# The built-in columns an import writes, in the order of the arrays below.
COLUMNS = ("email", "first_name", "last_name", "country", "timezone", "external_id")

_VALUES = """
    SELECT id, email, first_name, last_name, country, timezone, external_id,
        fields::jsonb AS fields
    FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
        %b::text[], %b::text[])
        AS v(id, email, first_name, last_name, country, timezone, external_id, fields)
"""

# Rows whose values are already stored are left alone (no new row version, no announcement):
# a re-import of an unchanged file writes nothing but its progress. Ids in order: one lock order.
# The contacts are found by `c.id = ANY(ids)` under index_probes() (see there).
_UPDATE_SQL = f"""
UPDATE contacts_contact AS c SET
    email = COALESCE(v.email, c.email),
    first_name = COALESCE(v.first_name, c.first_name),
    last_name = COALESCE(v.last_name, c.last_name),
    country = COALESCE(v.country, c.country),
    timezone = COALESCE(v.timezone, c.timezone),
    external_id = COALESCE(v.external_id, c.external_id),
    fields = c.fields || v.fields,
    updated_at = %s
FROM ({_VALUES} ORDER BY id) AS v
WHERE c.id = v.id AND c.id = ANY(%b::bigint[]) AND (
    (c.email, c.first_name, c.last_name, c.country, c.timezone, c.external_id)
    IS DISTINCT FROM (
        COALESCE(v.email, c.email), COALESCE(v.first_name, c.first_name),
        COALESCE(v.last_name, c.last_name), COALESCE(v.country, c.country),
        COALESCE(v.timezone, c.timezone), COALESCE(v.external_id, c.external_id))
    OR c.fields || v.fields IS DISTINCT FROM c.fields
)
RETURNING c.id
"""

# A contact a concurrent writer created meanwhile conflicts and is not returned: the caller
# sees fewer rows than it sent and redoes the chunk row by row.
_CREATE_SQL = f"""
INSERT INTO contacts_contact (email, first_name, last_name, country, timezone, external_id,
    fields, email_status, lead_score, created_at, updated_at)
SELECT email, first_name, last_name, country, timezone, external_id, fields, %s, %s, %s, %s
FROM ({_VALUES}) AS v
ORDER BY v.id
ON CONFLICT DO NOTHING
RETURNING id, email, external_id
"""

# Tags by name, case-insensitively (the tags exist: tags_get_or_create made them). The join
# probes the unique lower(name) index.
_TAG_SQL = """
INSERT INTO contacts_contacttag (contact_id, tag_id, created_at)
SELECT v.contact_id, t.id, %s
FROM unnest(%b::bigint[], %b::text[]) AS v(contact_id, name)
JOIN contacts_tag AS t ON lower(t.name) = lower(v.name)
ORDER BY v.contact_id, t.id
ON CONFLICT DO NOTHING
RETURNING contact_id
"""

Row = tuple  # (key, email, first_name, last_name, country, timezone, external_id, fields JSON)


@contextmanager
def index_probes() -> Iterator[None]:
    """Find a batch's contacts by index, whatever the statistics say. With random_page_cost's
    default the planner prefers reading every contact to 5,000 primary-key probes up to a
    table of about half a million, and a table an import is filling looks small to it until
    the next ANALYZE: each chunk then read the whole table (20 ms for 20,000 contacts on the
    bench database, against 0.3 ms by index). Call it inside a savepoint or transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan TO DEFAULT")


def commit_without_waiting_for_disk() -> None:
    """Let the current transaction's commit return before its WAL reaches the disk (about a
    tenth of an import's time). Only a crash of the database server within the next fraction of
    a second can lose such a commit, and then wholly: a chunk's contacts go with the progress
    that counts them, so the import resumes before that chunk, as after a worker crash."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")


def _arrays(rows: Sequence[Row]) -> list[list]:
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * 8


def contacts_update(*, rows: Sequence[Row], now: dt.datetime) -> set[int]:
    """Update contacts by id (the rows' first item); the ids of those whose values changed."""
    if not rows:
        return set()
    with binary_cursor() as cursor:
        arrays = _arrays(rows)
        cursor.execute(_UPDATE_SQL, [now, *arrays, arrays[0]])
        return {pk for (pk,) in cursor.fetchall()}


def contacts_insert(
    *, rows: Sequence[Row], now: dt.datetime
) -> list[tuple[int, str | None, str | None]]:
    """Create contacts (the rows' first item only orders them); (id, email, external_id) of
    those created."""
    if not rows:
        return []
    field = Contact._meta.get_field
    with binary_cursor() as cursor:
        cursor.execute(
            _CREATE_SQL,
            [
                str(field("email_status").default),
                int(field("lead_score").default),
                now,
                now,
                *_arrays(rows),
            ],
        )
        return cursor.fetchall()


def contact_tags_insert(
    *, contact_ids: Sequence[int], names: Sequence[str], now: dt.datetime
) -> set[int]:
    """Tag contacts (pairs of contact id and tag name); the ids that gained a tag."""
    if not contact_ids:
        return set()
    with binary_cursor() as cursor:
        cursor.execute(_TAG_SQL, [now, list(contact_ids), list(names)])
        return {pk for (pk,) in cursor.fetchall()}
