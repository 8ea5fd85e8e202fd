"""Backup capture: 1,000 policies added to a backup set over HTTP from the demo Graph.

The demo Graph runs as its own process (`python -m opsapp.graph.demo --port P` on a free loopback
port). This process calls the `backup_set.add_policies` SERVICE (`add_policies`, what the task
body runs) with the same Graph client code as live mode (`make_demo_graph_client(tenant,
base_url=url)`, real pacing at the demo budget) and PostgreSQL. Fabrikam's policies are synced
first (policy.sync's service), then 1,000 of them — every 5th by id, so every type is in — are
captured into a fresh set per repetition.

Beside it, the floor: the bare `$batch` GETs of the same sub-requests (payload, assignments,
settings-catalog settings; 20 per round trip, the same concurrency), parsed and discarded — no
snapshot, no database. Floor and capture are interleaved, after one warm-up of each, repeated
REPS times. Graph requests are counted by the demo server (HTTP requests to its Graph routes,
a `$batch` counts once; token requests apart). Each measurement gets its own pacing limiter
(the real limiter code, demo budget of 20,000 units / 20 s), so one repetition's requests do not
throttle the next.

Then the reuse path: the same 1,000 captured into another set — PolicyVersions before/after
(identical snapshots reuse their version) — and after 100 policies are modified in the demo
Graph, once more (exactly the modified ones get a new version).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import urllib.request

from bench.common import drop_pg, machine, scratch_pg, write_section
from bench.sync_throughput import DemoGraph

TENANT = "fabrikam"  # 5,000 policy objects
POLICIES = 1000
REPS = 5


def _stats(graph_url: str) -> dict:
    with urllib.request.urlopen(f"{graph_url}/_demo/tenants/{TENANT}/stats", timeout=10) as r:
        return json.loads(r.read())


def _post(graph_url: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{graph_url}/_demo/tenants/{TENANT}/{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())


def _client(graph_url: str):
    from opsapp.graph.demo import make_demo_graph_client
    from opsapp.graph.demo.server import DEMO_REQUESTS_PER_WINDOW
    from opsapp.graph.pacing import SlidingWindowLimiter

    limiter = SlidingWindowLimiter(max_requests=DEMO_REQUESTS_PER_WINDOW, window_s=20.0)
    return make_demo_graph_client(TENANT, base_url=graph_url, limiter=limiter)


async def _progress(counts, final=False) -> None:
    return None


def prepare(db_url: str) -> int:
    from opsapp.db import get_engine, session_scope
    from opsapp.graph.demo.tenants import find_demo_tenant
    from opsapp.migrate import upgrade
    from opsapp.models import ProviderKind
    from opsapp.tenancy import create_tenant

    upgrade(db_url)
    demo = find_demo_tenant(TENANT)
    with session_scope(get_engine(db_url)) as session:
        tenant = create_tenant(
            session,
            slug=demo.slug,
            name=demo.name,
            entra_tenant_id=demo.entra_tenant_id,
            provider=ProviderKind.demo,
        )
        return tenant.id


async def sync_all(engine, graph_url: str, tenant_id: int) -> None:
    from opsapp.features.policies.service import sync_policies
    from opsapp.operations.catalog import get_type

    graph = _client(graph_url)
    try:
        result = await sync_policies(
            engine=engine,
            graph=graph,
            tenant_id=tenant_id,
            inputs=get_type("policy.sync").identity.normalise({}),
            run_id=None,
            report_progress=_progress,
        )
    finally:
        await graph.aclose()
    assert not result.item_failures, result.item_failures


def pick(engine, tenant_id: int) -> list[tuple[int, str, str]]:
    import sqlalchemy as sa

    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, policy_type, graph_id FROM policies WHERE tenant_id = :t "
                "AND removed_at IS NULL ORDER BY id"
            ),
            {"t": tenant_id},
        ).all()
    return [tuple(r) for r in rows[::5][:POLICIES]]


def count(engine, table: str) -> int:
    import sqlalchemy as sa

    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


async def capture_once(engine, graph_url: str, tenant_id: int, ids: list[int], name: str) -> dict:
    from opsapp.db import session_scope
    from opsapp.features.backups.service import add_policies
    from opsapp.features.backups.sets import create_backup_set

    with session_scope(engine) as session:
        set_id = create_backup_set(session, tenant_id=tenant_id, name=name).id
    inputs = {
        "backup_set_id": set_id,
        "policy_ids": ids,
        "include_assignments": True,
        "include_scope_tags": True,
    }
    versions = count(engine, "policy_versions")
    graph = _client(graph_url)
    before = _stats(graph_url)["graph_requests"]
    t0 = time.perf_counter()
    try:
        result = await add_policies(
            engine=engine,
            graph=graph,
            tenant_id=tenant_id,
            inputs=inputs,
            run_id=None,
            report_progress=_progress,
        )
    finally:
        await graph.aclose()
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "requests": _stats(graph_url)["graph_requests"] - before,
        "counts": result.counts,
        "failures": len(result.item_failures),
        "versions_before": versions,
        "versions_after": count(engine, "policy_versions"),
    }


async def floor_once(graph_url: str, picked: list[tuple[int, str, str]]) -> dict:
    """The same sub-requests as a capture, as bare `$batch` GETs (20 per round trip, groups of
    100 policies at a time with their batches concurrent — the capture's shape), discarded."""
    from opsapp.features.backups.capture import GROUP, SETTINGS_CATALOG
    from opsapp.policy_types import POLICY_TYPES_BY_KEY

    by_type: dict[str, list[str]] = {}
    for _, policy_type, graph_id in picked:
        by_type.setdefault(policy_type, []).append(graph_id)
    graph = _client(graph_url)
    before = _stats(graph_url)["graph_requests"]
    t0 = time.perf_counter()
    try:
        for policy_type, ids in by_type.items():
            ptype = POLICY_TYPES_BY_KEY[policy_type]
            for start in range(0, len(ids), GROUP):
                group = ids[start : start + GROUP]
                calls = []
                for i in range(0, len(group), 20):
                    chunk = group[i : i + 20]
                    kinds = [""] + (["/assignments"] if ptype.has_assignments else [])
                    kinds += ["/settings"] if policy_type == SETTINGS_CATALOG else []
                    for kind in kinds:
                        paths = [f"{ptype.graph_path}/{g}{kind}" for g in chunk]
                        calls.append(graph.batch_get(paths, api_version=ptype.api_version))
                await asyncio.gather(*calls)
    finally:
        await graph.aclose()
    return {
        "seconds": time.perf_counter() - t0,
        "requests": _stats(graph_url)["graph_requests"] - before,
    }


def _ms(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})"
    )


