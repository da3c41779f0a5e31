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
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest_report import Row, load_average, machine_facts, markdown_table, verdict  # noqa: E402
from bench.segments_data import Dataset, change_apply, change_revert, dataset_ensure  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/segflow_segbench"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/7"
FULL_CONTACTS, FULL_EVENTS = 1_000_000, 20_000_000
TARGET_SECONDS = 3.0
TARGET_RATIO = 1.5
TARGET_P95_MS = 1000.0
# Between the two evaluations: an hour passes (windows move) and the data changes.
CHANGE_INTERVAL = dt.timedelta(hours=1)


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
    args = parser.parse_args()
    if args.quick:
        args.contacts = min(args.contacts, 20_000)
        args.events = min(args.events, 400_000)
        args.change_events = min(args.change_events, 2_000)
        args.change_fields = min(args.change_fields, 100)
        args.naive_contacts = min(args.naive_contacts, 2_000)
        args.live_seconds = min(args.live_seconds, 12.0)
        args.crossing = min(args.crossing, 24)
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


def segment_create(name: str):
    from bench.segments_sql import SEGMENT_TREE
    from segments.dependencies import dependency_keys
    from segments.models import Segment
    from segments.schema import validate_conditions_or_raise
    from segments.tree import is_time_relative

    validate_conditions_or_raise(SEGMENT_TREE)
    return Segment.objects.create(
        name=name,
        conditions=SEGMENT_TREE,
        dependency_keys=dependency_keys(SEGMENT_TREE),
        is_time_relative=is_time_relative(SEGMENT_TREE),
    )


def select_phase(args, now: dt.datetime, explain: bool) -> dict:
    """The SELECT of matching ids: compiled, and each hand-written shape."""
    from bench import segments_sql as s

    compiled_sql, compiled_params = s.compiled_select(now)
    compiled_time, compiled_count = s.timed(
        lambda: s.count_of(compiled_sql, compiled_params), args.repeat
    )
    params = s.hand_written_params(now)
    hand = {}
    for name, sql in s.HAND_WRITTEN.items():
        timing, count = s.timed(lambda sql=sql: s.count_of(sql, params), args.repeat)
        hand[name] = (timing, count)
        if count != compiled_count:
            print(f"WARNING: hand-written '{name}' finds {count}, compiled {compiled_count}")
    best = min(hand, key=lambda name: hand[name][0].median)
    print(f"matching contacts at the anchor: {compiled_count:,}", flush=True)
    if explain:
        print("\n## EXPLAIN ANALYZE, compiled\n\n" + s.explain(compiled_sql, compiled_params))
        print(f"\n## EXPLAIN ANALYZE, hand-written '{best}'\n")
        print(s.explain(s.HAND_WRITTEN[best], params) + "\n", flush=True)
    return {
        "compiled": compiled_time,
        "count": compiled_count,
        "hand": hand,
        "best": best,
    }


def evaluation_phase(args, dataset: Dataset, segment, hand_segment, best_sql: str) -> dict:
    """First run from empty membership at the anchor, second run an hour later after the
    change; compiled and hand-written interleaved, each repetition from the same state."""
    from bench import segments_sql as s
    from segments.evaluation import segment_evaluate

    first_at, second_at = dataset.anchor, dataset.anchor + CHANGE_INTERVAL
    times: dict[str, list[float]] = {"first": [], "second": [], "hand_first": [], "hand_second": []}
    moves = {}

    def compiled(now):
        return segment_evaluate(segment=segment, now=now)

    def hand(now):
        params = s.hand_written_params(now)
        return s.hand_written_evaluate(
            segment_id=hand_segment.pk, sql=best_sql, params=params, now=now
        )

    for _ in range(args.repeat):
        for label, evaluate in (("", compiled), ("hand_", hand)):
            s.memberships_clear()
            started = time.perf_counter()
            first = evaluate(first_at)
            times[f"{label}first"].append(time.perf_counter() - started)
            change_apply(
                url=dataset.url,
                contacts=dataset.contacts,
                events=args.change_events,
                field_changes=args.change_fields,
                since=first_at,
                until=second_at,
            )
            started = time.perf_counter()
            second = evaluate(second_at)
            times[f"{label}second"].append(time.perf_counter() - started)
            change_revert(url=dataset.url, max_event_id=dataset.max_event_id)
            moves[label] = (first.entered, second.entered, second.left)
    if moves[""] != moves["hand_"]:
        print(f"WARNING: compiled moved {moves['']}, hand-written {moves['hand_']}")
    s.memberships_clear()
    return {key: s.Timing(value) for key, value in times.items()} | {"moves": moves[""]}


