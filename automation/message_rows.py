"""Message rows written in bulk: ids reserved before the insert (so a message's id can sign
its links while it renders), one INSERT for a batch that lets the idempotency key decide
which transaction wins, and delivery outcomes in one UPDATE each.
"""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection as db
from django.db.models import Case, Q, Value, When

from automation.models import Message, MessageStatus

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
    size = INSERT_ROWS_MAX
    if db.features.max_query_params:
        size = min(size, db.features.max_query_params // len(fields))
    won: dict[str, int] = {}
    with db.cursor() as cursor:
        for start in range(0, len(messages), size):
            batch = messages[start : start + size]
            if db.vendor == "postgresql":  # the rows as one JSON parameter: a short statement
                cursor.execute(_insert_sql(fields, None), [_rows_json(fields, batch)])
            else:
                cursor.execute(
                    _insert_sql(fields, len(batch)),
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


def _insert_sql(fields: list, rows: int | None) -> str:
    """The insert of `rows` rows of placeholders, or (rows=None, PostgreSQL) of the rows of
    one JSON array parameter, each column read with its own type."""
    qn = db.ops.quote_name
    columns = ", ".join(qn(field.column) for field in fields)
    if rows is None:
        types = ", ".join(f"{qn(field.column)} {field.db_type(db)}" for field in fields)
        source = f"SELECT {columns} FROM jsonb_to_recordset(%s::jsonb) AS rows({types})"
    else:
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        source = f"VALUES {', '.join([row] * rows)}"
    key, pk = qn("idempotency_key"), qn(Message._meta.pk.column)
    return (
        f"INSERT INTO {qn(Message._meta.db_table)} ({columns}) {source}"
        f" ON CONFLICT ({key}) DO NOTHING RETURNING {pk}, {key}"
    )


def _rows_json(fields: list, messages: list[Message]) -> str:
    """The messages as a JSON array of objects by column (dates as ISO 8601 with their
    offset; JSON fields as they are)."""
    return json.dumps(
        [
            {field.column: field.value_from_object(message) for field in fields}
            for message in messages
        ],
        cls=DjangoJSONEncoder,
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
