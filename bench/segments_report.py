"""The table the segment bench prints (markdown, to paste into docs/benchmarks.md)."""

import datetime as dt

from bench.ingest_report import Row, machine_facts, markdown_table, verdict
from bench.segments_backlog import backlog_rows
from bench.segments_phases import CHANGE_INTERVAL
from bench.segments_sql import SEGMENT_TEXT

TARGET_SECONDS = 3.0
TARGET_RATIO = 1.5
TARGET_P95_MS = 1000.0
TARGET_MIXED_P95_MS = 250.0


def ms(value: float) -> str:
    return f"{value * 1000:,.0f} ms" if value < 1 else f"{value:.2f} s"


def report_print(
    *,
    args,
    dataset,
    postgres_version,
    loads,
    select,
    evaluation,
    memory,
    naive,
    live,
    backlog=None,
    mixed_live=None,
):
    rows = results_rows(args, dataset, select, evaluation, memory, live)
    if naive is not None:
        rows += naive_rows(args, naive, evaluation)
    if backlog is not None:
        rows += backlog_rows(backlog)
    if mixed_live is not None:
        rows += mixed_live_rows(args, mixed_live)
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
    if mixed_live is not None:
        result = mixed_live["result"]
        print(
            f"Mixed live phase: catch-up of the mixed segments at the wall clock "
            f"{mixed_live['mixed_catch_up_seconds']:.1f} s; {result.missing} crossing contacts "
            f"not seen; load before {mixed_live['load']}"
        )
        for line in mixed_live["worker_errors"] + result.load_errors[:3]:
            print(f"  error: {line}")
    print(f"\nfinished {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")


def mixed_live_rows(args, mixed_live) -> list[Row]:
    result = mixed_live["result"]
    p95 = result.percentile(95)
    # "Not growing": at most about one second of arrivals still queued when the load stops.
    steady = result.backlog_after <= args.mix_rate
    return [
        Row(
            f"Live with {mixed_live['segments']} segments at {args.mix_rate:,.0f} events/s: "
            f"event commit -> transition row, p50 / p95 / max ({len(result.latencies_ms)} "
            "contacts)",
            f"{result.p50:,.0f} / {p95:,.0f} / "
            f"{max(result.latencies_ms, default=float('nan')):,.0f} ms",
            f"p95 <= {TARGET_MIXED_P95_MS:,.0f} ms",
            verdict(p95 <= TARGET_MIXED_P95_MS and not result.missing),
        ),
        Row(
            "Live with many segments: load achieved; contacts still queued at the end",
            f"{result.loaded_events / result.seconds:,.0f} events/s; {result.backlog_after:,}",
            f"{args.mix_rate:,.0f}; not growing",
            verdict(steady),
        ),
    ]


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
