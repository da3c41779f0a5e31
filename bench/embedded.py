"""Embedded-default bench: does background evaluation starve the web on SQLite?

`make run`'s stack without services (SQLite in WAL mode, kombu's filesystem broker): the
demo data (3,000 contacts), 200 mixed segments (bench/segments_mix.py), the dev server and a
Celery worker started as Procfile.dev starts them. An event for every contact is posted in
batches, which leaves every contact queued for every segment reading events; while the worker
drains that queue, a client upserts a contact through the API every 100 ms. Printed: the
write latency p50 / p95 / max (target p95 <= 500 ms) and how long the drain took. The floor
is the same write on the idle stack, measured first.

    make bench-embedded
    .venv/bin/python bench/embedded.py --segments 200 --seconds 120
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest_load import free_port  # noqa: E402
from bench.ingest_report import Row, load_average, machine_facts, markdown_table, verdict  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEMO_PLANS = ["free", "starter", "pro"]
DEMO_EXTERNAL_ID_PREFIX = "demo-"  # contacts.demo_data's external ids: demo-000001, ...
TARGET_P95_MS = 500.0
WRITE_INTERVAL = 0.1
IDLE_WRITES = 30


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--contacts", type=int, default=3000, help="demo contacts")
    parser.add_argument("--seconds", type=float, default=180.0, help="deadline for the drain")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser.parse_args()


def embedded_env(var_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "TEST_DATABASE_NAME", "DEBUG"}
    }
    env.update(
        SEGFLOW_VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="segflow.settings",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def python(env: dict[str, str], *args: str, timeout: float = 900) -> str:
    """Run the interpreter on the checkout with the bench's environment; its stdout."""
    completed = subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return completed.stdout


def manage(env: dict[str, str], *args: str) -> str:
    return python(env, "manage.py", *args)


