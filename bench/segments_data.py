"""Data of the segment bench: contacts and events generated with COPY into a database of its
own, reused across runs, and the "realistic change" applied between two evaluations.

Events are written in time order (bucketed by day through temporary files), as an append-only
events table holds them, so a contact's events are scattered over the heap as in production
rather than clustered by contact. Everything is seeded and relative to an anchor time stored
with the data, so every run over one dataset evaluates the same predicate on the same rows.

A marker table records what was generated; when it matches the requested sizes, seed and
generator version the data is reused and only the previous run's leftovers are removed.
"""

import datetime as dt
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import psycopg

# 2: last_activity_at set from the generated events (it was NULL for every contact, so
# every last_activity_at condition of the mixed segments matched no one).
GENERATOR_VERSION = 2
SEED = 20261124
MARKER = "bench_segments_dataset"
CHANGED = "bench_segments_changed_fields"
EVENT_SOURCE = "segbench"
HISTORY_DAYS = 365
COUNTRIES = ["FR"] * 12 + ["DE"] * 12 + ["US"] * 30 + ["GB"] * 12 + ["ES", "IT"] * 8
COUNTRIES += ["NL"] * 6 + [None] * 4 + ["PL"] * 4 + ["BE"] * 4
PLANS = ["free"] * 40 + ["starter"] * 20 + ["pro"] * 30 + ["enterprise"] * 10
EVENT_NAMES = (
    ["page.viewed"] * 35
    + ["login"] * 25
    + ["email.opened"] * 12
    + ["email.sent"] * 12
    + ["email.clicked"] * 4
    + ["form.submitted"] * 4
    + ["purchase"] * 5
    + ["billing.payment_succeeded"] * 3
)
PAGES = ["/", "/pricing", "/docs", "/blog/launch", "/signup", "/account", "/features"]
CUSTOM_FIELDS = [
    ("plan", "Plan", "choice", ["free", "starter", "pro", "enterprise"]),
    ("company_size", "Company size", "number", []),
]


@dataclass(frozen=True, slots=True)
class Dataset:
    url: str
    contacts: int
    events: int
    anchor: dt.datetime  # "now" of the generated data
    max_contact_id: int
    max_event_id: int
    reused: bool
    generation_seconds: float


def database_name(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def _admin_url(url: str) -> str:
    return urlparse(url)._replace(path="/postgres").geturl()


def _marker(url: str) -> tuple | None:
    try:
        with psycopg.connect(url) as conn:
            return conn.execute(
                f"SELECT contacts, events, seed, generator, anchor, max_contact_id, max_event_id "
                f"FROM {MARKER}"
            ).fetchone()
    except (psycopg.OperationalError, psycopg.errors.UndefinedTable):
        return None


def database_recreate(url: str) -> None:
    name = database_name(url)
    if "bench" not in name:
        raise SystemExit(f"Refusing to recreate database {name!r}: its name must contain 'bench'.")
    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def dataset_ensure(*, url: str, contacts: int, events: int, migrate) -> Dataset:
    """The dataset at `url`, generated unless the marker says it is there already.

    `migrate(url)` applies the project's migrations (also on reuse: a new index migration
    is then built on the existing rows).
    """
    marker = _marker(url)
    if marker is not None and marker[:4] == (contacts, events, SEED, GENERATOR_VERSION):
        migrate(url)
        run_leftovers_remove(url=url, max_contact_id=marker[5], max_event_id=marker[6])
        # What autovacuum would do in time: without it, the pages the last run touched send
        # index-only scans to the heap, and whichever query runs first pays for it.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE contacts_contact, contacts_event")
        return Dataset(url, contacts, events, marker[4], marker[5], marker[6], True, 0.0)
    started = time.monotonic()
    database_recreate(url)
    migrate(url)
    anchor = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")
        _custom_fields_create(conn)
        _contacts_copy(conn, count=contacts, anchor=anchor)
        _events_copy(conn, contacts=contacts, events=events, anchor=anchor)
        _last_activity_set(conn)
        max_contact_id = conn.execute("SELECT coalesce(max(id), 0) FROM contacts_contact")
        max_contact_id = max_contact_id.fetchone()[0]
        max_event_id = conn.execute("SELECT coalesce(max(id), 0) FROM contacts_event")
        max_event_id = max_event_id.fetchone()[0]
        conn.execute(
            f"CREATE TABLE {MARKER} (contacts int, events bigint, seed int, generator int, "
            f"anchor timestamptz, max_contact_id bigint, max_event_id bigint)"
        )
        conn.execute(
            f"INSERT INTO {MARKER} VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [contacts, events, SEED, GENERATOR_VERSION, anchor, max_contact_id, max_event_id],
        )
        conn.execute(f"CREATE TABLE {CHANGED} (contact_id bigint PRIMARY KEY, fields jsonb)")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM FULL contacts_contact")  # _last_activity_set rewrote every row
        conn.execute("VACUUM ANALYZE")
    seconds = time.monotonic() - started
    return Dataset(url, contacts, events, anchor, max_contact_id, max_event_id, False, seconds)


def memberships_analyze() -> None:
    """What autovacuum does in steady state after an evaluation wrote millions of memberships
    and transitions (it may be off on the bench's server, e.g. CI machines): without
    statistics the planner takes those tables for empty."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE segments_segmentmembership")
        cursor.execute("VACUUM ANALYZE segments_segmenttransition")


def run_leftovers_remove(*, url: str, max_contact_id: int, max_event_id: int) -> None:
    """Undo what a previous run added: segments and their rows, its events and contacts, its
    field changes, queued contact changes."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "TRUNCATE segments_segment, segments_segmentmembership, segments_segmenttransition, "
            "segments_segmentdailystats, segments_pendingcontactchange, "
            "segments_segment_depends_on"
        )
        change_fields_revert(conn)
        conn.execute("DELETE FROM contacts_event WHERE id > %s", [max_event_id])
        conn.execute("DELETE FROM contacts_contact WHERE id > %s", [max_contact_id])
        conn.commit()


