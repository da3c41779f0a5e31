"""Segment bench (issue 3): full evaluation with the membership diff against the best
hand-written SQL, incremental latency through a real Celery worker under load, worker memory
at two contact counts, and a naive per-contact Python evaluation for scale.

    make bench-segments                  # full run: 1M contacts, 20M events
    .venv/bin/python bench/segments.py --quick

Data is generated once with COPY into its own database (BENCH_SEGMENTS_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/segflow_segbench; other sizes get the contact count as a
suffix, e.g. segflow_segbench_20000) and reused by later runs. Celery uses
BENCH_SEGMENTS_BROKER_URL (default redis://127.0.0.1:6379/7), whose default queue the bench
purges. Not a test: it prints figures, as a markdown table.
"""

import argparse
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest_report import load_average  # noqa: E402
from bench.segments_backlog import backlog_phase  # noqa: E402
from bench.segments_data import Dataset, dataset_ensure  # noqa: E402
from bench.segments_phases import (  # noqa: E402
    evaluation_phase,
    live_phase,
    memory_phase,
    mixed_live_phase,
    naive_phase,
    segment_create,
    select_phase,
)
from bench.segments_report import report_print  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/segflow_segbench"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/7"
FULL_CONTACTS, FULL_EVENTS = 1_000_000, 20_000_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, under ~2 minutes")
    parser.add_argument("--contacts", type=int, default=FULL_CONTACTS)
    parser.add_argument("--events", type=int, default=FULL_EVENTS)
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions (median)")
    parser.add_argument("--change-events", type=int, default=100_000)
    parser.add_argument("--change-fields", type=int, default=5_000)
    parser.add_argument("--naive-contacts", type=int, default=10_000)
    parser.add_argument("--live-seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=500.0, help="events/s during the live phase")
    parser.add_argument("--crossing", type=int, default=120, help="contacts crossing the threshold")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of both")
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--mix-segments", type=int, default=100, help="mixed segments")
    parser.add_argument("--backlog-contacts", type=int, default=100_000)
    parser.add_argument("--mix-rate", type=float, default=1000.0, help="events/s, mixed live")
    parser.add_argument("--skip-backlog", action="store_true")
    parser.add_argument("--skip-mix-live", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.contacts = min(args.contacts, 20_000)
        args.events = min(args.events, 400_000)
        args.change_events = min(args.change_events, 2_000)
        args.change_fields = min(args.change_fields, 100)
        args.naive_contacts = min(args.naive_contacts, 2_000)
        args.live_seconds = min(args.live_seconds, 12.0)
        args.crossing = min(args.crossing, 24)
        args.mix_segments = min(args.mix_segments, 20)
        args.backlog_contacts = min(args.backlog_contacts, 2_000)
        args.mix_rate = min(args.mix_rate, 200.0)
    return args


def dataset_url(base: str, contacts: int, events: int) -> str:
    if (contacts, events) == (FULL_CONTACTS, FULL_EVENTS):
        return base
    parsed = urlparse(base)
    return parsed._replace(path=f"{parsed.path}_{contacts}").geturl()


def bench_environment(url: str, var_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("REDIS_URL", "DEBUG", "CELERY_TASK_ALWAYS_EAGER", "TEST_DATABASE_NAME"):
        env.pop(name, None)
    env.update(
        DATABASE_URL=url,
        CELERY_BROKER_URL=os.environ.get("BENCH_SEGMENTS_BROKER_URL") or DEFAULT_BROKER_URL,
        SEGFLOW_VAR_DIR=var_dir,
        DJANGO_SETTINGS_MODULE="segflow.settings",
        LOG_LEVEL="WARNING",
    )
    return env


def migrate(env: dict[str, str]):
    def run(url: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=REPO,
            env={**env, "DATABASE_URL": url},
            check=True,
            timeout=3600,
        )

    return run


def dataset_announce(label: str, dataset: Dataset) -> None:
    how = (
        "reused" if dataset.reused else f"generated with COPY in {dataset.generation_seconds:.0f} s"
    )
    print(
        f"{label}: {dataset.contacts:,} contacts, {dataset.events:,} events ({how}; "
        f"anchor {dataset.anchor:%Y-%m-%d %H:%M} UTC)",
        flush=True,
    )


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parse_args()
    base = os.environ.get("BENCH_SEGMENTS_DATABASE_URL") or DEFAULT_DATABASE_URL
    url = dataset_url(base, args.contacts, args.events)
    small_contacts, small_events = args.contacts // 10, args.events // 10
    small_url = dataset_url(base, small_contacts, small_events)
    var_dir = tempfile.mkdtemp(prefix="segflow-segbench-")  # Celery logs, beat's schedule
    atexit.register(shutil.rmtree, var_dir, ignore_errors=True)
    env = bench_environment(url, var_dir)
    for name in set(os.environ) - set(env):
        del os.environ[name]
    os.environ.update(env)
    loads = {"start": load_average()}
    print(f"# Segflow segment bench ({'quick' if args.quick else 'full'} run)", flush=True)
    print(f"load average at start: {loads['start']} (uptime)", flush=True)

    dataset = dataset_ensure(
        url=url, contacts=args.contacts, events=args.events, migrate=migrate(env)
    )
    dataset_announce(urlparse(url).path.lstrip("/"), dataset)
    small = None
    if not args.skip_memory:
        small = dataset_ensure(
            url=small_url, contacts=small_contacts, events=small_events, migrate=migrate(env)
        )
        dataset_announce(urlparse(small_url).path.lstrip("/"), small)

    import django

    django.setup()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres_version = cursor.fetchone()[0]
    segment = segment_create("segbench compiled")
    hand_segment = segment_create("segbench hand-written")

    loads["select"] = load_average()
    select = select_phase(args, dataset.anchor, args.explain)
    loads["evaluation"] = load_average()
    from bench.segments_sql import HAND_WRITTEN

    evaluation = evaluation_phase(
        args, dataset, segment, hand_segment, HAND_WRITTEN[select["best"]]
    )
    hand_segment.delete()
    memory = []
    if small is not None:
        loads["memory"] = load_average()
        memory = memory_phase(env, [small, dataset])
    naive = None
    if not args.skip_naive:
        loads["naive"] = load_average()
        naive = naive_phase(args.naive_contacts, dataset.anchor)
    live = None
    if not args.skip_live:
        loads["live"] = load_average()
        live = live_phase(args, env, segment, var_dir)
    backlog = mixed_live = None
    if not args.skip_backlog:
        loads["backlog"] = load_average()
        backlog = backlog_phase(args, dataset)
        if not args.skip_mix_live:
            loads["mixed live"] = load_average()
            mixed_live = mixed_live_phase(args, env, segment, var_dir)
    loads["end"] = load_average()
    connection.close()

    report_print(
        args=args,
        dataset=dataset,
        postgres_version=postgres_version,
        loads=loads,
        select=select,
        evaluation=evaluation,
        memory=memory,
        naive=naive,
        live=live,
        backlog=backlog,
        mixed_live=mixed_live,
    )


if __name__ == "__main__":
    main()
