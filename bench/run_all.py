"""Run every benchmark in sequence (`make bench`), each in its own Python process, and say where
the results went. Each one creates and drops its own scratch PostgreSQL database."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.common import OUT, RESULTS

BENCHMARKS = (
    "bench.monitoring_list",
    "bench.start_latency",
    "bench.duplicate_starts",
    "bench.prune",
    "bench.sync_throughput",
    "bench.backup_capture",
    "bench.scheduler_tick",
    "bench.drift",
    "bench.restore",
    "bench.recovery",
    "bench.graph_budget",
    "bench.ui_browser",
    "bench.ui_browser.picker",
)


def main(names: list[str]) -> int:
    selected = [b for b in BENCHMARKS if not names or b.removeprefix("bench.") in names]
    failed = []
    for name in selected:
        print(f"\n=== {name}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", name])
        status = "ok" if code == 0 else f"FAILED ({code})"
        print(f"=== {name}: {status} in {time.perf_counter() - t0:.0f} s", flush=True)
        if code:
            failed.append(name)
    print(f"\nResults: {RESULTS}")
    print(f"Logs (worker, demo Graph): {OUT}/")
    if failed:
        print(f"Failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