def _custom_fields_create(conn: psycopg.Connection) -> None:
    for key, label, kind, choices in CUSTOM_FIELDS:
        conn.execute(
            "INSERT INTO contacts_customfield (key, label, type, choices, source, description, "
            "created_at, updated_at) VALUES (%s, %s, %s, %s, 'manual', '', now(), now())",
            [key, label, kind, json.dumps(choices)],
        )


def _contacts_copy(conn: psycopg.Connection, *, count: int, anchor: dt.datetime) -> None:
    rng = random.Random(SEED)
    columns = (
        "id, email, first_name, last_name, country, timezone, email_status, lead_score, "
        "created_at, updated_at, fields"
    )
    with conn.cursor().copy(f"COPY contacts_contact ({columns}) FROM STDIN") as copy:
        for pk in range(1, count + 1):
            fields: dict = {"company_size": rng.randrange(1, 5000)}
            if rng.random() < 0.9:  # a tenth have no plan yet
                fields["plan"] = rng.choice(PLANS)
            created = anchor - dt.timedelta(minutes=rng.randrange(HISTORY_DAYS * 2 * 1440))
            copy.write_row(
                (
                    pk,
                    f"person{pk}@segbench.example",
                    "Ada",
                    "Lovelace",
                    rng.choice(COUNTRIES),
                    "Europe/Paris",
                    "active" if rng.random() < 0.95 else "unsubscribed",
                    rng.randrange(100),
                    created,
                    created,
                    json.dumps(fields),
                )
            )
    conn.execute("SELECT setval('contacts_contact_id_seq', %s)", [count])


def _last_activity_set(conn: psycopg.Connection) -> None:
    """last_activity_at = the contact's latest event, as ingest keeps it."""
    conn.execute(
        "UPDATE contacts_contact AS c SET last_activity_at = latest.at "
        "FROM (SELECT contact_id, max(occurred_at) AS at FROM contacts_event "
        "GROUP BY contact_id) AS latest WHERE c.id = latest.contact_id"
    )


def _event_counts(rng: random.Random, contacts: int, events: int) -> list[int]:
    """Events per contact: heavy-tailed (a few very active contacts, many quiet ones),
    summing to exactly `events`."""
    weights = [rng.expovariate(1.0) ** 2 for _ in range(contacts)]
    scale = events / sum(weights)
    counts = [int(w * scale) for w in weights]
    for index in rng.sample(range(contacts), events - sum(counts)):
        counts[index] += 1
    return counts


def _properties_pool(rng: random.Random) -> dict[str, list[str]]:
    pool: dict[str, list[str]] = {}
    for name in set(EVENT_NAMES):
        variants = []
        for _ in range(64):
            if name == "purchase" or name.startswith("billing."):
                props = {"amount": rng.randrange(500, 50000) / 100, "currency": "EUR"}
            elif name.startswith("email."):
                props = {"template": rng.randrange(1, 40), "flow": rng.randrange(1, 10)}
            elif name == "page.viewed":
                props = {"url": rng.choice(PAGES), "referrer": "https://www.example.org/"}
            else:
                props = {}
            variants.append(json.dumps(props).replace("\\", "\\\\"))
        pool[name] = variants
    return pool


