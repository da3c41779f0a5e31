"""Child process of the segment bench: one full evaluation of the bench segment from empty
membership, in a fresh Python process, reporting its peak RSS as JSON on stdout.

    DATABASE_URL=... python bench/segments_rss.py 2026-11-24T06:00:00+00:00

Peak RSS is taken once Django is set up and the segment loaded, and again after the
evaluation: the difference is what evaluating costs in memory. It is the process's high-water
mark (VmHWM in /proc/self/status, reset by exec). getrusage's ru_maxrss is reported too, but
Linux carries the parent's high-water mark into it across fork and exec, so in a child of the
bench (which generated the data) it says more about the parent than the child.
"""

import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def peak_rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, where /proc is missing


def main() -> None:
    import django

    django.setup()
    from bench.segments_sql import SEGMENT_TREE, memberships_clear
    from segments.dependencies import dependency_keys
    from segments.evaluation import segment_evaluate
    from segments.models import Segment

    now = dt.datetime.fromisoformat(sys.argv[1])
    segment, _ = Segment.objects.get_or_create(
        name="segbench memory",
        defaults={
            "conditions": SEGMENT_TREE,
            "dependency_keys": dependency_keys(SEGMENT_TREE),
            "is_time_relative": True,
        },
    )
    memberships_clear()
    before = peak_rss_kib()
    started = time.perf_counter()
    result = segment_evaluate(segment=segment, now=now)
    seconds = time.perf_counter() - started
    after = peak_rss_kib()
    memberships_clear()
    segment.delete()  # so the incremental phase has only the bench's own segment to keep
    print(
        json.dumps(
            {
                "rss_before_kib": before,
                "rss_peak_kib": after,
                "seconds": seconds,
                "size": result.size,
            }
        )
    )


if __name__ == "__main__":
    main()
