"""One Graph budget shared by every worker: 4 worker processes syncing ONE tenant against the demo
Graph set to Graph's real budget (1,000 units per 20 s per app and tenant).

`python -m bench.graph_budget [--seconds 60] [--workers 4] [--modes shared,per-process]`
(not part of `make test`; about 5 minutes with the defaults).

The demo Graph runs as its own process (`python -m opsapp.graph.demo --port P`) with its budget
switch on (`budget_requests=1000, budget_window_s=20`: beyond that it answers 429 with
Retry-After, like Graph) and logs every request's arrival time and units (a $batch costs one unit
per sub-request). Each worker is a process of its own (`--child`) whose settings are what a
deployment would set (OPSAPP_BROKER, REDIS_URL, OPSAPP_DEMO_GRAPH_URL,
OPSAPP_DEMO_GRAPH_BUDGET_REQUESTS=1000, OPSAPP_GRAPH_BUDGET_WINDOW_SECONDS=20); it gets its
client from `opsapp.features.graph_access.graph_for(tenant)`, the very wiring the sync tasks
use, and runs `CONCURRENCY` sync-like loops at once: list each policy type, then read every
listed policy's assignments through `$batch` (20 per call), over and over, until the deadline.

Modes: `shared` (OPSAPP_BROKER=redis: the Redis budget shared by all workers) and `per-process`
(OPSAPP_BROKER=memory: each process paces on its own, what every worker did before); with the
suffix `-unthrottled` the demo Graph only logs (no 429s), which shows what the workers send when
nothing pushes back: the per-process limiters let through workers × budget.
From the demo's log: the most units that arrived in any 20 s window (admitted or not), the
units it admitted, its 429s, and the utilisation: the mean of the admitted units over every
20 s window inside the run (sampled every 100 ms) divided by the budget.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.sync_throughput import DemoGraph

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
BUDGET = 1000  # Graph (Intune): about 1,000 requests per 20 s per app per tenant
WINDOW_S = 20.0
TENANT = "contoso"
CONCURRENCY = 4  # sync-like loops per worker process
REDIS_URL = os.environ.get("OPSAPP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")


# -- child: one worker process -------------------------------------------------------------------
async def _child(seconds: float, start_at: float) -> dict:
    from opsapp.features.graph_access import graph_for
    from opsapp.graph import GraphError
    from opsapp.graph.demo import find_demo_tenant
    from opsapp.models import ProviderKind, Tenant
    from opsapp.policy_types import POLICY_TYPES

    demo = find_demo_tenant(TENANT)
    assert demo is not None
    tenant = Tenant(
        name=demo.name, slug=demo.slug, entra_tenant_id=demo.entra_tenant_id,
        provider=ProviderKind.demo.value,
    )  # fmt: skip
    types = [t for t in POLICY_TYPES if t.has_assignments]
    counts = {"listings": 0, "batches": 0, "graph_errors": 0, "throttled_errors": 0}

    async def loop(offset: int) -> None:
        async with graph_for(tenant) as client:
            i = offset
            while True:
                ptype = types[i % len(types)]
                i += 1
                try:
                    ids = [p["id"] async for p in client.list_policies(ptype.key, select=["id"])]
                    counts["listings"] += 1
                    if ids:
                        await client.list_assignments_many(ptype.key, ids)
                        counts["batches"] += (len(ids) + 19) // 20
                except GraphError as exc:
                    counts["graph_errors"] += 1
                    counts["throttled_errors"] += exc.code == "graph.throttled"

    await asyncio.sleep(max(0.0, start_at - time.time()))
    tasks = [asyncio.create_task(loop(k * 3)) for k in range(CONCURRENCY)]
    await asyncio.wait(tasks, timeout=seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return counts


def child_main(seconds: float, start_at: float) -> None:
    result = asyncio.run(_child(seconds, start_at))
    print("RESULT " + json.dumps(result), flush=True)


# -- parent ------------------------------------------------------------------------------------
class DemoGraphProcess(DemoGraph):
    """The demo Graph process of bench/sync_throughput, with a JSON call for its admin API."""

    def __init__(self) -> None:
        super().__init__("graph_budget")

    def call(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())


def _redis_budget_keys(delete: bool) -> list[str]:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [k.decode() for k in client.scan_iter("opsapp:graph-budget:*")]
        if delete and keys:
            client.delete(*keys)
        return keys
    finally:
        client.close()


def run_mode(mode: str, graph: DemoGraphProcess, *, workers: int, seconds: float) -> dict:
    graph.call("POST", f"/_demo/tenants/{TENANT}/reset")
    enforce = not mode.endswith("-unthrottled")  # unthrottled: the demo only logs (demand)
    graph.call(
        "POST",
        f"/_demo/tenants/{TENANT}/faults",
        {"budget_requests": BUDGET if enforce else 0, "budget_window_s": WINDOW_S},
    )
    _redis_budget_keys(delete=True)  # a fresh budget (the bench's own Redis db)
    env = {
        **os.environ,
        "OPSAPP_BROKER": "redis" if mode.startswith("shared") else "memory",
        "REDIS_URL": REDIS_URL,
        "OPSAPP_GRAPH_MODE": "demo",
        "OPSAPP_DEMO_GRAPH_URL": graph.url,
        "OPSAPP_DEMO_GRAPH_BUDGET_REQUESTS": str(BUDGET),
        "OPSAPP_GRAPH_BUDGET_WINDOW_SECONDS": str(WINDOW_S),
        "OPSAPP_SECRET_KEY": os.environ.get("OPSAPP_SECRET_KEY", "bench-" + "k" * 40),
    }
    start_at = time.time() + 5.0  # every worker starts at once, after its imports
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.graph_budget",
                "--child",
                "--seconds",
                str(seconds),
                "--start-at",
                str(start_at),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(workers)
    ]
    children = []
    for proc in procs:
        out, err = proc.communicate(timeout=seconds + 120)
        lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"worker failed ({proc.returncode}):\n{err[-3000:]}")
        children.append(json.loads(lines[-1].removeprefix("RESULT ")))
        (OUT / f"graph_budget-{mode}-worker.log").write_text(err)
    log = graph.call("GET", f"/_demo/tenants/{TENANT}/units?since={start_at - 1}")
    keys = _redis_budget_keys(delete=True)
    return {
        "mode": mode,
        **analyse(log, start=start_at, seconds=seconds),
        "client_throttled_errors": sum(c["throttled_errors"] for c in children),
        "client_graph_errors": sum(c["graph_errors"] for c in children),
        "listings": sum(c["listings"] for c in children),
        "redis_keys": keys,
    }


def max_in_window(events: list[tuple[float, int]], window: float) -> int:
    """Most units in any half-open window [t, t + window) (windows starting at an event)."""
    events = sorted(events)
    best = total = j = 0
    for i, (start, _) in enumerate(events):
        while j < len(events) and events[j][0] < start + window:
            total += events[j][1]
            j += 1
        best = max(best, total)
        total -= events[i][1]
    return best


def analyse(log: list[list], *, start: float, seconds: float) -> dict:
    inside = [(t, units, ok) for t, units, ok in log if start - 1 <= t < start + seconds]
    admitted = [(t, units) for t, units, ok in inside if ok]
    arrived = [(t, units) for t, units, _ in inside]
    # Utilisation: admitted units in every 20 s window inside the run, sampled every 100 ms.
    samples = []
    s = start
    while s + WINDOW_S <= start + seconds:
        samples.append(sum(u for t, u in admitted if s <= t < s + WINDOW_S))
        s += 0.1
    return {
        "requests": len(inside),
        "units_arrived": sum(u for _, u in arrived),
        "units_admitted": sum(u for _, u in admitted),
        "http_429": sum(1 for *_, ok in inside if not ok),
        "max_arrived_20s": max_in_window(arrived, WINDOW_S),
        "max_admitted_20s": max_in_window(admitted, WINDOW_S),
        "mean_admitted_20s": sum(samples) / len(samples) if samples else 0.0,
        "min_admitted_20s": min(samples) if samples else 0,
    }


def table(results: list[dict], *, workers: int, seconds: float) -> str:
    rows = [
        "| mode | max units arriving in any 20 s | max admitted in any 20 s | utilisation "
        "(mean admitted per 20 s / budget; min window) | units admitted / arrived | 429s | "
        "client calls failed as throttled |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        label = (
            "shared budget (Redis; OPSAPP_BROKER=redis)"
            if r["mode"].startswith("shared")
            else "per-process budgets (before; OPSAPP_BROKER=memory)"
        )
        if r["mode"].endswith("-unthrottled"):
            label += ", demo Graph not throttling (what the workers send)"
        util = r["mean_admitted_20s"] / BUDGET * 100
        rows.append(
            f"| {label} | {r['max_arrived_20s']} | {r['max_admitted_20s']} | "
            f"{util:.1f} % (min {r['min_admitted_20s']}) | "
            f"{r['units_admitted']} / {r['units_arrived']} | {r['http_429']} | "
            f"{r['client_throttled_errors']} |"
        )
    head = (
        f"{workers} worker processes × {CONCURRENCY} sync-like loops on one demo tenant for "
        f"{seconds:.0f} s; demo Graph budget {BUDGET} units / {WINDOW_S:.0f} s (429 beyond)."
    )
    return head + "\n\n" + "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--modes", default="shared,per-process,per-process-unthrottled,shared-unthrottled"
    )
    parser.add_argument("--json", action="store_true", help="also print the raw figures")
    parser.add_argument(
        "--dry-run", dest="write", action="store_false", help="do not update bench/RESULTS.md"
    )
    args = parser.parse_args()
    if args.child:
        child_main(args.seconds, args.start_at)
        return
    graph = DemoGraphProcess()
    try:
        results = [
            run_mode(mode, graph, workers=args.workers, seconds=args.seconds)
            for mode in args.modes.split(",")
        ]
    finally:
        graph.stop()
    if args.json:
        print(json.dumps(results, indent=2))
    text = table(results, workers=args.workers, seconds=args.seconds)
    print(text)
    if args.write:
        from bench.common import machine, write_section

        write_section("Graph budget shared by workers", f"{machine()}\n\n{text}")


if __name__ == "__main__":
    main()
