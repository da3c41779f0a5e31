"""Scheduler phase of the flows bench: N due enrollments advanced one step (a finished wait
to the next wait) by automation.scheduler.scheduler_tick in 1 and 2 processes, against the
floor of one hand-written SQL statement doing the same state change.

The enrollments are generated set-based (INSERT ... SELECT generate_series) into the bench
database: contacts, one active flow whose steps are two waits, and N enrollments on the first
wait, started two days ago, due a minute ago. Each tick process is `python
bench/flows_scheduler.py tick`: it sets Django up, says "ready", waits for "go" on stdin, then
calls scheduler_tick until a call advances nothing, and prints what it did as JSON.
"""

import datetime as dt
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIRST, SECOND = "first_wait", "second_wait"
DEFINITION = {
    "trigger": {"type": "event", "event": "bench.scheduled"},
    "reentry": "never",
    "steps": [
        {"id": FIRST, "type": "wait", "duration": {"days": 1}},
        {"id": SECOND, "type": "wait", "duration": {"days": 1}},
    ],
}


@dataclass
class TickRun:
    processes: int
    seconds: float
    advanced: int  # enrollments now on the second wait
    ticks: int  # scheduler_tick calls, all processes
    step_runs: int  # StepRun rows written


@dataclass
class SchedulerResult:
    enrollments: int
    runs: list[TickRun]
    floor_seconds: float
    floor_step_runs: bool


def flow_create():
    """One active flow of two waits, through the flow services when present."""
    from automation.flow_services import flow_create

    return flow_create(name="Bench: two waits", definition=DEFINITION, status="active")


def enrollments_generate(*, count: int, now: dt.datetime) -> None:
    """`count` contacts and as many enrollments due on the first wait (set-based SQL)."""
    from django.db import connection, transaction

    from automation.models import Flow

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE automation_steprun, automation_enrollment CASCADE")
        cursor.execute("SELECT count(*) FROM contacts_contact")
        existing = cursor.fetchone()[0]
        if existing < count:
            cursor.execute(
                """
                INSERT INTO contacts_contact
                    (email, first_name, email_status, lead_score, created_at, updated_at, fields)
                SELECT 'sched' || n || '@bench.example', 'Ada', 'active', 0, %(now)s, %(now)s,
                       '{}'::jsonb
                FROM generate_series(%(start)s, %(stop)s) AS n
                """,
                {"now": now, "start": existing + 1, "stop": count},
            )
        flow = Flow.objects.get(name="Bench: two waits")
        cursor.execute(
            """
            INSERT INTO automation_enrollment
                (flow_id, version_id, contact_id, state, step_id, next_run_at, step_started_at,
                 sleeping, trigger_key, holdout, exit_reason, enrolled_at, updated_at)
            SELECT %(flow)s, %(version)s, c.id, 'active', %(first)s,
                   %(now)s - interval '1 minute', %(now)s - interval '2 days',
                   true, 'bench:' || c.id, false, '', %(now)s - interval '2 days', %(now)s
            FROM (SELECT id FROM contacts_contact ORDER BY id LIMIT %(count)s) AS c
            """,
            {
                "flow": flow.pk,
                "version": flow.live_version_id,
                "first": FIRST,
                "now": now,
                "count": count,
            },
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE automation_enrollment")
        cursor.execute("VACUUM ANALYZE contacts_contact")


def _counts() -> tuple[int, int]:
    from automation.models import Enrollment, StepRun

    return Enrollment.objects.filter(step_id=SECOND).count(), StepRun.objects.count()


def ticks_run(*, processes: int, env: dict[str, str], timeout: float) -> TickRun:
    """Start the tick processes, let them all go at once, and time them to the last one."""
    children = [
        subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "tick"],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for child in children:
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError("a tick process did not start")
        started = time.perf_counter()
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        reports = [json.loads(child.communicate(timeout=timeout)[0]) for child in children]
        seconds = time.perf_counter() - started
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    advanced, step_runs = _counts()
    return TickRun(
        processes=processes,
        seconds=seconds,
        advanced=advanced,
        ticks=sum(report["ticks"] for report in reports),
        step_runs=step_runs,
    )


def floor_run(*, now: dt.datetime, with_step_runs: bool) -> float:
    """The same state change as one hand-written statement (plus the step-run log when the
    engine writes one for a finished wait)."""
    from django.db import connection, transaction

    log = """
        INSERT INTO automation_steprun
            (enrollment_id, step_id, attempt, status, outcome, detail, started_at, finished_at)
        SELECT id, %(first)s, 1, 'done', '', '{}'::jsonb, %(now)s, %(now)s FROM moved
    """
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH moved AS (
                UPDATE automation_enrollment
                SET step_id = %(second)s, step_started_at = %(now)s,
                    next_run_at = %(now)s + interval '1 day', sleeping = true, updated_at = %(now)s
                WHERE state = 'active' AND next_run_at <= %(now)s
                RETURNING id
            )
            {log if with_step_runs else "SELECT count(*) FROM moved"}
            """,
            {"first": FIRST, "second": SECOND, "now": now},
        )
    return time.perf_counter() - started


def scheduler_phase(*, count: int, env: dict[str, str], timeout: float) -> SchedulerResult:
    from django.utils import timezone

    flow_create()
    runs = []
    for processes in (1, 2):
        enrollments_generate(count=count, now=timezone.now())
        runs.append(ticks_run(processes=processes, env=env, timeout=timeout))
        print(
            f"scheduler, {processes} process(es): {runs[-1].advanced:,} advanced in "
            f"{runs[-1].seconds:.1f} s",
            flush=True,
        )
    with_step_runs = runs[-1].step_runs > 0
    enrollments_generate(count=count, now=timezone.now())
    floor = floor_run(now=timezone.now(), with_step_runs=with_step_runs)
    return SchedulerResult(
        enrollments=count, runs=runs, floor_seconds=floor, floor_step_runs=with_step_runs
    )


def _tick_main() -> None:
    import django

    sys.path.insert(0, str(REPO))
    django.setup()
    from django.utils import timezone

    from automation.scheduler import scheduler_tick

    print("ready", flush=True)
    sys.stdin.readline()
    ticks = advanced = 0
    while True:
        done = scheduler_tick(now=timezone.now())
        ticks += 1
        advanced += done
        if not done:
            break
    print(json.dumps({"ticks": ticks, "advanced": advanced}), flush=True)


if __name__ == "__main__" and sys.argv[1:] == ["tick"]:
    _tick_main()
