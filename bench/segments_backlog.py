"""Backlog phase of the segment bench: 100 realistic segments (bench/segments_mix.py), a burst
that leaves 100,000 contacts queued, and the time to drain the queue.

Figures: the drain through `segments.drain.contact_changes_drain` (what the Celery task runs:
full evaluations of the affected segments when the queue is large), the incremental path's
rate on the same queue extrapolated to the whole of it (what draining cost before), and the
floor: the sum of the segments' compiled SELECTs alone, without the diff.
"""

import datetime as dt
import random
import time
from dataclasses import dataclass

from bench.segments_data import memberships_analyze
from bench.segments_mix import mixed_segments_create

NAMES = ["page.viewed"] * 45 + ["login"] * 25 + ["email.opened"] * 20 + ["purchase"] * 10
INGEST_BATCH = 1_000
INCREMENTAL_SAMPLE_BATCHES = 2
TARGET_DRAIN_SECONDS = 60.0


@dataclass
class BacklogResult:
    segments: int
    time_relative: int
    first_evaluation_seconds: float  # all segments once, from empty memberships
    select_floor_seconds: float  # sum of the compiled SELECT count(*) of every segment
    queued_contacts: int
    ingest_seconds: float
    incremental_contacts: int  # contacts the sampled incremental batches processed
    incremental_seconds: float
    drain_seconds: float
    drained_contacts: int
    queued_after: int

    @property
    def incremental_extrapolated_seconds(self) -> float:
        if not self.incremental_contacts:
            return float("nan")
        return self.incremental_seconds / self.incremental_contacts * self.queued_contacts


def _queued() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(contact_count), 0) FROM segments_pendingcontactchange")
        return cursor.fetchone()[0]


def backlog_phase(args, dataset) -> BacklogResult:
    from django.db import connection

    from contacts.ingest import EventInput, events_ingest
    from segments import drain
    from segments.evaluation import segment_evaluate
    from segments.models import PendingContactChange
    from segments.scheduler import contact_changes_process_batch
    from segments.selectors import segment_matching_contacts

    now = dataset.anchor
    PendingContactChange.objects.all().delete()
    segments = mixed_segments_create(args.mix_segments, prefix="segbench mix")
    print(f"backlog phase: {len(segments)} mixed segments, first evaluation ...", flush=True)
    started = time.perf_counter()
    for segment in segments:
        segment_evaluate(segment=segment, now=now)
    first_seconds = time.perf_counter() - started
    # The burst comes in steady state, with the memberships that first evaluation wrote long
    # since analyzed. Without it, the first run on fresh data drained 0.78x its floor against
    # 0.52-0.62x on later runs, which found the statistics an earlier run left
    # (docs/benchmarks.md, eleventh session).
    memberships_analyze()

    started = time.perf_counter()
    for segment in segments:
        matching = segment_matching_contacts(conditions=segment.conditions, now=now)
        sql, params = matching.order_by().values("id").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM ({sql}) AS matched", params)
    floor_seconds = time.perf_counter() - started

    # The burst: one event each for `backlog_contacts` distinct contacts, through the API's
    # ingest path (so each batch queues its contacts as one pending row).
    rng = random.Random(11)
    contact_ids = rng.sample(range(1, dataset.contacts + 1), args.backlog_contacts)
    at = now + dt.timedelta(minutes=1)
    started = time.perf_counter()
    for offset in range(0, len(contact_ids), INGEST_BATCH):
        events_ingest(
            events=[
                EventInput(
                    name=rng.choice(NAMES),
                    occurred_at=at,
                    email=f"person{contact_id}@segbench.example",
                )
                for contact_id in contact_ids[offset : offset + INGEST_BATCH]
            ],
            source="segbench-backlog",
            now=at,
        )
    ingest_seconds = time.perf_counter() - started
    queued = _queued()
    print(f"backlog phase: {queued:,} contacts queued, draining ...", flush=True)

    drain_at = now + dt.timedelta(minutes=2)
    incremental_contacts, started = 0, time.perf_counter()
    for _ in range(INCREMENTAL_SAMPLE_BATCHES):
        incremental_contacts += contact_changes_process_batch(now=drain_at)
    incremental_seconds = time.perf_counter() - started

    started = time.perf_counter()
    drained = drain.contact_changes_drain(now=drain_at)
    drain_seconds = time.perf_counter() - started
    return BacklogResult(
        segments=len(segments),
        time_relative=sum(segment.is_time_relative for segment in segments),
        first_evaluation_seconds=first_seconds,
        select_floor_seconds=floor_seconds,
        queued_contacts=queued,
        ingest_seconds=ingest_seconds,
        incremental_contacts=incremental_contacts,
        incremental_seconds=incremental_seconds,
        drain_seconds=drain_seconds,
        drained_contacts=drained,
        queued_after=_queued(),
    )


def backlog_rows(result: BacklogResult) -> list:
    from bench.ingest_report import Row, verdict

    drain = result.drain_seconds
    return [
        Row(
            f"Backlog: {result.queued_contacts:,} queued contacts through {result.segments} "
            f"mixed segments ({result.time_relative} time-relative), drained in",
            f"{drain:.1f} s",
            f"<= {TARGET_DRAIN_SECONDS:.0f} s",
            verdict(drain <= TARGET_DRAIN_SECONDS and not result.queued_after),
        ),
        Row(
            "Backlog: the incremental path alone, extrapolated from "
            f"{result.incremental_contacts:,} contacts",
            f"{result.incremental_extrapolated_seconds:,.0f} s",
        ),
        Row(
            "Backlog: floor = the segments' compiled SELECTs alone (no diff); drain / floor",
            f"{result.select_floor_seconds:.1f} s; {drain / result.select_floor_seconds:.2f}x",
        ),
        Row(
            "Backlog: first full evaluation of every mixed segment (empty -> members)",
            f"{result.first_evaluation_seconds:.1f} s",
        ),
    ]