def setup(env: dict[str, str], args) -> tuple[str, int]:
    """Migrate, seed, create and evaluate the segments; returns (API key, segment count)."""
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "seed_demo", "--contacts", str(args.contacts))
    api_key = manage(env, "create_api_key", "embedded-bench").strip().splitlines()[-1]
    script = f"""
import django; django.setup()
from django.utils import timezone
from contacts.models import CustomField
from bench.segments_mix import mixed_segments_create
from segments.evaluation import segment_evaluate
size = {{"label": "Company size", "type": "number"}}
CustomField.objects.get_or_create(key="company_size", defaults=size)
now = timezone.now()
for segment in mixed_segments_create({args.segments}, prefix="embedded mix", plans={DEMO_PLANS!r}):
    segment_evaluate(segment=segment, now=now)
from segments.models import PendingContactChange, Segment
PendingContactChange.objects.all().delete()
print(Segment.objects.count())
"""
    return api_key, int(python(env, "-c", script, timeout=1800).strip().splitlines()[-1])


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("a") as out:
        return subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def request(port: int, api_key: str, method: str, path: str, body=None) -> tuple[int, float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    started = time.perf_counter()
    try:
        connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        connection.close()


def wait_ready(port: int, api_key: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if request(port, api_key, "GET", "/api/v1/segments?page_size=1")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"web not ready:\n{log.read_text()[-3000:]}")


def queued(env: dict[str, str], *, up_to: int | None = None) -> tuple[int, int]:
    """(contacts queued in rows up to id `up_to`, the newest row id)."""
    script = (
        "import django; django.setup()\n"
        "from django.db.models import Max, Sum\n"
        "from segments.models import PendingContactChange as P\n"
        f"rows = P.objects.filter(pk__lte={up_to}) if {up_to is not None} else P.objects\n"
        "print(rows.aggregate(n=Sum('contact_count'))['n'] or 0, "
        "P.objects.aggregate(m=Max('pk'))['m'] or 0)\n"
    )
    contacts, newest = python(env, "-c", script, timeout=120).strip().splitlines()[-1].split()
    return int(contacts), int(newest)


def writes_while(port: int, api_key: str, keep_going, limit: int | None = None) -> list[tuple]:
    """Upsert a contact every WRITE_INTERVAL while keep_going(); (status, seconds) each."""
    results, index = [], 0
    while keep_going() and (limit is None or index < limit):
        next_at = time.perf_counter() + WRITE_INTERVAL
        body = {"email": f"writer{index % 50}@embedded.example", "fields": {"plan": "pro"}}
        body["first_name"] = f"W{index}"
        results.append(request(port, api_key, "POST", "/api/v1/contacts", body))
        index += 1
        time.sleep(max(0.0, next_at - time.perf_counter()))
    return results


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="segflow-embedded-bench-"))
    env = embedded_env(tmp / "var")
    log = tmp / "stack.log"
    print(f"# Segflow embedded-default bench ({args.segments} segments)", flush=True)
    print(f"load average at start: {load_average()}", flush=True)
    processes = []
    try:
        started = time.perf_counter()
        api_key, segments = setup(env, args)
        print(f"setup: {segments} segments evaluated in {time.perf_counter() - started:.0f} s")
        port = free_port()
        processes.append(
            start(
                [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                env,
                log,
            )
        )
        wait_ready(port, api_key, log)
        idle = writes_while(port, api_key, lambda: True, limit=IDLE_WRITES)
        worker_command = [sys.executable, "-m", "celery", "-A", "segflow", "worker"]
        worker_command += ["--pool=threads", "--concurrency=4", "--loglevel=WARNING"]
        processes.append(start(worker_command, env, log))
        time.sleep(5)  # the worker's start-up, before the burst

        # The burst: one event per contact, 1,000 to a batch, through the API.
        names = ["login", "page.viewed", "feature.used", "purchase", "email.opened"]
        for offset in range(1, args.contacts + 1, 1000):
            events = [
                {"external_id": f"{DEMO_EXTERNAL_ID_PREFIX}{n:06d}", "name": names[n % len(names)]}
                for n in range(offset, min(offset + 1000, args.contacts + 1))
            ]
            status, _ = request(port, api_key, "POST", "/api/v1/events/batch", {"events": events})
            assert status == 202, status
        burst_at = time.perf_counter()
        burst_contacts, burst_last_row = queued(env)
        print(f"burst queued: {burst_contacts:,} contacts; writing while the worker drains ...")
        drained_at: list[float] = []
        deadline = burst_at + args.seconds

        def draining() -> bool:
            return not drained_at and time.perf_counter() < deadline

        def watch() -> None:
            while time.perf_counter() < deadline:
                if queued(env, up_to=burst_last_row)[0] == 0:  # the writer's own rows aside
                    drained_at.append(time.perf_counter())
                    return
                time.sleep(1)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        busy = writes_while(port, api_key, draining)
        watcher.join(timeout=5)
    finally:
        for process in reversed(processes):
            stop(process)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    idle_ms = [seconds * 1000 for _, seconds in idle]
    busy_ms = [seconds * 1000 for _, seconds in busy]
    errors = sum(1 for status, _ in busy + idle if status >= 500)
    drain = (drained_at[0] - burst_at) if drained_at else float("nan")
    p95 = percentile(busy_ms, 95)
    for key, value in machine_facts(postgres_version="(SQLite)").items():
        print(f"- {key}: {value}")
    print(f"- Load average at the end: {load_average()}")
    print()
    print(
        markdown_table(
            [
                Row(
                    f"API write while the worker drains ({len(busy_ms)} upserts, "
                    f"{segments} segments): p50 / p95 / max",
                    f"{statistics.median(busy_ms):,.0f} / {p95:,.0f} / {max(busy_ms):,.0f} ms",
                    f"p95 <= {TARGET_P95_MS:,.0f} ms",
                    verdict(p95 <= TARGET_P95_MS and not errors),
                ),
                Row(
                    f"Same write, idle stack ({len(idle_ms)} upserts): p50 / p95; busy p95 / idle",
                    f"{statistics.median(idle_ms):,.0f} / {percentile(idle_ms, 95):,.0f} ms; "
                    f"{p95 / percentile(idle_ms, 95):.1f}x",
                ),
                Row(
                    f"Drain of the burst ({args.contacts:,} contacts)",
                    f"{drain:,.1f} s" if drained_at else f"not done in {args.seconds:.0f} s",
                ),
                Row("Server errors (5xx)", str(errors), "0", verdict(not errors)),
            ]
        )
    )


if __name__ == "__main__":
    main()
