"""SQL building blocks of the compiler: typed values out of JSON columns, instants that compare
alike on every backend, and constant true/false conditions. Everything is a bound parameter.

Each expression is NULL when the value is missing, so a leaf can guard with IS NOT NULL and
never be NULL itself (which keeps NOT exact under SQL's three-valued logic).
"""

import json
from collections.abc import Collection
from decimal import Decimal

from django.db import connection
from django.db.models import (
    BooleanField,
    DateField,
    DateTimeField,
    DecimalField,
    Expression,
    F,
    Q,
    TextField,
    Value,
)
from django.db.models.expressions import RawSQL

# Never null, so these stay exact under NOT.
TRUE = Q(pk__isnull=False)
FALSE = Q(pk__isnull=True)

# Up to this many ids go into a statement as a list; past it (a bulk drain's hundred thousand
# contacts), as one array on PostgreSQL.
ID_LIST_MAX = 1_000


def pk_in_q(ids: Collection[int]) -> Q:
    """pk among `ids`."""
    if len(ids) > ID_LIST_MAX and connection.vendor == "postgresql":
        return Q(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [sorted(ids)]))
    return Q(pk__in=ids)


_DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
_DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
_OUTPUT_FIELDS = {
    "string": TextField,
    "text": TextField,
    "scalar": TextField,
    "any": TextField,
    "number": DecimalField,
    "boolean": BooleanField,
    "date": DateField,
    "datetime": DateTimeField,
}
# PostgreSQL: (guard, value) templates over "{col}" (the JSON column) and %s (the key).
_POSTGRESQL = {
    "string": ("jsonb_typeof({col} -> %s) = 'string'", "{col} ->> %s"),
    # Unguarded: any scalar as text. Only for comparisons no number, boolean, object or array
    # text can satisfy (segments.field_conditions.string_only_values), where it saves the
    # type check on every row.
    "text": (None, "{col} ->> %s"),
    "scalar": ("jsonb_typeof({col} -> %s) IN ('string', 'number')", "{col} ->> %s"),
    "any": ("jsonb_typeof({col} -> %s) <> 'null'", "{col} ->> %s"),
    "number": ("jsonb_typeof({col} -> %s) = 'number'", "({col} ->> %s)::numeric"),
    "boolean": ("jsonb_typeof({col} -> %s) = 'boolean'", "({col} ->> %s)::boolean"),
    "date": ("({col} ->> %s) ~ %s", "({col} ->> %s)::date"),
    "datetime": ("({col} ->> %s) ~ %s", "({col} ->> %s)::timestamptz"),
}
_SQLITE = {
    "string": ("json_type({col}, %s) = 'text'", "json_extract({col}, %s)"),
    "text": ("json_type({col}, %s) = 'text'", "json_extract({col}, %s)"),
    "scalar": (
        "json_type({col}, %s) IN ('text', 'integer', 'real')",
        "CAST(json_extract({col}, %s) AS TEXT)",
    ),
    "any": ("json_type({col}, %s) <> 'null'", "json_extract({col}, %s)"),
    "number": ("json_type({col}, %s) IN ('integer', 'real')", "json_extract({col}, %s)"),
    "boolean": ("json_type({col}, %s) IN ('true', 'false')", "json_extract({col}, %s)"),
    "date": ("json_type({col}, %s) = 'text'", "json_extract({col}, %s)"),
    "datetime": ("json_type({col}, %s) = 'text'", "json_extract({col}, %s)"),
}


class JsonValue(Expression):
    """The value under `key` of a JSON column, typed, when it has the JSON type `kind`
    (string, number, boolean, date, datetime; scalar = string or number as text; any = any
    non-null value; text = any scalar as text, see _POSTGRESQL); otherwise NULL. Stored dates
    and datetimes are normalised ISO strings (contacts.field_types), cast to date / timestamptz
    for correct comparisons."""

    def __init__(self, column: str, key: str, kind: str):
        super().__init__(output_field=_OUTPUT_FIELDS[kind]())
        self.column, self.key, self.kind = F(column), key, kind

    def get_source_expressions(self):
        return [self.column]

    def set_source_expressions(self, exprs):
        (self.column,) = exprs

    def as_sql(self, compiler, connection):
        raise NotImplementedError(f"JSON conditions are not supported on {connection.vendor}.")

    def as_postgresql(self, compiler, connection):
        column_sql, column_params = compiler.compile(self.column)
        guard, value = _POSTGRESQL[self.kind]
        if guard is None:
            return f"({value.format(col=column_sql)})", [*column_params, self.key]
        guard, value = guard.format(col=column_sql), value.format(col=column_sql)
        guard_params = [*column_params, self.key]
        if self.kind in ("date", "datetime"):
            guard_params.append(_DATE_PATTERN if self.kind == "date" else _DATETIME_PATTERN)
        return f"(CASE WHEN {guard} THEN {value} END)", [
            *guard_params,
            *column_params,
            self.key,
        ]

    def as_sqlite(self, compiler, connection):
        column_sql, column_params = compiler.compile(self.column)
        guard, value = (part.format(col=column_sql) for part in _SQLITE[self.kind])
        # A quoted JSON path label, so keys with dots or spaces stay one key.
        path = "$." + json.dumps(self.key)
        return f"(CASE WHEN {guard} THEN {value} END)", [
            *column_params,
            path,
            *column_params,
            path,
        ]


class Instant(Expression):
    """A datetime operand. PostgreSQL compares timestamptz as is. SQLite holds datetimes as
    text in two layouts (Django's "YYYY-MM-DD HH:MM:SS[.ffffff]" and our JSON's
    "YYYY-MM-DDTHH:MM:SS[.ffffff]Z", both UTC), so both sides are rewritten to one fixed-width
    layout with microseconds, where text order is time order."""

    def __init__(self, expression):
        super().__init__(output_field=DateTimeField())
        self.expression = expression

    def get_source_expressions(self):
        return [self.expression]

    def set_source_expressions(self, exprs):
        (self.expression,) = exprs

    def as_sql(self, compiler, connection):
        return compiler.compile(self.expression)

    def as_sqlite(self, compiler, connection):
        sql, params = compiler.compile(self.expression)
        fixed = (
            "(substr({x}, 1, 10) || ' ' || substr({x}, 12, 8) || substr("
            "CASE WHEN substr({x}, 20, 1) = '.' THEN rtrim(substr({x}, 20), 'Z') ELSE '.' END"
            " || '000000', 1, 7))"
        )
        return fixed.format(x=sql), [*params] * 4


class NumberParam(Value):
    """A numeric bound: exact `numeric` on PostgreSQL (no float rounding), REAL on SQLite
    (whose sqlite3 adapter would otherwise pass a Decimal as text)."""

    def __init__(self, number: int | float):
        super().__init__(Decimal(str(number)), output_field=DecimalField())

    def as_sql(self, compiler, connection):
        return "%s::numeric", [self.value]

    def as_sqlite(self, compiler, connection, **extra_context):
        return "CAST(%s AS REAL)", [str(self.value)]
