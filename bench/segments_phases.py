"""Phases of the segment bench (bench/segments.py): each runs one measurement and returns
its raw figures; bench/segments_report.py turns them into the table."""

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.ingest_report import load_average
from bench.segments_data import Dataset, change_apply, change_revert, memberships_analyze

REPO = Path(__file__).resolve().parent.parent
# Between the two evaluations: an hour passes (windows move) and the data changes.
CHANGE_INTERVAL = dt.timedelta(hours=1)


def segment_create(name: str):
    from bench.segments_sql import SEGMENT_TREE
    from segments.dependencies import dependency_keys
    from segments.models import Segment
    from segments.tree import is_time_relative
    from segments.validation import validate_conditions_or_raise

    validate_conditions_or_raise(SEGMENT_TREE)
    return Segment.objects.create(
        name=name,
        conditions=SEGMENT_TREE,
        dependency_keys=dependency_keys(SEGMENT_TREE),
        is_time_relative=is_time_relative(SEGMENT_TREE),
    )


def select_phase(args, now: dt.datetime, explain: bool) -> dict:
    """The SELECT of matching ids: compiled, and each hand-written shape. One untimed pass
    warms the caches, then the shapes take turns in every repetition, so none is favoured
    by running first or last."""
    from bench import segments_sql as s

    compiled_sql, compiled_params = s.compiled_select(now)
    params = s.hand_written_params(now)
    shapes = {"compiled": (compiled_sql, compiled_params)}
    shapes |= {name: (sql, params) for name, sql in s.HAND_WRITTEN.items()}
    seconds: dict[str, list[float]] = {name: [] for name in shapes}
    counts = {name: s.count_of(sql, shape_params) for name, (sql, shape_params) in shapes.items()}
    for _ in range(args.repeat):
        for name, (sql, shape_params) in shapes.items():
            started = time.perf_counter()
            s.count_of(sql, shape_params)
            seconds[name].append(time.perf_counter() - started)
    compiled_count = counts.pop("compiled")
    for name, count in counts.items():
        if count != compiled_count:
            print(f"WARNING: hand-written '{name}' finds {count}, compiled {compiled_count}")
    hand = {name: (s.Timing(seconds[name]), counts[name]) for name in s.HAND_WRITTEN}
    best = min(hand, key=lambda name: hand[name][0].median)
    print(f"matching contacts at the anchor: {compiled_count:,}", flush=True)
    if explain:
        print("\n## EXPLAIN ANALYZE, compiled\n\n" + s.explain(compiled_sql, compiled_params))
        print(f"\n## EXPLAIN ANALYZE, hand-written '{best}'\n")
        print(s.explain(s.HAND_WRITTEN[best], params) + "\n", flush=True)
    return {
        "compiled": s.Timing(seconds["compiled"]),
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


def mixed_live_phase(args, env: dict[str, str], segment, var_dir: str) -> dict:
    """The live phase again with the backlog phase's mixed segments in place, at
    `--mix-rate`: each is first evaluated at the wall clock (which also puts the next periodic
    evaluation of the time-relative ones an interval ahead)."""
    import argparse

    from django.utils import timezone

    from segments.evaluation import segment_evaluate
    from segments.models import Segment

    mixed = list(Segment.objects.filter(name__startswith="segbench mix"))
    # The backlog phase has just written millions of memberships and transitions (without
    # statistics a generic plan reads the memberships' heap).
    memberships_analyze()
    started = time.perf_counter()
    for other in mixed:
        segment_evaluate(segment=other, now=timezone.now())
    catch_up_seconds = time.perf_counter() - started
    at_mix_rate = argparse.Namespace(**{**vars(args), "rate": args.mix_rate})
    result = live_phase(at_mix_rate, env, segment, var_dir)
    return result | {"segments": len(mixed) + 1, "mixed_catch_up_seconds": catch_up_seconds}


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
    lines = worker.log().splitlines()
    errors = [line for line in lines if "ERROR" in line]
    if result.missing:
        print("worker log, last lines:\n" + "\n".join(lines[-30:]), flush=True)
    return {
        "result": result,
        "catch_up": (catch_up_seconds, catch_up),
        "load": load_before,
        "worker_errors": errors[:3],
    }
