"""The highest open-loop rate an endpoint sustains within a latency bound.

Each step offers one rate for a few seconds (bench.ingest_load.open_loop: latencies from
each request's scheduled time, so a server falling behind shows as latency) and passes when
the p99 is within the bound, no request failed and the rate was achieved. Rates double from
the first one until a step fails (or halve until one passes), then a few geometric
bisections narrow the gap between the last pass and the first failure.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from bench.ingest_load import OpenLoopResult, open_loop

# A step "achieves" its rate when the requests all went out within this share of the time.
ACHIEVED_SHARE = 0.95
MAX_RATE = 25_600.0
MIN_RATE = 10.0


@dataclass
class Step:
    rate: float
    p50: float
    p99: float
    achieved: float
    errors: int
    passed: bool


@dataclass
class RateSearch:
    best: float = 0.0
    steps: list[Step] = field(default_factory=list)
    first_error: str = ""

    def summary(self) -> str:
        return ", ".join(
            f"{s.rate:.0f}: p99 {s.p99:.1f} ms{'' if s.passed else ' x'}" for s in self.steps
        )


def rate_search(
    *,
    port: int,
    api_key: str,
    path: str,
    bodies: Callable[[int], list[bytes]],
    p99_ms: float,
    seconds: float,
    start_rate: float = 100.0,
    bisections: int = 3,
) -> RateSearch:
    """`bodies(n)` gives n fresh request bodies for a step."""
    search = RateSearch()

    def step(rate: float) -> bool:
        result: OpenLoopResult = open_loop(
            port=port,
            api_key=api_key,
            bodies=bodies(max(1, int(rate * seconds))),
            rate=rate,
            path=path,
        )
        achieved = result.sent / result.seconds if result.seconds else 0.0
        p99 = result.percentile(99)
        passed = not result.errors and p99 <= p99_ms and achieved >= ACHIEVED_SHARE * rate
        if result.errors and not search.first_error:
            search.first_error = result.errors[0]
        search.steps.append(
            Step(rate, result.percentile(50), p99, achieved, len(result.errors), passed)
        )
        if passed:
            search.best = max(search.best, rate)
        return passed

    # Bracket: double while steps pass, or halve from a failed first step until one passes.
    if step(start_rate):
        low, high = start_rate, start_rate * 2
        while high <= MAX_RATE and step(high):
            low, high = high, high * 2
    else:
        low, high = start_rate / 2, start_rate
        while low >= MIN_RATE and not step(low):
            low, high = low / 2, low
        if low < MIN_RATE:
            return search
    for _ in range(bisections):
        middle = (low * high) ** 0.5
        if step(middle):
            low = middle
        else:
            high = middle
    return search
