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

Policy sync runs at 5 k, 50 k and 200 k objects (Fabrikam, Woodgrove and a bench-only 200 k
tenant the bench's demo Graph process also serves, generated lazily like the others) with an
unlimited pacing budget, plus two floors measured in the same run for the largest tenant: the
same rows written by a bare bulk INSERT (no lookups, no versions logic) and the same Graph reads
without any database work.

`--only policy.sync` measures the policy rows (and floors) only; `--tenants fabrikam,tailspin-bench`
only those tenants' rows (5 k for the memory baseline, 200 k with its floors). A partial run
prints its table and leaves RESULTS.md as it is.
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
from opsapp.graph.demo.tenants import DEMO_TENANTS, DemoTenant

ROOT = Path(__file__).resolve().parent.parent
# A bench-only demo tenant of 200,000 policy objects (served by the bench's demo Graph process
# only; objects are generated from their index on demand, like every demo tenant's).
TAILSPIN = DemoTenant(
    slug="tailspin-bench",
    name="Tailspin (bench, 200k)",
    entra_tenant_id="7a1c3e5f-2b4d-4f6a-8c0e-1d3f5a7b9c04",
    client_id="3a9c4d5e-6f7a-4b8c-9d0e-3f4a5b6c7d84",
    client_secret="tSp7Q~benchTailspinSecret.Mn3bVc6XzL9kJh2",
    size=200_000,
    seed=1004,
)
BENCH_TENANTS = (*DEMO_TENANTS, TAILSPIN)
# (label, run type, demo tenant slug). WOODGROVE: 50,000 policy objects, 25,000 groups.
MEASUREMENTS = (
    ("inventory.sync", "woodgrove"),
    ("directory_groups.sync", "woodgrove"),
    ("policy.sync", "fabrikam"),
    ("policy.sync", "woodgrove"),
    ("policy.sync", TAILSPIN.slug),
)
FLOOR_TENANT = TAILSPIN.slug
UNLIMITED = 1_000_000_000  # pacing budget units per window: never waits
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


def _tenant(slug: str) -> DemoTenant:
    return next(t for t in BENCH_TENANTS if t.slug == slug)


def _result(kind: str, slug: str, t0: float, objects: int, pacing: dict, db: dict, rss0: int):
    return {
        "run_type": kind,
        "tenant": slug,
        "seconds": time.perf_counter() - t0,
        "counts": {"processed": objects},
        "outcome": "floor",
        "failures": [],
        "graph_units": pacing["units"],
        "db_statements": db["statements"],
        "db_seconds": db["seconds"],
        "paced_seconds": pacing["waited"],
        "rss_before_kb": rss0,
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


async def _floor_reads(graph_url: str, slug: str) -> dict:
    """The policy sync's Graph reads alone: every listing page, every assignments / settings
    `$batch` (the same pipelined reads, FETCHES at a time), no database."""
    from opsapp.features.policies.service import _complete_all
    from opsapp.graph import MAX_BATCH_REQUESTS
    from opsapp.graph.demo import make_demo_graph_client
    from opsapp.operations.catalog import get_type

    inputs = get_type("policy.sync").identity.normalise({})
    graph = make_demo_graph_client(
        _tenant(slug), base_url=graph_url, max_requests_per_window=UNLIMITED
    )
    pacing, rss0, objects = _count_pacing(graph.limiter), _rss_kb(), 0
    t0 = time.perf_counter()
    try:
        for policy_type in inputs["policy_types"]:
            batch: list[dict] = []
            async for item in graph.list_policies(policy_type):
                batch.append(item)
                if len(batch) >= 25 * MAX_BATCH_REQUESTS:
                    objects += len(await _complete_all(graph, policy_type, batch, []))
                    batch = []
            objects += len(await _complete_all(graph, policy_type, batch, []))
    finally:
        await graph.aclose()
    return _result("floor: Graph reads only", slug, t0, objects, pacing, {"statements": 0,
                   "seconds": 0.0}, rss0)  # fmt: skip


def _floor_insert(db_url: str, slug: str) -> dict:
    """The rows the first policy sync stored (policies and their versions), written again by a
    bare multi-row INSERT per 500 (the sync's jsonb_to_recordset INSERT) into same-shaped scratch
    tables (same indexes, no lookups, no ON CONFLICT, no version logic). Rows are read back in id order, 500 at a time; only the INSERTs are timed."""
    import sqlalchemy as sa
    from sqlmodel import Session

    from opsapp.db import get_engine
    from opsapp.features.reconcile import bulk_insert
    from opsapp.models import Policy, PolicyVersion
    from opsapp.tenancy import get_tenant_by_slug

    engine = get_engine(db_url)
    with Session(engine) as session:
        tenant_id = get_tenant_by_slug(session, slug).id
    p_cols = [c.name for c in Policy.__table__.columns if c.name != "id"]
    v_cols = [c.name for c in PolicyVersion.__table__.columns if c.name != "id"]
    with engine.begin() as conn:
        for name, like in (("floor_policies", "policies"), ("floor_versions", "policy_versions")):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
            conn.execute(sa.text(f"CREATE TABLE {name} (LIKE {like} INCLUDING ALL)"))
    meta = sa.MetaData()
    floor_p = sa.Table("floor_policies", meta, autoload_with=engine)
    floor_v = sa.Table("floor_versions", meta, autoload_with=engine)
    db, rss0 = {"statements": 0, "seconds": 0.0}, _rss_kb()
    p, v = Policy.__table__, PolicyVersion.__table__
    after, objects, t0 = 0, 0, time.perf_counter()
    with engine.connect() as conn:
        while True:
            rows = (
                conn.execute(
                    sa.select(p, *(v.c[c].label(f"v_{c}") for c in v_cols))
                    .join(v, v.c.id == p.c.current_version_id)
                    .where(p.c.tenant_id == tenant_id, p.c.id > after)
                    .order_by(p.c.id)
                    .limit(500)
                )
                .mappings()
                .all()
            )
            if not rows:
                break
            after = rows[-1]["id"]
            policies = [{c: r[c] for c in p_cols} for r in rows]
            versions = [{c: r[f"v_{c}"] for c in v_cols} for r in rows]
            started = time.perf_counter()
            with engine.begin() as write:  # the sync's own multi-row INSERT (jsonb_to_recordset)
                bulk_insert(write, floor_p, policies)
                bulk_insert(write, floor_v, versions)
            db["seconds"] += time.perf_counter() - started
            db["statements"] += 2
            objects += len(rows)
    seconds = db["seconds"]
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE floor_policies"))
        conn.execute(sa.text("DROP TABLE floor_versions"))
    engine.dispose()
    result = _result("floor: bare bulk INSERT", slug, t0, objects, {"units": 0, "waited": 0.0},
                     db, rss0)  # fmt: skip
    result["seconds"] = seconds  # objects/s of the INSERTs alone
    return result


async def _child(run_type: str, db_url: str, graph_url: str, slug: str) -> dict:
    if run_type == "floor.reads":
        return await _floor_reads(graph_url, slug)
    if run_type == "floor.insert":
        return _floor_insert(db_url, slug)
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
    # Policy rows at an unlimited budget; inventory and groups at the demo budget as before.
    budget = {"max_requests_per_window": UNLIMITED} if run_type == "policy.sync" else {}
    graph = make_demo_graph_client(_tenant(slug), base_url=graph_url, **budget)
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


def serve_graph(port: int) -> None:
    """The demo Graph (`opsapp.graph.demo.serve`) with the demo tenants plus TAILSPIN."""
    from opsapp.graph.demo import create_demo_app, serve

    serve(port=port, app=create_demo_app(tenants=BENCH_TENANTS), log_level="warning")


class DemoGraph:
    """The demo Graph with the bench tenants on loopback, in its own process group."""

    def __init__(self, bench: str = "sync_throughput") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        OUT.mkdir(exist_ok=True)
        self.log = OUT / f"{bench}-demo-graph.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bench.sync_throughput", "--serve-graph", str(self.port)],
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
    from opsapp.migrate import upgrade
    from opsapp.models import ProviderKind
    from opsapp.tenancy import create_tenant

    upgrade(db_url)
    engine = get_engine(db_url)
    with session_scope(engine) as session:
        for demo in BENCH_TENANTS:
            create_tenant(
                session,
                slug=demo.slug,
                name=demo.name,
                entra_tenant_id=demo.entra_tenant_id,
                provider=ProviderKind.demo,
            )
    engine.dispose()


def _row(label: str, r: dict, base_peak_kb: int | None = None) -> str:
    if "timeout" in r:
        return f"| {r['run_type']} | {r['tenant']} | {label} | did not finish in {r['timeout']} s | | | | | | | | |"
    c = r["counts"]
    objects = c.get("processed", c.get("total", 0))
    changes = ", ".join(
        f"{k} {c[k]:,}"
        for k in ("created", "updated", "unchanged", "removed", "failed")
        if c.get(k)
    )
    growth = (
        f"{(r['peak_rss_kb'] - base_peak_kb) / 1024:+.0f} MB" if base_peak_kb is not None else ""
    )
    return (
        f"| {r['run_type']} | {r['tenant']} | {label} | {objects:,} in {r['seconds']:.1f} s "
        f"| **{objects / r['seconds']:,.0f}** | {changes or '–'} ({r['outcome']}) "
        f"| {r['graph_units']:,} / {r['paced_seconds']:.1f} s "
        f"| {r['db_statements']:,} / {r['db_seconds']:.1f} s "
        f"| {r['paced_seconds'] / r['seconds']:.0%} / {r['db_seconds'] / r['seconds']:.0%} "
        f"| **{r['peak_rss_kb'] / 1024:.0f} MB** | {r['rss_before_kb'] / 1024:.0f} MB | {growth} |"
    )


def _rate(r: dict) -> float:
    return r["counts"].get("processed", 0) / r["seconds"] if "seconds" in r else 0.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="", help="run types to measure (comma separated)")
    parser.add_argument(
        "--tenants",
        default="",
        help="tenant slugs to measure (comma separated), e.g. fabrikam,tailspin-bench; the "
        "floors run only with the largest tenant, the memory growth column only with fabrikam",
    )
    args = parser.parse_args(argv)
    only = {x for x in args.only.split(",") if x}
    tenants = {x for x in args.tenants.split(",") if x}
    header = machine()
    url = scratch_pg()
    graph = None
    rows, notes, results = [], [], {}
    try:
        prepare(url)
        graph = DemoGraph()
        base: dict[str, int] = {}  # run type / sync -> peak RSS of its 5 k run
        for run_type, slug in MEASUREMENTS:
            if (only and run_type not in only) or (tenants and slug not in tenants):
                continue
            for label in ("first (all created)", "second (all unchanged)"):
                r = measure(run_type, url, graph.url, slug)
                results[(run_type, slug, label)] = r
                key = f"{run_type} {label}"
                growth_base = None
                if run_type == "policy.sync" and "timeout" not in r:
                    if slug == "fabrikam":
                        base[key] = r["peak_rss_kb"]
                    growth_base = base.get(key)
                rows.append(_row(label, r, growth_base))
                print(rows[-1], flush=True)
                if "timeout" in r:
                    notes.append(f"{run_type} on {slug}: stopped after {CHILD_TIMEOUT} s")
                    break
        if (not only or "policy.sync" in only) and (not tenants or FLOOR_TENANT in tenants):
            for kind in ("floor.insert", "floor.reads"):
                r = measure(kind, url, graph.url, FLOOR_TENANT)
                results[(kind, FLOOR_TENANT, "")] = r
                rows.append(_row("floor", r))
                print(rows[-1], flush=True)
        graph_rss = graph.rss_kb()
    finally:
        if graph is not None:
            graph.stop()
        drop_pg(url)
    first = results.get(("policy.sync", FLOOR_TENANT, "first (all created)"), {})
    second = results.get(("policy.sync", FLOOR_TENANT, "second (all unchanged)"), {})
    insert = results.get(("floor.insert", FLOOR_TENANT, ""), {})
    reads = results.get(("floor.reads", FLOOR_TENANT, ""), {})
    ratios = []
    if first and insert and reads and "seconds" in first:
        ratios = [
            f"Floors at {TAILSPIN.size:,} policies: the bare bulk INSERT of the same rows runs at "
            f"{_rate(insert):,.0f} rows/s ({insert['db_seconds']:.1f} s), the sync's first run "
            f"spent {first['db_seconds']:.1f} s in {first['db_statements']:,} statements "
            f"({first['db_seconds'] / max(insert['db_seconds'], 1e-9):.1f}× the floor's DB "
            f"time); the Graph reads alone run at {_rate(reads):,.0f} objects/s, the first sync "
            f"at {_rate(first):,.0f} ({_rate(first) / max(_rate(reads), 1e-9):.0%} of the read "
            f"floor), the second at {_rate(second):,.0f} "
            f"({_rate(second) / max(_rate(reads), 1e-9):.0%}).",
        ]
    lines = [
        f"Machine: {header}",
        "",
        "Each row: a fresh subprocess running the sync service against PostgreSQL and the demo "
        "Graph over loopback HTTP (a separate process). Inventory and groups rows are paced by "
        "the client at the demo budget (20,000 requests / 20 s); policy rows at an unlimited "
        "budget (the pacer still counts units, it never waits). Objects/s = processed objects "
        "÷ the service call's wall time. Graph units = request units the client's pacing "
        "limiter charged (a `$batch` costs one per sub-request) and the time it waited for "
        "budget; DB = statements executed and wall time inside them (all threads). Peak RSS = "
        "the subprocess's `ru_maxrss` (imports included); RSS before = after imports, engine "
        "and client set up, before the sync; growth = peak RSS minus the same sync's peak at "
        "5 k objects (Fabrikam). Policy tenants: Fabrikam 5,000, Woodgrove 50,000, "
        f"{TAILSPIN.name} {TAILSPIN.size:,} objects (bench-only, lazily generated).",
        "",
        "| run type | tenant | sync | objects | objects/s | result | Graph units / waited for "
        "pacing | DB statements / time in them | share of wall time: pacing / DB | peak RSS "
        "| RSS before | peak RSS growth vs 5 k |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Floor rows (same bench run, largest tenant): *bare bulk INSERT* = the rows the first "
        "policy sync stored (policy + its current version) read back 500 at a time and written "
        "by one multi-row INSERT per table per 500 (the sync's `jsonb_to_recordset` INSERT, "
        "without lookups, ON CONFLICT or the version pointer UPDATE) into same-shaped scratch "
        "tables (same indexes, no foreign keys); objects/s there is over the INSERTs' time only. *Graph reads only* = the "
        "same listing pages and assignments / settings `$batch`es as the sync (same read-ahead "
        "concurrency), no database.",
        *ratios,
        "",
        f"The demo Graph process (all tenants generated) held {graph_rss / 1024:.0f} MB "
        "at the end; not counted above.",
        *(f"- {note}" for note in notes),
    ]
    body = "\n".join(lines)
    if only or tenants:
        print(body)
        return  # a partial run does not replace the section
    write_section("Sync throughput and memory (demo Graph over HTTP, PostgreSQL)", body)
    print(body)


if __name__ == "__main__":
    if "--serve-graph" in sys.argv:
        serve_graph(int(sys.argv[sys.argv.index("--serve-graph") + 1]))
    elif "--child" in sys.argv:
        child_main(sys.argv[1:])
    else:
        main(sys.argv[1:])