def _events_copy(
    conn: psycopg.Connection, *, contacts: int, events: int, anchor: dt.datetime
) -> None:
    """Generate per contact into day buckets (temporary files), then COPY the buckets oldest
    first with the table's secondary indexes and foreign keys dropped, and rebuild them."""
    rng = random.Random(SEED + 1)
    counts = _event_counts(rng, contacts, events)
    pool = _properties_pool(rng)
    minutes = [
        (anchor - dt.timedelta(minutes=m)).strftime("%Y-%m-%d %H:%M:")
        for m in range(HISTORY_DAYS * 1440 + 1)
    ]
    seconds = [f"{s:02d}+00" for s in range(60)]
    last_minute = HISTORY_DAYS * 1440
    with tempfile.TemporaryDirectory(prefix="segbench-") as folder:
        buckets = [
            open(os.path.join(folder, f"{day:03d}.tsv"), "w", buffering=1 << 20)  # noqa: SIM115
            for day in range(HISTORY_DAYS + 1)
        ]
        try:
            for pk, count in enumerate(counts, start=1):
                if not count:
                    continue
                # Recently active, lapsed, or long gone: how far back this contact's activity sits.
                kind = rng.random()
                recent = rng.uniform(0, 3) if kind < 0.4 else rng.uniform(3, 30)
                if kind >= 0.7:
                    recent = rng.uniform(30, 300)
                spread = rng.uniform(5, 60)
                for _ in range(count):
                    age = int((recent + rng.expovariate(1 / spread)) * 1440)
                    minute = age if age < last_minute else last_minute
                    name = rng.choice(EVENT_NAMES)
                    at = minutes[minute] + seconds[pk % 60]
                    buckets[minute // 1440].write(
                        f"{pk}\t{name}\t{rng.choice(pool[name])}\t{at}\t{at}\t{EVENT_SOURCE}\n"
                    )
        finally:
            for bucket in buckets:
                bucket.close()
        rebuild = _secondary_objects_drop(conn, "contacts_event")
        columns = "contact_id, name, properties, occurred_at, received_at, source"
        with conn.cursor().copy(f"COPY contacts_event ({columns}) FROM STDIN") as copy:
            for day in range(HISTORY_DAYS, -1, -1):
                with open(os.path.join(folder, f"{day:03d}.tsv"), "rb") as bucket:
                    while chunk := bucket.read(1 << 20):
                        copy.write(chunk)
    for statement in rebuild:
        conn.execute(statement)


def _secondary_objects_drop(conn: psycopg.Connection, table: str) -> list[str]:
    """Drop the table's non-primary-key indexes and its foreign keys; returns the statements
    that recreate them exactly as the migrations made them."""
    indexes = conn.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass "
        "AND NOT x.indisprimary AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)",
        [table],
    ).fetchall()
    constraints = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('f', 'u')",
        [table],
    ).fetchall()
    for name, _ in constraints:
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in indexes] + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for name, definition in constraints
    ]


# --- The change between two evaluations ---------------------------------------------------------


def change_apply(
    *,
    url: str,
    contacts: int,
    events: int,
    field_changes: int,
    since: dt.datetime,
    until: dt.datetime,
) -> None:
    """What happens between two periodic evaluations: `events` new events (logins and
    purchases among them) between `since` and `until`, and `field_changes` contacts whose
    plan changes. The original fields are kept so change_fields_revert can restore them."""
    rng = random.Random(SEED + 2)
    span = (until - since).total_seconds()
    with psycopg.connect(url) as conn:
        changed = sorted(rng.sample(range(1, contacts + 1), field_changes))
        conn.execute(
            f"INSERT INTO {CHANGED} (contact_id, fields) SELECT id, fields FROM contacts_contact "
            f"WHERE id = ANY(%s) ON CONFLICT DO NOTHING",
            [changed],
        )
        conn.execute(
            "UPDATE contacts_contact AS c "
            "SET fields = c.fields || jsonb_build_object('plan', p.plan) "
            "FROM unnest(%s::bigint[], %s::text[]) AS p(id, plan) WHERE c.id = p.id",
            [changed, [rng.choice(PLANS) for _ in changed]],
        )
        columns = "contact_id, name, properties, occurred_at, received_at, source"
        names = ["login"] * 50 + ["purchase"] * 10 + ["page.viewed"] * 40
        with conn.cursor().copy(f"COPY contacts_event ({columns}) FROM STDIN") as copy:
            for _ in range(events):
                at = since + dt.timedelta(seconds=rng.uniform(0, span))
                copy.write_row(
                    (rng.randrange(1, contacts + 1), rng.choice(names), "{}", at, at, "segbench")
                )
        conn.commit()


def change_revert(*, url: str, max_event_id: int) -> None:
    with psycopg.connect(url) as conn:
        change_fields_revert(conn)
        conn.execute("DELETE FROM contacts_event WHERE id > %s", [max_event_id])
        conn.commit()


def change_fields_revert(conn: psycopg.Connection) -> None:
    conn.execute(
        f"UPDATE contacts_contact AS c SET fields = o.fields FROM {CHANGED} AS o "
        f"WHERE c.id = o.contact_id"
    )
    conn.execute(f"DELETE FROM {CHANGED}")
