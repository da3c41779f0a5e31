"""HTTP side of the ingestion bench: a real gunicorn server and load from threads.

Every loop is bounded by a count and a deadline; the server runs in its own process group
and is killed on the way out.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 90.0  # a loaded 2-core machine boots 4 Django workers slowly
REQUEST_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving segflow.wsgi on a free loopback port."""

    def __init__(self, *, env: dict[str, str], workers: int, worker_class: str, threads: int):
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "segflow.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--threads",
            str(threads),
            "--backlog",
            "2048",
            "--log-level",
            "warning",
        ]
        self.process = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True)

    def wait_ready(self, api_key: str) -> None:
        """Until an empty batch is accepted; a server error stops the bench at once."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            client = Client(self.port, api_key)
            try:
                status, data = client.post("/api/v1/events/batch", b'{"events": []}')
            except OSError:
                time.sleep(0.2)
                continue
            finally:
                client.close()
            if status != 202:
                raise RuntimeError(f"the server answered {status}: {data[:300]!r}")
            return
        raise RuntimeError(f"gunicorn did not answer within {STARTUP_TIMEOUT:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@dataclass
class Client:
    """One keep-alive-when-possible connection; reconnects when the server closes it."""

    port: int
    api_key: str
    conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Content-Type": "application/json",
        }
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT
                )
            try:
                self.conn.request("POST", path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class BatchResult:
    seconds: float
    requests: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    exhausted: bool = False


def batch_load(
    *, port: int, api_key: str, bodies: Sequence[bytes], clients: int, seconds: float
) -> BatchResult:
    """Closed loop: `clients` threads post pre-encoded batches until the deadline or the
    bodies run out."""
    lock = threading.Lock()
    cursor = iter(range(len(bodies)))
    result = BatchResult(seconds=0.0)
    deadline = time.monotonic() + seconds

    def run() -> None:
        client = Client(port, api_key)
        try:
            while time.monotonic() < deadline:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    result.exhausted = True
                    return
                status, data = client.post("/api/v1/events/batch", bodies[index])
                with lock:
                    result.requests += 1
                    if status != 202:
                        result.errors.append(f"{status}: {data[:200]!r}")
                        continue
                    body = json.loads(data)
                    result.accepted += body["accepted"]
                    result.duplicates += body["duplicates"]
                    result.rejected += len(body["rejected"])
        finally:
            client.close()

    started = time.monotonic()
    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT + 5)
    result.seconds = time.monotonic() - started
    return result


@dataclass
class OpenLoopResult:
    seconds: float
    sent: int
    latencies_ms: list[float]
    errors: list[str]
    offered: int = 0  # requests scheduled; `sent` counts those answered (or failed)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def open_loop(
    *,
    port: int,
    api_key: str,
    bodies: Sequence[bytes],
    rate: float,
    path: str = "/api/v1/events",
    threads: int = 32,
) -> OpenLoopResult:
    """Send body i at start + i/rate whatever happened before (open loop), and measure each
    latency from its scheduled time, so a stalled server cannot hide its queueing."""
    lock = threading.Lock()
    cursor = iter(range(len(bodies)))
    latencies: list[float] = []
    errors: list[str] = []
    start = time.monotonic() + 0.2

    def run() -> None:
        client = Client(port, api_key)
        try:
            while True:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                scheduled = start + index / rate
                delay = scheduled - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                status, data = client.post(path, bodies[index])
                elapsed = (time.monotonic() - scheduled) * 1000
                with lock:
                    if status == 202:
                        latencies.append(elapsed)
                    else:
                        errors.append(f"{status}: {data[:200]!r}")
        finally:
            client.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    budget = len(bodies) / rate + REQUEST_TIMEOUT + 5
    for worker in workers:
        worker.join(timeout=budget)
    return OpenLoopResult(
        time.monotonic() - start, len(latencies) + len(errors), latencies, errors, len(bodies)
    )


def open_loop_interleaved(
    *,
    port: int,
    api_key: str,
    endpoints: Sequence[tuple[str, Callable[[int], list[bytes]]]],
    rate: float,
    seconds: float,
    slice_seconds: float = 2.0,
) -> list[OpenLoopResult]:
    """`seconds` of open-loop load at `rate` on each (path, bodies) endpoint, in slices of
    `slice_seconds` taken by turns, so that a stall of the disk or a burst of other work on
    the machine falls on every endpoint alike; one merged result per endpoint, in order.
    `bodies(n)` gives n fresh request bodies for a slice."""
    merged = [OpenLoopResult(0.0, 0, [], []) for _ in endpoints]
    slices = max(1, round(seconds / slice_seconds))
    per_slice = max(1, int(rate * seconds / slices))
    for _ in range(slices):
        for (path, bodies), total in zip(endpoints, merged, strict=True):
            result = open_loop(
                port=port, api_key=api_key, bodies=bodies(per_slice), rate=rate, path=path
            )
            total.seconds += result.seconds
            total.sent += result.sent
            total.latencies_ms += result.latencies_ms
            total.errors += result.errors
            total.offered += result.offered
    return merged
