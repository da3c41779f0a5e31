"""segflow.postgresql: statements in Django's placeholder format converted to PostgreSQL's own
($1, $2, ...) for the native cursor, which psycopg sends without parsing them."""

import pytest

from segflow.postgresql import native_cursor, native_named_placeholders, native_placeholders


def test_placeholders_are_numbered_in_order_and_escaped_percents_kept():
    sql = "SELECT %s, x LIKE '100%%' AND y = %s, '%%s' FROM t WHERE z = ANY(%s::bigint[])"

    assert native_placeholders(sql) == (
        "SELECT $1, x LIKE '100%' AND y = $2, '%s' FROM t WHERE z = ANY($3::bigint[])"
    )
    assert native_placeholders(sql) is native_placeholders(sql)  # converted once


@pytest.mark.django_db
@pytest.mark.postgresql
def test_the_native_cursor_runs_a_converted_statement_with_its_parameters():
    sql = native_placeholders("SELECT %s::int + %s::int, %s || '%%'")
    with native_cursor() as cursor:
        cursor.execute(sql, [2, 3, "50"])
        assert cursor.fetchone() == (5, "50%")


def test_named_placeholders_are_numbered_once_per_name_in_order_of_first_use():
    sql = "SELECT %(b)s, x LIKE '100%%' AND y = %(a)s OR z = %(b)s, '%%(a)s'"

    native, names = native_named_placeholders(sql)

    assert native == "SELECT $1, x LIKE '100%' AND y = $2 OR z = $1, '%(a)s'"
    assert names == ("b", "a")
    assert native_named_placeholders(sql) is native_named_placeholders(sql)  # converted once


@pytest.mark.django_db
@pytest.mark.postgresql
def test_the_native_cursor_runs_a_named_statement_with_its_parameters_in_order():
    native, names = native_named_placeholders("SELECT %(x)s::int * %(y)s::int + %(x)s::int")
    params = {"y": 3, "x": 2}
    with native_cursor() as cursor:
        cursor.execute(native, [params[name] for name in names])
        assert cursor.fetchone() == (8,)
