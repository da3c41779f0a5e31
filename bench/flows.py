"""Flows bench (issue 8): the send pipeline of one worker process against the raw Jinja2
render of the same template, the scheduler advancing 100,000 due enrollments against one
hand-written UPDATE, and event -> email / segment entered -> email latency end to end with
real Celery workers, beat and an SMTP sink.

    make bench-flows
    make bench-flows BENCH_ARGS=--quick         # smoke run, a couple of minutes

The database (BENCH_FLOWS_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/segflow_flowbench) is created for the run and dropped at
the end; Celery uses BENCH_FLOWS_BROKER_URL (default redis://127.0.0.1:6379/15), whose default
queue the bench purges. Not a test: it prints figures, as a markdown table.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import database_drop, database_recreate  # noqa: E402
from bench.ingest_report import load_average, machine_facts  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/segflow_flowbench"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/15"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--emails", type=int, default=2_000, help="send pipeline: emails")
    parser.add_argument("--enrollments", type=int, default=100_000, help="scheduler phase")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s, end to end")
    parser.add_argument("--seconds", type=float, default=60.0, help="end-to-end load duration")
    parser.add_argument("--leads", type=int, default=120, help="contacts entering the segment")
    parser.add_argument("--skip-send", action="store_true")
    parser.add_argument("--skip-scheduler", action="store_true")
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    if args.quick:
        args.emails = min(args.emails, 500)
        args.enrollments = min(args.enrollments, 5_000)
        args.seconds = min(args.seconds, 10.0)
        args.leads = min(args.leads, 20)
    return args


def bench_environment(url: str, var_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("REDIS_URL", "DEBUG", "CELERY_TASK_ALWAYS_EAGER", "TEST_DATABASE_NAME"):
        env.pop(name, None)
    env.update(
        DATABASE_URL=url,
        CELERY_BROKER_URL=os.environ.get("BENCH_FLOWS_BROKER_URL") or DEFAULT_BROKER_URL,
        SEGFLOW_VAR_DIR=var_dir,
        DJANGO_SETTINGS_MODULE="segflow.settings",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOG_LEVEL="WARNING",
    )
    return env


def postgres_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0]}"


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parse_args()
    url = os.environ.get("BENCH_FLOWS_DATABASE_URL") or DEFAULT_DATABASE_URL
    var_dir = tempfile.mkdtemp(prefix="segflow-flowbench-")
    atexit.register(shutil.rmtree, var_dir, ignore_errors=True)
    env = bench_environment(url, var_dir)
    for name in set(os.environ) - set(env):
        del os.environ[name]
    os.environ.update(env)
    print(f"# Segflow flows bench ({'quick' if args.quick else 'full'} run)", flush=True)
    print(f"load average at start: {load_average()} (uptime)", flush=True)
    database_recreate(url)
    if not args.keep:
        atexit.register(database_drop, url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO,
        env=env,
        check=True,
        timeout=900,
    )
    import django

    django.setup()
    from bench.flows_report import report_print

    results = {}
    if not args.skip_send:
        from bench.flows_render import render_phase

        results["send"] = render_phase(args.emails, log_dir=Path(var_dir))
        report_print(args, {"send": results["send"]})
    if not args.skip_scheduler:
        from bench.flows_scheduler import scheduler_phase

        results["scheduler"] = scheduler_phase(count=args.enrollments, env=env, timeout=3600)
        report_print(args, {"scheduler": results["scheduler"]})
    if not args.skip_live:
        from bench.flows_live import live_phase

        results["live"] = live_phase(
            env=env, var_dir=Path(var_dir), rate=args.rate, seconds=args.seconds, leads=args.leads
        )
    print()
    for key, value in machine_facts(postgres_version=postgres_version()).items():
        print(f"- {key}: {value}")
    print(f"- Load average at the end: {load_average()}")
    print()
    report_print(args, results)


if __name__ == "__main__":
    main()
