"""Message rows written in bulk: ids reserved before the insert (so a message's id can sign
its links while it renders), one INSERT for a batch that lets the idempotency key decide
which transaction wins, and delivery outcomes in one UPDATE each.
"""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection as db
from django.db.models import Case, Q, Value, When

from automation.models import Message, MessageStatus
from segflow.postgresql import binary_cursor

INSERT_ROWS_MAX = 1000


def message_ids_reserve(messages: list[Message]) -> bool:
    """Give the messages their ids from the table's sequence (PostgreSQL; one query), so
    they render (their id signs the links) before the one insert. False elsewhere."""
    if db.vendor != "postgresql":
        return False
    table, column = Message._meta.db_table, Message._meta.pk.column
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, column, len(messages)],
        )
        for message, (pk,) in zip(messages, cursor.fetchall(), strict=True):
            message.pk = pk
    return True


def messages_insert(messages: list[Message]) -> dict[str, Message]:
    """Insert the messages, skipping any whose key another transaction wrote meanwhile
    (INSERT ... ON CONFLICT DO NOTHING RETURNING, PostgreSQL and SQLite alike: the rows
    returned are the ones that won); the losers' keys map to the rows in the database,
    unchanged (a replay)."""
    with_pk = messages[0].pk is not None  # ids reserved beforehand
    fields = [f for f in Message._meta.concrete_fields if with_pk or not f.primary_key]
    won: dict[str, int] = {}
    if db.vendor == "postgresql":
        with binary_cursor() as cursor:
            for start in range(0, len(messages), INSERT_ROWS_MAX):
                batch = messages[start : start + INSERT_ROWS_MAX]
                cursor.execute(_insert_arrays_sql(fields), _columns(fields, batch))
                won.update((key, pk) for pk, key in cursor.fetchall())
    else:
        size = min(INSERT_ROWS_MAX, (db.features.max_query_params or 10**6) // len(fields))
        with db.cursor() as cursor:
            for start in range(0, len(messages), size):
                batch = messages[start : start + size]
                cursor.execute(
                    _insert_values_sql(fields, len(batch)),
                    [
                        field.get_db_prep_save(field.pre_save(message, True), db)
                        for message in batch
                        for field in fields
                    ],
                )
                won.update((key, pk) for pk, key in cursor.fetchall())
    result, lost = {}, []
    for message in messages:
        key = message.idempotency_key
        if key in won:
            message.pk = won[key]
            message._state.adding, message._state.db = False, db.alias
            result[key] = message
        else:
            lost.append(key)
    if lost:
        result.update(
            (m.idempotency_key, m) for m in Message.objects.filter(idempotency_key__in=lost)
        )
    return result


def _on_conflict() -> str:
    qn = db.ops.quote_name
    key, pk = qn("idempotency_key"), qn(Message._meta.pk.column)
    return f" ON CONFLICT ({key}) DO NOTHING RETURNING {pk}, {key}"


# The array type each column travels as (JSON as text, cast back in the SELECT).
_ARRAY_TYPES = {
    "BigAutoField": "bigint",
    "ForeignKey": "bigint",
    "CharField": "text",
    "TextField": "text",
    "BooleanField": "boolean",
    "DateTimeField": "timestamptz",
    "JSONField": "text",
}


def _insert_arrays_sql(fields: list) -> str:
    """PostgreSQL: the rows as one array per column (binary parameters), unnested."""
    qn = db.ops.quote_name
    columns = ", ".join(qn(field.column) for field in fields)
    arrays = ", ".join(f"%b::{_ARRAY_TYPES[f.get_internal_type()]}[]" for f in fields)
    values = ", ".join(
        f"{qn(f.column)}::jsonb" if f.get_internal_type() == "JSONField" else qn(f.column)
        for f in fields
    )
    return (
        f"INSERT INTO {qn(Message._meta.db_table)} ({columns}) SELECT {values}"
        f" FROM unnest({arrays}) AS rows({columns})" + _on_conflict()
    )


def _columns(fields: list, messages: list[Message]) -> list[list]:
    columns = []
    for field in fields:
        values = [field.value_from_object(message) for message in messages]
        if field.get_internal_type() == "JSONField":
            values = [json.dumps(value, cls=DjangoJSONEncoder) for value in values]
        columns.append(values)
    return columns


def _insert_values_sql(fields: list, rows: int) -> str:
    """Elsewhere (SQLite): `rows` rows of placeholders."""
    qn = db.ops.quote_name
    columns = ", ".join(qn(field.column) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return (
        f"INSERT INTO {qn(Message._meta.db_table)} ({columns}) VALUES {', '.join([row] * rows)}"
        + _on_conflict()
    )


def _by_pk(values: dict[int, str], default: str):
    """One value per row in one statement (a CASE), or the value when they are all alike."""
    distinct = set(values.values())
    if len(distinct) == 1:
        return next(iter(distinct))
    return Case(*(When(pk=pk, then=Value(v)) for pk, v in values.items()), default=Value(default))


def messages_handoff_claim(messages: list[Message]) -> list[Message]:
    """Mark these messages "sending" where they are still "queued", just before their hand-off
    to the backend; returns those this call moved (in the given order): a message another
    worker took meanwhile, or one settled already, is not this caller's to send."""
    if not messages:
        return []
    table = db.ops.quote_name(Message._meta.db_table)
    placeholders = ", ".join(["%s"] * len(messages))
    with db.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s WHERE status = %s AND id IN ({placeholders}) "
            "RETURNING id",
            [MessageStatus.SENDING, MessageStatus.QUEUED, *(m.pk for m in messages)],
        )
        claimed = {pk for (pk,) in cursor.fetchall()}
    for message in messages:
        if message.pk in claimed:
            message.status = MessageStatus.SENDING
    return [m for m in messages if m.pk in claimed]


def messages_record_sent(sent: list[tuple[Message, str]], *, now) -> None:
    # "unknown" too: if the lease ran out while we were sending, the truth is "sent".
    provider_ids = {message.pk: provider_id for message, provider_id in sent}
    Message.objects.filter(
        Q(status=MessageStatus.SENDING) | Q(status=MessageStatus.UNKNOWN), pk__in=provider_ids
    ).update(
        status=MessageStatus.SENT,
        sent_at=now,
        provider_message_id=_by_pk(provider_ids, ""),
        reason="",
    )
    for message, provider_id in sent:
        message.status, message.sent_at, message.provider_message_id, message.reason = (
            MessageStatus.SENT,
            now,
            provider_id,
            "",
        )


def messages_record_failed(failed: list[tuple[Message, str]]) -> None:
    reasons = {message.pk: reason for message, reason in failed}
    Message.objects.filter(pk__in=reasons, status=MessageStatus.SENDING).update(
        status=MessageStatus.FAILED, reason=_by_pk(reasons, "")
    )
    for message, reason in failed:
        message.status, message.reason = MessageStatus.FAILED, reason
