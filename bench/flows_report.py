"""The markdown table the flows bench prints."""

from bench.ingest_report import Row, markdown_table, verdict

SEND_TARGET = 1_000.0  # emails/s per worker process
SCHEDULER_TARGET_SECONDS = 60.0  # for 100,000 due enrollments
LATENCY_TARGET_MS = 1_000.0  # p95


def send_rows(send) -> list[Row]:
    rows = [
        Row(
            f"Raw Jinja2 render (subject + {send.html_bytes:,} B HTML + text), one process",
            f"{send.raw_per_second:,.0f} emails/s",
        ),
        Row(
            "Floor: raw render + EmailMultiAlternatives + locmem backend; floor / raw",
            f"{send.floor_per_second:,.0f} emails/s; "
            f"{send.floor_per_second / send.raw_per_second:.0%}",
        ),
    ]
    for label, rate, floor in (
        ("locmem", send.pipeline_locmem, send.floor_per_second),
        ("SMTP sink", send.pipeline_smtp, send.floor_smtp),
    ):
        if rate is None:
            continue
        if label != "locmem" and floor is not None:
            rows.append(
                Row(
                    f"Floor: raw render + EmailMultiAlternatives + Django's {label} backend",
                    f"{floor:,.0f} emails/s",
                )
            )
        rows.append(
            Row(
                f"Pipeline message_prepare + messages_deliver ({label}), one process; "
                "/ floor; / raw",
                f"{rate:,.0f} emails/s; {rate / floor:.0%}; {rate / send.raw_per_second:.0%}",
                f">= {SEND_TARGET:,.0f} emails/s" if label == "locmem" else "",
                verdict(rate >= SEND_TARGET) if label == "locmem" else "",
            )
        )
    return rows


def scheduler_rows(scheduler) -> list[Row]:
    rows = []
    for run in scheduler.runs:
        # The target is stated for 100,000; a smaller run is scaled to it.
        projected = run.seconds * 100_000 / max(1, scheduler.enrollments)
        complete = run.advanced == scheduler.enrollments
        rows.append(
            Row(
                f"Scheduler: {scheduler.enrollments:,} due enrollments advanced one step "
                f"(wait -> wait), {run.processes} process(es), {run.ticks:,} ticks",
                f"{run.seconds:,.1f} s ({scheduler.enrollments / run.seconds:,.0f}/s)"
                + ("" if complete else f"; only {run.advanced:,} advanced"),
                "<= 60 s per 100,000" if run.processes == 2 else "",
                verdict(complete and projected <= SCHEDULER_TARGET_SECONDS)
                if run.processes == 2
                else "",
            )
        )
    best = min(run.seconds for run in scheduler.runs)
    what = "UPDATE + step-run INSERT" if scheduler.floor_step_runs else "UPDATE"
    rows.append(
        Row(
            f"Floor: one hand-written {what}; fastest scheduler run / floor",
            f"{scheduler.floor_seconds:,.2f} s; {best / scheduler.floor_seconds:,.1f}x",
        )
    )
    return rows


def live_rows(live) -> list[Row]:
    achieved = live.events.sent / live.load_seconds
    rows = []
    for label, latencies in (
        (
            f"Event -> email in the sink at {live.rate:,.0f} events/s "
            f"(posted at {achieved:,.0f}/s)",
            live.events,
        ),
        ("Segment entered (lead_score set to 90) -> email in the sink", live.segment),
    ):
        p95 = latencies.percentile(95)
        errors = f"; {len(latencies.errors)} errors" if latencies.errors else ""
        ok = latencies.millis and p95 <= LATENCY_TARGET_MS and not latencies.missing
        rows.append(
            Row(
                f"{label}: p50 / p95 / max ({len(latencies.millis):,} of {latencies.sent:,} "
                f"arrived{errors})",
                f"{latencies.p50:,.0f} / {p95:,.0f} / "
                f"{max(latencies.millis, default=float('nan')):,.0f} ms",
                f"p95 <= {LATENCY_TARGET_MS:,.0f} ms",
                verdict(bool(ok)),
            )
        )
    return rows


def report_print(args, results: dict) -> None:
    rows: list[Row] = []
    if "send" in results:
        rows += send_rows(results["send"])
    if "scheduler" in results:
        rows += scheduler_rows(results["scheduler"])
    if "live" in results:
        rows += live_rows(results["live"])
    print(markdown_table(rows), flush=True)
    for latencies in (results["live"].events, results["live"].segment) if "live" in results else ():
        for error in latencies.errors[:3]:
            print(f"error: {error}")