def memory_phase(env: dict[str, str], datasets: list[Dataset]) -> list[dict]:
    results = []
    for dataset in datasets:
        completed = subprocess.run(
            [sys.executable, "bench/segments_rss.py", dataset.anchor.isoformat()],
            cwd=REPO,
            env={**env, "DATABASE_URL": dataset.url},
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        results.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    return results


def naive_phase(count: int, now: dt.datetime) -> tuple[float, int, int]:
    """Load each contact and its events, evaluate the tree in Python (the property tests'
    reference evaluator). Returns (seconds, matches, compiled matches on the same contacts)."""
    from bench.segments_sql import SEGMENT_TREE
    from contacts.models import Contact, Event
    from segments.selectors import segment_matching_contacts
    from tests.segments.reference import RefContact, RefEvent, World, evaluate

    world = World(field_types={"plan": "choice", "company_size": "number"}, topics={}, members={})
    columns = ["country", "email", "email_status", "lead_score", "created_at", "last_activity_at"]
    ids = range(1, count + 1)
    matches = 0
    started = time.perf_counter()
    for pk in ids:
        contact = Contact.objects.get(pk=pk)
        events = [
            RefEvent(name, occurred_at, properties)
            for name, occurred_at, properties in Event.objects.filter(contact_id=pk).values_list(
                "name", "occurred_at", "properties"
            )
        ]
        ref = RefContact(
            pk=pk,
            columns={key: getattr(contact, key) for key in columns},
            fields=contact.fields,
            events=events,
        )
        matches += evaluate(SEGMENT_TREE, ref, world, now)
    seconds = time.perf_counter() - started
    compiled = segment_matching_contacts(conditions=SEGMENT_TREE, now=now)
    return seconds, matches, compiled.filter(pk__in=ids).count()


def live_phase(args, env: dict[str, str], segment, var_dir: str) -> dict:
    from django.utils import timezone

    from bench import segments_live as live
    from segments.evaluation import segment_evaluate

    now = timezone.now()
    crossing = live.engineered_contacts_create(count=args.crossing, now=now)
    started = time.perf_counter()
    catch_up = segment_evaluate(segment=segment, now=timezone.now())
    catch_up_seconds = time.perf_counter() - started
    live.broker_purge()
    log = Path(var_dir) / "celery.log"
    worker = beat = None
    try:
        worker = live.Celery(
            args=[
                "worker",
                "--pool=prefork",
                f"--concurrency={args.concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"segbench-{os.getpid()}@localhost",
                "-l",
                "info",
            ],
            env=env,
            log_path=log,
        )
        beat = live.Celery(
            args=["beat", "-s", str(Path(var_dir) / "beat-schedule"), "-l", "info"],
            env=env,
            log_path=Path(var_dir) / "beat.log",
        )
        worker.wait_for(" ready.")
        beat.wait_for("beat: Starting")
        print(
            f"live phase: worker x{args.concurrency} + beat, {args.rate:.0f} events/s for "
            f"{args.live_seconds:.0f} s, {len(crossing)} contacts crossing ...",
            flush=True,
        )
        load_before = load_average()
        result = live.live_measure(
            segment_id=segment.pk,
            crossing=crossing,
            contact_count=args.contacts,
            rate=args.rate,
            seconds=args.live_seconds,
        )
    finally:
        for process in (beat, worker):
            if process is not None:
                process.stop()
        live.broker_purge()
    errors = [line for line in log.read_text(errors="replace").splitlines() if "ERROR" in line]
    return {
        "result": result,
        "catch_up": (catch_up_seconds, catch_up),
        "load": load_before,
        "worker_errors": errors[:3],
    }


def ms(value: float) -> str:
    return f"{value * 1000:,.0f} ms" if value < 1 else f"{value:.2f} s"


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parse_args()
    base = os.environ.get("BENCH_SEGMENTS_DATABASE_URL") or DEFAULT_DATABASE_URL
    url = dataset_url(base, args.contacts, args.events)
    small_contacts, small_events = args.contacts // 10, args.events // 10
    small_url = dataset_url(base, small_contacts, small_events)
    var_dir = tempfile.mkdtemp(prefix="segflow-segbench-")
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
    from bench.segments_sql import HAND_WRITTEN, SEGMENT_TEXT

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
        live = live_phase(args, env, segment, var_dir)
    loads["end"] = load_average()
    connection.close()

    rows = results_rows(args, dataset, select, evaluation, memory, live)
    if naive is not None:
        rows += naive_rows(args, naive, evaluation)
    print()
    for key, value in machine_facts(postgres_version=postgres_version).items():
        print(f"- {key}: {value}")
    print(f"- Segment: {SEGMENT_TEXT}")
    print(
        f"- Data: {dataset.contacts:,} contacts, {dataset.events:,} events "
        f"({'reused' if dataset.reused else 'generated this run'}); evaluated at the data's "
        f"anchor, then {CHANGE_INTERVAL} later after {args.change_events:,} new events and "
        f"{args.change_fields:,} plan changes; median of {args.repeat}"
    )
    print("- Load average (1/5/15 min): " + "; ".join(f"{k} {v}" for k, v in loads.items()))
    if naive is not None and naive[1] != naive[2]:
        print(f"- WARNING: naive found {naive[1]}, compiled {naive[2]} (same contacts)")
    print()
    print(markdown_table(rows))
    print(
        "\nHand-written shapes (SELECT, median): "
        + "; ".join(f"{name} {ms(timing.median)}" for name, (timing, _) in select["hand"].items())
    )
    if live is not None:
        result = live["result"]
        seconds, catch_up = live["catch_up"]
        print(
            f"Live phase: catch-up full evaluation at the wall clock {ms(seconds)} "
            f"(+{catch_up.entered:,} / -{catch_up.left:,}); {result.missing} crossing contacts "
            f"not seen within the deadline; {result.backlog_after} changes still queued after; "
            f"load before {live['load']}"
        )
        for line in live["worker_errors"] + result.load_errors[:3]:
            print(f"  error: {line}")
    print(f"\nfinished {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")


def naive_rows(args, naive, evaluation) -> list[Row]:
    seconds, matches, _ = naive
    per_contact = seconds / args.naive_contacts
    extrapolated = per_contact * args.contacts
    return [
        Row(
            f"Naive Python: load + evaluate {args.naive_contacts:,} contacts one by one "
            f"({matches:,} match)",
            f"{seconds:.1f} s ({per_contact * 1000:.2f} ms/contact)",
        ),
        Row(
            f"Naive Python extrapolated to {args.contacts:,} contacts",
            f"{extrapolated:,.0f} s = {extrapolated / evaluation['first'].median:,.0f}x "
            "the compiled first run",
        ),
    ]


def results_rows(args, dataset, select, evaluation, memory, live) -> list[Row]:
    best_time = select["hand"][select["best"]][0]
    select_ratio = select["compiled"].median / best_time.median
    first, second = evaluation["first"], evaluation["second"]
    hand_first, hand_second = evaluation["hand_first"], evaluation["hand_second"]
    entered_first, entered, left = evaluation["moves"]
    rows = [
        Row(
            f"Full evaluation + diff, first run (empty -> {entered_first:,} members)",
            ms(first.median),
            f"<= {TARGET_SECONDS:.0f} s",
            verdict(first.median <= TARGET_SECONDS),
        ),
        Row(
            f"Full evaluation + diff, second run (+{entered:,} / -{left:,})",
            ms(second.median),
            f"<= {TARGET_SECONDS:.0f} s",
            verdict(second.median <= TARGET_SECONDS),
        ),
        Row("Hand-written SQL + same diff, first run", ms(hand_first.median)),
        Row("Hand-written SQL + same diff, second run", ms(hand_second.median)),
    ]
    for label, ours, theirs in (("first", first, hand_first), ("second", second, hand_second)):
        ratio = ours.median / theirs.median
        rows.append(
            Row(
                f"Compiled / hand-written, evaluation + diff, {label} run",
                f"{ratio:.2f}x",
                f"<= {TARGET_RATIO}x",
                verdict(ratio <= TARGET_RATIO),
            )
        )
    rows += [
        Row("SELECT of matching ids, compiled", ms(select["compiled"].median)),
        Row(f"SELECT of matching ids, hand-written ({select['best']})", ms(best_time.median)),
        Row(
            "Compiled / hand-written, SELECT",
            f"{select_ratio:.2f}x",
            f"<= {TARGET_RATIO}x",
            verdict(select_ratio <= TARGET_RATIO),
        ),
    ]
    if live is not None:
        result = live["result"]
        p95 = result.percentile(95)
        rows.append(
            Row(
                f"Incremental: event commit -> transition row, p50 / p95 / max "
                f"({len(result.latencies_ms)} contacts)",
                f"{result.p50:,.0f} / {p95:,.0f} / "
                f"{max(result.latencies_ms, default=float('nan')):,.0f} ms",
                f"p95 <= {TARGET_P95_MS:,.0f} ms",
                verdict(p95 <= TARGET_P95_MS and not result.missing),
            )
        )
        rows.append(
            Row(
                "Incremental: background load achieved",
                f"{result.loaded_events / result.seconds:,.0f} events/s",
                f"{args.rate:,.0f}",
            )
        )
    if len(memory) == 2:
        small, large = memory
        mib = [m["rss_peak_kib"] / 1024 for m in memory]
        growth = [(m["rss_peak_kib"] - m["rss_before_kib"]) / 1024 for m in memory]
        rows.append(
            Row(
                f"Worker peak RSS, full evaluation at {args.contacts // 10:,} / "
                f"{args.contacts:,} contacts",
                f"{mib[0]:.0f} / {mib[1]:.0f} MiB (evaluation adds {growth[0]:.1f} / "
                f"{growth[1]:.1f} MiB)",
                "independent of contacts",
                verdict(mib[1] <= mib[0] * 1.1),
            )
        )
    return rows


if __name__ == "__main__":
    main()
