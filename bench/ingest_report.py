"""Machine facts and the markdown table the ingestion bench prints."""

import os
import platform
import subprocess
from dataclasses import dataclass


def machine_facts(*, postgres_version: str) -> dict[str, str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as meminfo:
            kib = int(meminfo.readline().split()[1])
        ram = f"{kib / 1024 / 1024:.1f} GiB"
    except OSError:
        ram = "unknown"
    return {
        "CPU": f"{cpu} ({os.cpu_count()} cores visible, nproc {_nproc()})",
        "RAM": ram,
        "PostgreSQL": postgres_version,
        "Python": platform.python_version(),
        "Kernel": platform.release(),
    }


def _nproc() -> str:
    try:
        return subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


@dataclass
class Row:
    measure: str
    value: str
    target: str = ""
    verdict: str = ""


def markdown_table(rows: list[Row]) -> str:
    lines = ["| Measure | Result | Target | |", "|---|---:|---|---|"]
    lines += [f"| {r.measure} | {r.value} | {r.target} | {r.verdict} |" for r in rows]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"
