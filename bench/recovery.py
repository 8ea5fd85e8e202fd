"""Fault recovery times: runs the fault suite (tests/faults) REPS times and tabulates the recovery
time each scenario records (min / median / max), for the README.

    .venv/bin/python -m bench.recovery [--reps 3] [-k EXPR] [--dry-run]

Each repetition is one `pytest tests/faults` process with OPSAPP_FAULT_RESULTS pointing at a
scratch JSON-lines file; the scenarios, thresholds and processes are exactly the suite's (own
redis-server on a free port, runner workers, a scratch PostgreSQL database). Thresholds are the
suite's short ones (heartbeat 0.5 s, lost after 3 s, re-send after 5 s), not production defaults,
so the figures show the mechanism's latency on top of its configured thresholds. By default it
replaces the "Fault recovery" section of bench/RESULTS.md; with --dry-run it only prints.
A repetition whose tests fail is reported and its figures are still counted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTION = "Fault recovery"

WHAT = {
    "redis_down_5s.new_run_after_restart": "Redis down 5 s mid-run: restart → a new run completed",
    "redis_restart_empty.queued_run_completed": "Redis restarted empty, run queued: restart → "
    "that run completed (re-send after 5 s)",
    "redis_down_past_grace.exit_3": "Redis down past the 3 s outage grace: down → exit 3",
    "redis_down_5s.real_sync_group_recreated": "Real policy sync, Redis killed 5 s: restart → "
    "the worker reads again (the same run then succeeds)",
    "sigterm_idle.exit": "SIGTERM, idle worker: signal → exit",
    "sigterm_busy.worker_exit": "SIGTERM, busy past the 2 s grace: signal → exit",
    "sigterm_busy.other_worker_started": "SIGTERM, busy: signal → another worker runs the run",
    "sigkill.reaped_as_lost": "SIGKILL mid-run, no scheduler: kill → reaped worker.lost "
    "(lost after 3 s)",
    "sigstop.taken_over": "SIGSTOP past lost threshold: stop → another worker took over",
    "pg_terminate.writes_resumed": "PostgreSQL backends terminated: last cut → worker writes again",
    "pg_terminate.run_ended": "PostgreSQL backends terminated: last cut → run ended (6 s body)",
    "scheduler_sigterm.exit": "SIGTERM, scheduler: signal → exit",
}


def run_suite(results: Path, keyword: str | None) -> int:
    cmd = [sys.executable, "-m", "pytest", "tests/faults", "-q", "-p", "no:cacheprovider"]
    if keyword:
        cmd += ["-k", keyword]
    env = {**os.environ, "OPSAPP_FAULT_RESULTS": str(results)}
    return subprocess.call(cmd, cwd=ROOT, env=env)


def table(samples: dict[str, list[float]]) -> str:
    lines = [
        "| scenario | n | min (s) | median (s) | max (s) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name in sorted(samples, key=lambda n: (list(WHAT).index(n) if n in WHAT else 99, n)):
        values = samples[name]
        lines.append(
            f"| {WHAT.get(name, name)} | {len(values)} | {min(values):.2f} | "
            f"{statistics.median(values):.2f} | {max(values):.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("-k", dest="keyword", default=None, help="pytest -k expression")
    parser.add_argument(
        "--dry-run",
        dest="write",
        action="store_false",
        help="print the table only; by default bench/RESULTS.md is updated (make bench)",
    )
    args = parser.parse_args(argv)

    samples: dict[str, list[float]] = defaultdict(list)
    failed_reps = 0
    with tempfile.TemporaryDirectory(prefix="opsapp-recovery-") as scratch:
        results = Path(scratch) / "recovery.jsonl"
        for rep in range(1, args.reps + 1):
            t0 = time.perf_counter()
            code = run_suite(results, args.keyword)
            print(
                f"repetition {rep}/{args.reps}: pytest exit {code} in "
                f"{time.perf_counter() - t0:.0f} s",
                flush=True,
            )
            failed_reps += code != 0
        if results.exists():
            for line in results.read_text().splitlines():
                record = json.loads(line)
                samples[record["name"]].append(float(record["seconds"]))
    if not samples:
        print("no recovery times were recorded", file=sys.stderr)
        return 1
    body = table(samples)
    note = (
        f"{args.reps} run(s) of tests/faults (heartbeat 0.5 s, lost after 3 s, re-send after "
        f"5 s){'; ' + str(failed_reps) + ' run(s) had failing tests' if failed_reps else ''}."
    )
    print(f"\n{body}\n\n{note}")
    if args.write:
        from bench.common import machine, write_section

        write_section(SECTION, f"{machine()}\n\n{note}\n\n{body}")
    return 1 if failed_reps else 0


if __name__ == "__main__":
    sys.exit(main())
