"""The highest open-loop rate an endpoint sustains within a latency bound.

Each step offers one rate for a few seconds (bench.ingest_load.open_loop: latencies from
each request's scheduled time, so a server falling behind shows as latency). Rates double
from the first one until a step fails (or halve until one passes), then a few geometric
bisections narrow the gap between the last pass and the first failure.

Two bounds:
* `rate_search`: p99 within a fixed bound, no request failed and the rate was achieved.
* `rate_search_over_floor`: the endpoint's p99 within a margin of a floor endpoint's p99 at
  the same rate, the two run by turns in short slices (open_loop_interleaved) so they see
  the same disk and the same neighbours. On a disk whose WAL flush stalls now and then, no
  committing endpoint holds a fixed p99 at any rate; what the app adds beyond the simplest
  durable write still has a bound (bench.ingest's docstring says why this figure).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from bench.ingest_load import OpenLoopResult, open_loop, open_loop_interleaved

# A step "achieves" its rate when the requests all went out within this share of the time.
ACHIEVED_SHARE = 0.95
MAX_RATE = 25_600.0
MIN_RATE = 10.0
# Short slices split a cluster of stalls (a checkpoint's) between the two endpoints.
SLICE_SECONDS = 1.0


@dataclass
class Step:
    rate: float
    p50: float
    p99: float
    achieved: float
    errors: int
    passed: bool
    floor_p99: float | None = None


@dataclass
class RateSearch:
    best: float = 0.0
    steps: list[Step] = field(default_factory=list)
    first_error: str = ""

    def summary(self) -> str:
        return ", ".join(
            f"{s.rate:.0f}: p99 {s.p99:.1f} ms"
            + ("" if s.floor_p99 is None else f" (floor {s.floor_p99:.1f})")
            + ("" if s.passed else " x")
            for s in self.steps
        )

    def record(self, step: Step, result: OpenLoopResult) -> bool:
        if result.errors and not self.first_error:
            self.first_error = result.errors[0]
        self.steps.append(step)
        if step.passed:
            self.best = max(self.best, step.rate)
        return step.passed


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
        result = open_loop(
            port=port,
            api_key=api_key,
            bodies=bodies(max(1, int(rate * seconds))),
            rate=rate,
            path=path,
        )
        achieved = result.sent / result.seconds if result.seconds else 0.0
        p99 = result.percentile(99)
        passed = not result.errors and p99 <= p99_ms and achieved >= ACHIEVED_SHARE * rate
        return search.record(
            Step(rate, result.percentile(50), p99, achieved, len(result.errors), passed), result
        )

    _bracket(step, start_rate, bisections)
    return search


def rate_search_over_floor(
    *,
    port: int,
    api_key: str,
    path: str,
    floor_path: str,
    bodies: Callable[[int], list[bytes]],
    margin_ms: float,
    seconds: float,
    start_rate: float = 100.0,
    bisections: int = 3,
) -> RateSearch:
    """The highest rate at which `path`'s p99 stays within `floor_path`'s p99 + margin_ms,
    both measured at that rate by turns. Every request must be answered without error; a
    server that falls behind shows as latency (measured from the scheduled times), so there
    is no separate achieved-rate test, which a floor stalled by its disk would fail too."""
    search = RateSearch()

    def step(rate: float) -> bool:
        floor, result = open_loop_interleaved(
            port=port,
            api_key=api_key,
            endpoints=[(floor_path, bodies), (path, bodies)],
            rate=rate,
            seconds=seconds,
            slice_seconds=min(SLICE_SECONDS, seconds),
        )
        p99, floor_p99 = result.percentile(99), floor.percentile(99)
        answered = result.sent == result.offered and floor.sent == floor.offered
        passed = not (result.errors or floor.errors) and answered and p99 <= floor_p99 + margin_ms
        achieved = result.sent / result.seconds if result.seconds else 0.0
        step_row = Step(
            rate, result.percentile(50), p99, achieved, len(result.errors), passed, floor_p99
        )
        return search.record(step_row, result if result.errors else floor)

    _bracket(step, start_rate, bisections)
    return search


def _bracket(step: Callable[[float], bool], start_rate: float, bisections: int) -> None:
    """Double while steps pass, or halve from a failed first step until one passes; then
    bisect geometrically between the last pass and the first failure."""
    if step(start_rate):
        low, high = start_rate, start_rate * 2
        while high <= MAX_RATE and step(high):
            low, high = high, high * 2
    else:
        low, high = start_rate / 2, start_rate
        while low >= MIN_RATE and not step(low):
            low, high = low / 2, low
        if low < MIN_RATE:
            return
    for _ in range(bisections):
        middle = (low * high) ** 0.5
        if step(middle):
            low = middle
        else:
            high = middle