async def run(db_url: str, graph_url: str) -> str:
    from opsapp.db import get_engine

    tenant_id = prepare(db_url)
    engine = get_engine(db_url)
    t0 = time.perf_counter()
    await sync_all(engine, graph_url, tenant_id)
    sync_seconds = time.perf_counter() - t0
    picked = pick(engine, tenant_id)
    ids = [p[0] for p in picked]
    types = sorted({p[1] for p in picked})

    await floor_once(graph_url, picked)  # warm-up
    await capture_once(engine, graph_url, tenant_id, ids, "warm-up")
    floors, captures = [], []
    for rep in range(REPS):
        floors.append(await floor_once(graph_url, picked))
        captures.append(await capture_once(engine, graph_url, tenant_id, ids, f"rep {rep + 1}"))
        print(
            f"rep {rep + 1}: floor {floors[-1]['seconds']:.2f} s, "
            f"capture {captures[-1]['seconds']:.2f} s",
            file=sys.stderr,
            flush=True,
        )
    reuse = await capture_once(engine, graph_url, tenant_id, ids, "reuse")
    modified = _post(graph_url, "mutate", {"modify": 100, "seed": 11})["modified"]
    modified_ids = {m["id"] for m in modified}
    hit = sum(1 for _, _, g in picked if g in modified_ids)
    changed = await capture_once(engine, graph_url, tenant_id, ids, "after modify")
    engine.dispose()

    cap_s = [c["seconds"] for c in captures]
    floor_s = [f["seconds"] for f in floors]
    cap_req = [c["requests"] for c in captures]
    floor_req = [f["requests"] for f in floors]
    assert all(c["counts"]["created"] == POLICIES and not c["failures"] for c in captures)
    rate = [POLICIES / s for s in cap_s]
    floor_rate = [POLICIES / s for s in floor_s]
    lines = [
        f"Machine: {machine()}",
        "",
        f"{POLICIES:,} of {TENANT}'s policies (every 5th by id; types: {', '.join(types)}), "
        f"synced first with policy.sync's service ({sync_seconds:.1f} s for all 5,000). Each "
        "capture: `add_policies` (the task body's service) into a fresh set — payload GETs, "
        "assignments and settings-catalog settings through `$batch`, snapshots stored as "
        "versions (reused when identical), items inserted. Floor: the bare `$batch` GETs of the "
        "same sub-requests, same concurrency, answers discarded. Interleaved, after a warm-up "
        f"of each, {REPS} repetitions; Graph requests counted by the demo server.",
        "",
        "| measurement | wall time | policies/s | Graph HTTP requests | requests / policy |",
        "|---|---|---|---|---|",
        f"| capture into a set | {_ms(cap_s)} | **{statistics.median(rate):,.0f}** "
        f"(min {min(rate):,.0f}) | {statistics.median(cap_req):,.0f} "
        f"| **{statistics.median(cap_req) / POLICIES:.3f}** |",
        f"| floor: bare `$batch` GETs | {_ms(floor_s)} | {statistics.median(floor_rate):,.0f} "
        f"| {statistics.median(floor_req):,.0f} | {statistics.median(floor_req) / POLICIES:.3f} |",
        "",
        f"Capture ÷ floor (median wall time): {statistics.median(cap_s) / statistics.median(floor_s):.2f}×. "
        "Goals: ≥ 300 policies/s, ≤ 0.2 requests per policy.",
        "",
        "Reuse path (PolicyVersions in the database before → after one capture of the 1,000):",
        "",
        "| capture | versions before → after | new versions | items created |",
        "|---|---|---|---|",
        f"| unchanged policies again (new set) | {reuse['versions_before']:,} → "
        f"{reuse['versions_after']:,} | **{reuse['versions_after'] - reuse['versions_before']}** "
        f"| {reuse['counts']['created']:,} |",
        f"| after 100 random Graph modifications ({hit} of them among the 1,000) "
        f"| {changed['versions_before']:,} → {changed['versions_after']:,} "
        f"| **{changed['versions_after'] - changed['versions_before']}** "
        f"| {changed['counts']['created']:,} |",
    ]
    return "\n".join(lines)


def main() -> None:
    url = scratch_pg()
    graph = None
    try:
        graph = DemoGraph()
        body = asyncio.run(run(url, graph.url))
    finally:
        if graph is not None:
            graph.stop()
        drop_pg(url)
    print(body)
    write_section("Backup capture (demo Graph over HTTP, PostgreSQL)", body)


if __name__ == "__main__":
    main()
