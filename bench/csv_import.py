"""CSV import bench (issue 2 item 6, issue 11 item 4): rows/s of a first import (contacts
created) and of a re-import of the same file (contacts matched, nothing changed), in-process,
chunk by chunk as a worker runs it, next to a raw COPY of the same file into a bare table of
text columns (no checks, no indexes: the physical limit of getting the rows in).

    .venv/bin/python bench/csv_import.py [--rows 100000] [--chunk-size 500]

It (re)creates its own database (BENCH_CSV_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/segflow_bench_csv; the name must contain "bench"), migrates
it, imports a generated file with custom fields and tags, and drops the database (unless
--keep). Tasks the import enqueues for segments go to CELERY_BROKER_URL (default Redis DB 15)
and are purged at the end. Not a test: it prints figures.
"""

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/segflow_bench_csv"
PLANS = ["free", "pro", "team"]
COUNTRIES = ["FR", "DE", "US", "GB", "ES"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--chunk-size", type=int, default=None, help="rows per chunk (CONTACT_IMPORT_CHUNK_SIZE)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    return parser.parse_args()


def recreate_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"Refusing to recreate database '{name}': its name must contain 'bench'.")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    parsed = urlparse(url)
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.path.lstrip("/")}" WITH (FORCE)')


def generate_csv(rows: int) -> bytes:
    lines = ["Email,First name,Last name,Country,Plan,Seats,Trial ends,Tags"]
    for n in range(rows):
        lines.append(
            f"person{n}@example.com,First{n},Last{n},{COUNTRIES[n % 5]},{PLANS[n % 3]},"
            f"{n % 50},2026-12-{1 + n % 28:02d}T09:00:00Z,{'vip;beta' if n % 10 == 0 else ''}"
        )
    return ("\n".join(lines) + "\n").encode()


def timed_raw_copy(data: bytes) -> float:
    """Seconds to COPY the file into an index-free table of text columns."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_raw (email text, first_name text, last_name text, "
            "country text, plan text, seats text, trial_ends text, tags text)"
        )
        started = time.perf_counter()
        with cursor.copy("COPY bench_raw FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            copy.write(data)
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_raw")
    return seconds


def timed_import(data: bytes) -> tuple[float, object]:
    from contacts.csv_import import contact_import_create, contact_import_process

    started = time.perf_counter()
    contact_import = contact_import_create(data=data, filename="bench.csv")
    result = contact_import_process(import_id=contact_import.pk)
    return time.perf_counter() - started, result


def main() -> None:
    args = parse_args()
    url = os.environ.get("BENCH_CSV_DATABASE_URL", DEFAULT_DATABASE_URL)
    recreate_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segflow.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from contacts.models import CustomField

    try:
        call_command("migrate", verbosity=0)
        CustomField.objects.create(key="plan", label="Plan", type="choice", choices=PLANS)
        CustomField.objects.create(key="seats", label="Seats", type="number")
        CustomField.objects.create(key="trial_ends_at", label="Trial ends", type="datetime")
        if args.chunk_size:
            settings.CONTACT_IMPORT_CHUNK_SIZE = args.chunk_size
        data = generate_csv(args.rows)
        print(
            f"CSV import bench: {args.rows} rows, {len(data) / 1e6:.1f} MB, 8 columns "
            f"(3 custom fields, tags on 10% of rows), "
            f"chunks of {settings.CONTACT_IMPORT_CHUNK_SIZE}"
        )
        raw = timed_raw_copy(data)
        print(f"  {'raw COPY (the limit)':24} {raw:7.1f} s  {args.rows / raw:8.0f} rows/s")
        for label, expect in (
            ("first import (creates)", "created"),
            ("re-import (unchanged)", "updated"),
        ):
            seconds, result = timed_import(data)
            count = getattr(result, f"{expect}_count")
            assert count == args.rows and result.error_count == 0, vars(result)
            print(
                f"  {label:24} {seconds:7.1f} s  {args.rows / seconds:8.0f} rows/s  "
                f"{raw / seconds:6.1%} of raw COPY"
            )
        print(f"  load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        from django.db import connections

        from segflow.celery import app

        app.control.purge()  # the segments tasks the import enqueued (no worker here)
        connections.close_all()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
