"""Sync throughput and memory: the three sync services against the demo Graph over real HTTP.

The demo Graph runs as its own process (`python -m opsapp.graph.demo --port P` on a free loopback
port), so its memory and CPU are not the sync's. Each measurement runs in a fresh subprocess
(`python -m bench.sync_throughput --child …`) that calls the sync SERVICE function directly —
sync_inventory / sync_groups / sync_policies — with the same Graph client code as live mode
(`make_demo_graph_client(tenant, base_url=url)`) and PostgreSQL, inside a real run row (ensured
and marked running; progress written through RunContext at the worker's interval, the run
completed with the result). The subprocess reports its wall time, objects/s and peak RSS
(`ru_maxrss`; also its RSS before the sync). First sync: every object is created; second sync:
every object unchanged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

from bench.common import OUT, drop_pg, machine, scratch_pg, write_section

ROOT = Path(__file__).resolve().parent.parent
# (label, run type, demo tenant slug). WOODGROVE: 50,000 policy objects, 25,000 groups.
MEASUREMENTS = (
    ("inventory.sync", "woodgrove"),
    ("directory_groups.sync", "woodgrove"),
    ("policy.sync", "fabrikam"),
    ("policy.sync", "woodgrove"),
)
CHILD_TIMEOUT = 420  # seconds; a measurement that takes longer is reported as such


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _count_pacing(limiter) -> dict:
    """Count the Graph request units the client spends and the time it waits for its pacing
    budget (instruments this process's limiter instance; the client code is unchanged)."""
    stats = {"units": 0, "waited": 0.0}
    acquire = limiter.acquire

    async def counted(cost: int = 1) -> float:
        waited = await acquire(cost)
        stats["units"] += cost
        stats["waited"] += waited
        return waited

    limiter.acquire = counted
    return stats


def _count_db(engine) -> dict:
    """Statements sent and wall time spent inside cursor.execute (all threads)."""
    import sqlalchemy as sa

    stats = {"statements": 0, "seconds": 0.0}

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t0"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        stats["statements"] += 1
        stats["seconds"] += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    return stats


async def _child(run_type: str, db_url: str, graph_url: str, slug: str) -> dict:
    from opsapp.db import get_engine, session_scope
    from opsapp.features.groups.service import sync_groups
    from opsapp.features.inventory.service import sync_inventory
    from opsapp.features.policies.service import sync_policies
    from opsapp.graph.demo import make_demo_graph_client
    from opsapp.operations import lifecycle
    from opsapp.operations.catalog import get_type
    from opsapp.operations.results import finalise
    from opsapp.operations.service import ensure_run
    from opsapp.tenancy import get_tenant_by_slug
    from opsapp.worker.config import get_worker_settings
    from opsapp.worker.registry import RunContext

    engine = get_engine(db_url)
    inputs = get_type(run_type).identity.normalise({})
    with session_scope(engine) as session:
        tenant_id = get_tenant_by_slug(session, slug).id
        run_id = ensure_run(
            session,
            tenant_id=tenant_id,
            run_type=run_type,
            inputs=inputs,
            user_id=None,
            initiator_name="System",
        ).run.id
    lifecycle.mark_running(run_id, lost_after=timedelta(hours=1), engine=engine)
    ctx = RunContext(
        run_id=run_id,
        tenant_id=tenant_id,
        run_type=run_type,
        inputs=inputs,
        engine=engine,
        progress_interval=get_worker_settings().progress_interval_seconds,
    )
    graph = make_demo_graph_client(slug, base_url=graph_url)
    pacing, db = _count_pacing(graph.limiter), _count_db(engine)
    rss_before = _rss_kb()
    common = dict(
        engine=engine, graph=graph, tenant_id=tenant_id, report_progress=ctx.report_progress
    )
    t0 = time.perf_counter()
    try:
        if run_type == "inventory.sync":
            result = await sync_inventory(inputs=inputs, **common)
        elif run_type == "directory_groups.sync":
            result = await sync_groups(**common)
        else:
            result = await sync_policies(inputs=inputs, run_id=run_id, **common)
    finally:
        await graph.aclose()
    elapsed = time.perf_counter() - t0
    ctx.close()
    outcome, counts, failures = finalise(run_type, result)
    lifecycle.complete_run(
        run_id, outcome=outcome, summary_counts=counts, failures=failures, engine=engine
    )
    engine.dispose()
    return {
        "run_type": run_type,
        "tenant": slug,
        "seconds": elapsed,
        "counts": counts,
        "outcome": str(outcome.value),
        "failures": [f.get("code") for f in failures],
        "graph_units": pacing["units"],
        "db_statements": db["statements"],
        "db_seconds": db["seconds"],
        "paced_seconds": pacing["waited"],
        "rss_before_kb": rss_before,
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def child_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--graph", required=True)
    parser.add_argument("--tenant", required=True)
    args = parser.parse_args(argv)
    result = asyncio.run(_child(args.child, args.db, args.graph, args.tenant))
    print("RESULT " + json.dumps(result), flush=True)


# -- parent ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DemoGraph:
    """`python -m opsapp.graph.demo --port P` on loopback, in its own process group."""

    def __init__(self, bench: str = "sync_throughput") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        OUT.mkdir(exist_ok=True)
        self.log = OUT / f"{bench}-demo-graph.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "opsapp.graph.demo", "--port", str(self.port)],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url + "/", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # it answers (a 404 for "/" is fine)
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"demo Graph did not start; see {self.log}") from None
                time.sleep(0.2)

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def measure(run_type: str, db_url: str, graph_url: str, slug: str) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "bench.sync_throughput",
        "--child",
        run_type,
        "--db",
        db_url,
        "--graph",
        graph_url,
        "--tenant",
        slug,
    ]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return {"run_type": run_type, "tenant": slug, "timeout": CHILD_TIMEOUT}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line.removeprefix("RESULT "))
            result["process_seconds"] = time.perf_counter() - t0
            return result
    raise RuntimeError(f"{run_type} {slug} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def prepare(db_url: str) -> None:
    from opsapp.db import get_engine, session_scope
    from opsapp.graph.demo.tenants import DEMO_TENANTS
    from opsapp.migrate import upgrade
    from opsapp.models import ProviderKind
    from opsapp.tenancy import create_tenant

    upgrade(db_url)
    engine = get_engine(db_url)
    with session_scope(engine) as session:
        for demo in DEMO_TENANTS:
            create_tenant(
                session,
                slug=demo.slug,
                name=demo.name,
                entra_tenant_id=demo.entra_tenant_id,
                provider=ProviderKind.demo,
            )
    engine.dispose()


def _row(label: str, r: dict) -> str:
    if "timeout" in r:
        return f"| {r['run_type']} | {r['tenant']} | {label} | did not finish in {r['timeout']} s | | | | | | | |"
    c = r["counts"]
    objects = c.get("processed", c.get("total", 0))
    changes = ", ".join(
        f"{k} {c[k]:,}"
        for k in ("created", "updated", "unchanged", "removed", "failed")
        if c.get(k)
    )
    return (
        f"| {r['run_type']} | {r['tenant']} | {label} | {objects:,} in {r['seconds']:.1f} s "
        f"| **{objects / r['seconds']:,.0f}** | {changes} ({r['outcome']}) "
        f"| {r['graph_units']:,} / {r['paced_seconds']:.1f} s "
        f"| {r['db_statements']:,} / {r['db_seconds']:.1f} s "
        f"| {r['paced_seconds'] / r['seconds']:.0%} / {r['db_seconds'] / r['seconds']:.0%} "
        f"| **{r['peak_rss_kb'] / 1024:.0f} MB** | {r['rss_before_kb'] / 1024:.0f} MB |"
    )


def main() -> None:
    header = machine()
    url = scratch_pg()
    graph = None
    rows, notes = [], []
    try:
        prepare(url)
        graph = DemoGraph()
        for run_type, slug in MEASUREMENTS:
            first = measure(run_type, url, graph.url, slug)
            rows.append(_row("first (all created)", first))
            print(rows[-1], flush=True)
            if "timeout" in first:
                notes.append(f"{run_type} on {slug}: stopped after {CHILD_TIMEOUT} s")
                continue
            second = measure(run_type, url, graph.url, slug)
            rows.append(_row("second (all unchanged)", second))
            print(rows[-1], flush=True)
        graph_rss = graph.rss_kb()
    finally:
        if graph is not None:
            graph.stop()
        drop_pg(url)
    lines = [
        f"Machine: {header}",
        "",
        "Each row: a fresh subprocess running the sync service against PostgreSQL and the demo "
        "Graph over loopback HTTP (a separate process, paced by the client at the demo budget of "
        "20,000 requests / 20 s). Objects/s = processed objects ÷ the service call's wall time. "
        "Graph units = request units the client's pacing limiter charged (a `$batch` costs one "
        "per sub-request) and the time it waited for budget; DB = statements executed and wall "
        "time inside them (all threads). Peak RSS = the subprocess's `ru_maxrss` (imports "
        "included); RSS before = after imports, engine and client set up, before the sync.",
        "",
        "| run type | tenant | sync | objects | objects/s | result | Graph units / waited for "
        "pacing | DB statements / time in them | share of wall time: pacing / DB | peak RSS "
        "| RSS before |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"The demo Graph process (all three tenants generated) held {graph_rss / 1024:.0f} MB "
        "at the end; not counted above. The rest of each sync's wall time is Graph HTTP round "
        "trips (sequential: a page, then its `$batch`es, then per-object settings requests) and "
        "Python work in the sync process.",
        *(f"- {note}" for note in notes),
    ]
    body = "\n".join(lines)
    write_section("Sync throughput and memory (demo Graph over HTTP, PostgreSQL)", body)
    print(body)


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main(sys.argv[1:])
    else:
        main()
