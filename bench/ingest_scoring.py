"""Scoring bench (issue 10): what lead scoring costs the ingest and how fast the worker scores.

    .venv/bin/python bench/ingest_scoring.py [--contacts N] [--batches N]

The stream is bench/ingest.py's (page.viewed with /pricing urls, email.opened / clicked,
form.submitted: about 64 % of its events hit a default rule). In one process, on its own
database (BENCH_DATABASE_URL with "-scoring" appended, or postgres://.../segflow_bench_scoring;
dropped at the end): events_ingest per 1,000 events with the default rules off, then on (the
ingest then writes one outbox row per batch), then the scoring worker's drain of the queued
rows (events/s). `make bench` measures the batch endpoint against COPY with the default rules
active (they are shipped active). Not a test: it prints figures (docs/benchmarks.md).
"""

import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import BATCH_SIZE, database_drop, database_recreate  # noqa: E402
from bench.ingest_data import EventStream, contacts_copy  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/segflow_bench_scoring"


def parse_args():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--batches", type=int, default=20, help="1,000-event batches per phase")
    return parser.parse_args()


def ingest_seconds(stream: EventStream, batches: int) -> float:
    """Seconds per 1,000 events of events_ingest (validation and JSON excluded)."""
    from django.utils import timezone

    from contacts.ingest import event_parse, events_ingest

    total = 0.0
    for _ in range(batches):
        now = timezone.now()
        parsed = [event_parse(item, now=now) for item in stream.batch(BATCH_SIZE)]
        valid = [event for event, errors in parsed if not errors]
        started = time.perf_counter()
        events_ingest(events=valid, now=now)
        total += time.perf_counter() - started
    return total / batches


def main() -> None:
    args = parse_args()
    base = os.environ.get("BENCH_DATABASE_URL")
    url = f"{base}_scoring" if base else DEFAULT_DATABASE_URL
    if "bench" not in urlparse(url).path:
        sys.exit("The bench database name must contain 'bench'.")
    os.environ.update(
        DATABASE_URL=url, DJANGO_SETTINGS_MODULE="segflow.settings", LOG_LEVEL="WARNING"
    )
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    database_recreate(url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from scoring import rule_watch
    from scoring.event_scoring import pending_score_events_process
    from scoring.models import PendingScoreEvents, ScoreLedgerEntry, ScoringRule
    from segflow.celery import app

    app.conf.task_always_eager = False
    # Wake-ups would publish to a broker; the bench drains the queue itself.
    import scoring.event_scoring as event_scoring

    event_scoring.wake_on_commit = lambda task_name: None
    try:
        call_command("migrate", verbosity=0)
        connection.close()
        contacts_copy(conninfo=url, count=args.contacts)
        rules = ScoringRule.objects.filter(active=True).count()
        print(f"# Scoring bench: {args.contacts:,} contacts, {rules} default rules", flush=True)

        ingest_seconds(EventStream(args.contacts, seed=11, label="warm"), 3)
        PendingScoreEvents.objects.all().delete()
        # Alternate the phases (rules off, on, off, on, ...) so the table's growth and the
        # machine's load weigh on both alike.
        off = on = 0.0
        rounds = 4
        for round_ in range(rounds):
            for active in (False, True):
                ScoringRule.objects.update(active=active)
                rule_watch.watched_reset()
                stream = EventStream(
                    args.contacts, seed=20 + 2 * round_ + active, label=f"{round_}{active}"
                )
                seconds = ingest_seconds(stream, max(1, args.batches // rounds))
                if active:
                    on += seconds / rounds
                else:
                    off += seconds / rounds
        ScoringRule.objects.update(active=True)
        scored_batches = rounds * max(1, args.batches // rounds)
        queued = sum(
            len(ids) for ids in PendingScoreEvents.objects.values_list("event_ids", flat=True)
        )

        started = time.perf_counter()
        processed = pending_score_events_process(now=timezone.now())
        while PendingScoreEvents.objects.exists():
            processed += pending_score_events_process(now=timezone.now())
        drain = time.perf_counter() - started
        rows = ScoreLedgerEntry.objects.count()
    finally:
        connection.close()
        database_drop(url)

    print("| Measure | Value |\n|---|---|")
    print(f"| events_ingest per 1,000, rules off | {off * 1000:.1f} ms |")
    print(f"| events_ingest per 1,000, default rules on | {on * 1000:.1f} ms |")
    print(f"| Ingest cost of scoring | {(on - off) * 1000:+.1f} ms ({on / off - 1:+.0%}) |")
    print(f"| Events queued for scoring | {queued:,} of {scored_batches * BATCH_SIZE:,} |")
    rate = processed / drain if drain else 0.0
    print(f"| Worker drain: events scored | {processed:,} in {drain:.2f} s ({rate:,.0f}/s) |")
    print(f"| Ledger rows written (caps applied) | {rows:,} |")


if __name__ == "__main__":
    main()
