"""Where the ingestion bench's CPU goes: CPU seconds of the app's server, of PostgreSQL and of
the bench's own load threads, read from /proc before and after a phase.

The highest rate at a p99 swings by up to a factor of two from run to run on a small machine
(docs/benchmarks.md); the CPU a request costs does not. Measured at a steady rate below
saturation, less what the same processes spend idle, bare view / single POST CPU says which
share of the bare view's rate the single POST could reach if CPU were the only limit, and how
much of its cost is the app's Python or PostgreSQL's. Linux only: elsewhere the bench prints
no CPU rows.
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
GROUPS = ("server", "database", "client")


def cpu_accounting_available() -> bool:
    return (_PROC / "self" / "stat").exists()


@dataclass(frozen=True)
class CpuSplit:
    """CPU seconds of each group (GROUPS) over `seconds` of wall time."""

    seconds: float
    cpu: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.cpu.values())

    @property
    def cores_busy(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0

    def beyond_idle(self, idle: "CpuSplit") -> "CpuSplit":
        """This split less what the same processes spend doing nothing for as long (gunicorn's
        heartbeats, PostgreSQL's background work): at a modest rate that would otherwise
        weigh on every request alike and pull the ratios between endpoints towards 1."""
        scale = self.seconds / idle.seconds if idle.seconds else 0.0
        return CpuSplit(
            self.seconds, {g: max(0.0, self.cpu[g] - idle.cpu[g] * scale) for g in GROUPS}
        )

    def per(self, units: float) -> dict[str, float]:
        """Milliseconds of CPU per unit (a request, 1,000 events), by group and "total"."""
        split = {group: self.cpu[group] / units * 1000 for group in GROUPS}
        split["total"] = self.total / units * 1000
        return split


def measure(
    *, server_pid: int, database: str, run: Callable[[], object]
) -> tuple[object, CpuSplit]:
    """run()'s result, and the CPU each group spent while it ran."""
    before, started = _cpu_by_group(server_pid, database), time.monotonic()
    result = run()
    seconds = time.monotonic() - started
    after = _cpu_by_group(server_pid, database)
    return result, CpuSplit(seconds, {g: after[g] - before[g] for g in GROUPS})


def describe(split: dict[str, float]) -> str:
    return " / ".join(f"{split[group]:.2f}" for group in GROUPS) + f" = {split['total']:.2f} ms"


def _cpu_by_group(server_pid: int, database: str) -> dict[str, float]:
    """Cumulative CPU seconds (user + system) of: the server (gunicorn's master and
    workers), the database (PostgreSQL's backends of `database` and its background
    processes: WAL writer, checkpointer...) and the client (this process)."""
    ticks = os.sysconf("SC_CLK_TCK")
    totals = dict.fromkeys(GROUPS, 0.0)
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        # Fields after the command name (which may hold spaces): state, ppid, ...
        fields = stat.rsplit(")", 1)[1].split()
        pid, ppid = int(entry.name), int(fields[1])
        seconds = (int(fields[11]) + int(fields[12])) / ticks
        group = _group(pid, ppid, command, server_pid, database)
        if group:
            totals[group] += seconds
    return totals


def _group(pid: int, ppid: int, command: str, server_pid: int, database: str) -> str | None:
    if pid == os.getpid():
        return "client"
    if server_pid in (pid, ppid):
        return "server"
    if command.startswith("postgres: "):
        # A backend's title names its database and client ("postgres: 15/main: user db
        # 127.0.0.1(5555) idle"); a background process's names neither.
        if database in command.split():
            return "database"
        if "(" not in command and "[local]" not in command:
            return "database"
    return None
