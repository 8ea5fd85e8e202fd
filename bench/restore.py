"""Restore preview and execute: 500 items against the demo Graph over HTTP, PostgreSQL.

The demo Graph runs as its own process (`python -m opsapp.graph.demo --port P` on a free loopback
port). This process calls the restore code itself — `create_draft`, `preview` (reads the live
tenant through `$batch`) and `execute_restore` (the restore.execute task body's service: update
each planned item with its type's verb, then `POST …/assign`) — with the same Graph client code
as live mode (`make_demo_graph_client(tenant, base_url=url)`) under its DEFAULT pacing: no limiter
is injected, so every client shares the process-wide limiter of the demo tenant (the demo budget,
20,000 units / 20 s; live Graph's default is 1,000 units / 20 s).

Setup, once: fabrikam (5,000 policy objects) synced with policy.sync's service, and 500 of its
policies (every 10th by id, so every type is in) captured into one backup set with
`add_policies`. Each repetition starts from a reset demo tenant (`POST /_demo/…/reset`: the
seeded state, which is what the set captured), changes some of the 500 through the demo admin
API (`PATCH /_demo/tenants/<t>/policies/<type>/<id>`, a new `description`), makes a draft of the
whole set, previews it and executes it.

Scenarios: 10 % of the items differ (50 random ones, a new draw per repetition), and all 500
differ (the worst case for writes). Floors, interleaved with the real runs (order alternating per
repetition): the preview's exact `$batch` sub-requests, replayed with `graph.batch_get` in the
same order and grouping (recorded from a warm-up preview of the same shape), answers discarded;
and the execute's writes — the same PATCH/PUT bodies and `/assign` bodies, built beforehand —
sent with `graph.patch`/`put`/`post` at execute's concurrency (4 items at a time), no database.

Graph requests are counted by the demo server (its `graph_requests` counter: HTTP requests to
Graph routes, a `$batch` counts once, token requests apart) and split by kind client-side (httpx
request hooks on the bench's client: `$batch` reads vs PATCH/PUT vs `/assign` POSTs); the two
totals are checked to agree. After each execute, an untimed verification preview of a fresh draft
must find all 500 unchanged.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import sys
import time
import urllib.request
from collections import Counter
from typing import Any

from bench.common import drop_pg, machine, scratch_pg, write_section
from bench.sync_throughput import DemoGraph

TENANT = "fabrikam"  # 5,000 policy objects
ITEMS = 500
STRIDE = 10  # every 10th synced policy by id
DIFFER_SOME = 50  # ~10 %
REPS = 5
SEED = 20260

TITLE = "Restore preview and execute (demo Graph over HTTP, PostgreSQL)"
GOAL = (
    '"Preview of 500 items and execute of 500 items against the demo Graph under its default '
    'pacing: items/s and Graph requests per item."'
)


# -- demo admin over HTTP ------------------------------------------------------------------
def _admin(graph_url: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{graph_url}/_demo/tenants/{TENANT}/{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())


def _graph_requests(graph_url: str) -> int:
    return _admin(graph_url, "GET", "stats")["graph_requests"]


def reset_and_change(graph_url: str, picked: list[tuple], changed: list[tuple], tag: str) -> None:
    """The seeded tenant again, then a new `description` on each of `changed`."""
    _admin(graph_url, "POST", "reset", {})
    for _, policy_type, graph_id in changed:
        _admin(
            graph_url,
            "PATCH",
            f"policies/{policy_type}/{graph_id}",
            {"description": f"changed by bench.restore ({tag})"},
        )


# -- the client, with a request tally --------------------------------------------------------
class Tally:
    """Counts the requests a client sends, by kind (read / update / assign / create / other)."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.batches: list[tuple[str, list[str]]] = []  # (api version, sub-request urls)
        self.record_batches = False

    async def hook(self, request) -> None:
        path = request.url.path
        if "/oauth2/" in path:
            self.kinds["token"] += 1
            return
        if request.method == "POST" and path.endswith("/$batch"):
            self.kinds["read ($batch)"] += 1
            if self.record_batches:
                body = json.loads(request.content)
                version = path.strip("/").split("/")[0]
                self.batches.append((version, [r["url"].lstrip("/") for r in body["requests"]]))
        elif request.method in ("PATCH", "PUT"):
            self.kinds[f"update ({request.method})"] += 1
        elif request.method == "POST" and path.endswith("/assign"):
            self.kinds["assign (POST)"] += 1
        elif request.method == "POST":
            self.kinds["create (POST)"] += 1
        else:
            self.kinds[f"other ({request.method})"] += 1

    def graph_total(self) -> int:
        return sum(n for k, n in self.kinds.items() if k != "token")


class Waits:
    """Wraps the (shared, default) pacing limiter's `acquire` to sum units and waits."""

    def __init__(self) -> None:
        self.units = 0
        self.waited = 0.0
        self._orig = None

    def install(self, limiter) -> None:
        if getattr(limiter, "_bench_waits", None) is not None:
            limiter._bench_waits.append(self)
            return
        limiter._bench_waits = [self]
        orig = limiter.acquire

        async def acquire(cost: int = 1) -> float:
            waited = await orig(cost)
            for w in limiter._bench_waits:
                w.units += cost
                w.waited += waited
            return waited

        limiter.acquire = acquire

    def remove(self, limiter) -> None:
        limiter._bench_waits.remove(self)


class Measured:
    """A fresh demo Graph client (default pacing) with a tally, a limiter probe and a clock."""

    def __init__(self, graph_url: str, *, record_batches: bool = False) -> None:
        from opsapp.graph.demo import make_demo_graph_client

        self.graph_url = graph_url
        self.graph = make_demo_graph_client(TENANT, base_url=graph_url)
        self.tally = Tally()
        self.tally.record_batches = record_batches
        self.graph._http.event_hooks["request"].append(self.tally.hook)
        self.waits = Waits()

    async def __aenter__(self) -> Measured:
        await self.graph._tokens.get()  # the token first: not part of any measurement
        await settle(self.graph.limiter)
        self.waits.install(self.graph.limiter)
        self.before = _graph_requests(self.graph_url)
        self.t0 = time.perf_counter()
        return self

    async def __aexit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.requests = _graph_requests(self.graph_url) - self.before
        self.waits.remove(self.graph.limiter)
        await self.graph.aclose()
        if exc[0] is None:
            assert self.requests == self.tally.graph_total(), (self.requests, self.tally.kinds)

    def result(self, **extra: Any) -> dict:
        return {
            "seconds": self.seconds,
            "requests": self.requests,
            "kinds": dict(self.tally.kinds),
            "units": self.waits.units,
            "waited": self.waits.waited,
            **extra,
        }


async def _progress(counts, final=False) -> None:
    return None


SETTLED = {"seconds": 0.0, "times": 0}


async def settle(limiter) -> None:
    """Wait (untimed) until the shared window is at most half full: no measurement needs more
    than ~1,600 units, so the one that follows never waits for units the bench spent before it
    (the sync, warm-ups, floors and verifications of earlier steps share the same window)."""
    t0 = time.perf_counter()
    waited = False
    while limiter.in_window() > limiter.max_requests // 2:
        waited = True
        await asyncio.sleep(0.2)
    if waited:
        SETTLED["seconds"] += time.perf_counter() - t0
        SETTLED["times"] += 1


class RecordTimer:
    """Sums the time execute spends in its per-item result transaction (`execute._record`,
    run in a worker thread once per item) by wrapping the module function at runtime."""

    def __init__(self) -> None:
        import opsapp.features.restore.execute as execute

        self.module, self.orig = execute, execute._record
        self.calls, self.seconds = 0, 0.0

    def __enter__(self) -> RecordTimer:
        def timed(*args, **kw):
            t0 = time.perf_counter()
            try:
                return self.orig(*args, **kw)
            finally:
                self.calls += 1
                self.seconds += time.perf_counter() - t0

        self.module._record = timed
        return self

    def __exit__(self, *exc) -> None:
        self.module._record = self.orig


# -- setup -----------------------------------------------------------------------------------
def prepare(db_url: str) -> tuple[int, int]:
    from opsapp.db import get_engine, session_scope
    from opsapp.graph.demo.tenants import find_demo_tenant
    from opsapp.migrate import upgrade
    from opsapp.models import ProviderKind, Role
    from opsapp.tenancy import create_tenant, create_user, set_membership

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
        user = create_user(
            session,
            email="operator@restore.example.test",
            password="correct horse battery staple",
            display_name="Bench Operator",
        )
        set_membership(session, tenant=tenant, user=user, role=Role.operator)
        return tenant.id, user.id


async def sync_and_back_up(engine, graph_url: str, tenant_id: int) -> tuple[int, list, dict]:
    """Sync all of fabrikam, capture every 10th policy into a set: (set id, [(policy id, type,
    graph id)], {"sync": s, "capture": s})."""
    import sqlalchemy as sa

    from opsapp.db import session_scope
    from opsapp.features.backups.service import add_policies
    from opsapp.features.backups.sets import create_backup_set
    from opsapp.features.policies.service import sync_policies
    from opsapp.graph.demo import make_demo_graph_client
    from opsapp.operations.catalog import get_type

    graph = make_demo_graph_client(TENANT, base_url=graph_url)
    times = {}
    try:
        t0 = time.perf_counter()
        result = await sync_policies(
            engine=engine,
            graph=graph,
            tenant_id=tenant_id,
            inputs=get_type("policy.sync").identity.normalise({}),
            run_id=None,
            report_progress=_progress,
        )
        assert not result.item_failures, result.item_failures
        times["sync"] = time.perf_counter() - t0
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT id, policy_type, graph_id FROM policies WHERE tenant_id = :t "
                    "AND removed_at IS NULL ORDER BY id"
                ),
                {"t": tenant_id},
            ).all()
        picked = [tuple(r) for r in rows[::STRIDE][:ITEMS]]
        assert len(picked) == ITEMS, len(picked)
        with session_scope(engine) as session:
            set_id = create_backup_set(session, tenant_id=tenant_id, name="restore bench").id
        t0 = time.perf_counter()
        captured = await add_policies(
            engine=engine,
            graph=graph,
            tenant_id=tenant_id,
            inputs={
                "backup_set_id": set_id,
                "policy_ids": [p[0] for p in picked],
                "include_assignments": True,
                "include_scope_tags": True,
            },
            run_id=None,
            report_progress=_progress,
        )
        assert captured.counts["created"] == ITEMS and not captured.item_failures, captured
        times["capture"] = time.perf_counter() - t0
    finally:
        await graph.aclose()
    return set_id, picked, times


def new_draft(engine, tenant_id: int, user_id: int, set_id: int) -> tuple[int, float]:
    from opsapp.db import session_scope
    from opsapp.features.restore.drafts import create_draft

    t0 = time.perf_counter()
    with session_scope(engine) as session:
        restore = create_draft(
            session,
            tenant_id=tenant_id,
            backup_set_id=set_id,
            user_id=user_id,
            user_name="Bench Operator",
        )
        restore_id = restore.id
    return restore_id, time.perf_counter() - t0


# -- the real runs ---------------------------------------------------------------------------
async def run_preview(
    engine, graph_url: str, tenant_id: int, user_id: int, restore_id: int, *, record=False
) -> tuple[dict, list]:
    from opsapp.features.restore.preview import preview

    async with Measured(graph_url, record_batches=record) as m:
        counts = await preview(
            engine,
            m.graph,
            tenant_id=tenant_id,
            restore_id=restore_id,
            user_id=user_id,
            user_name="Bench Operator",
        )
    return m.result(counts=counts), m.tally.batches


async def run_execute(engine, graph_url: str, tenant_id: int, restore_id: int) -> dict:
    from opsapp.features.restore.execute import execute_restore

    with RecordTimer() as rec:
        async with Measured(graph_url) as m:
            result = await execute_restore(
                engine=engine,
                graph=m.graph,
                tenant_id=tenant_id,
                inputs={"restore_run_id": restore_id},
                run_id=None,
                report_progress=_progress,
            )
    return m.result(
        counts=result.counts,
        failures=len(result.item_failures),
        record_calls=rec.calls,
        record_s=rec.seconds,
    )


# -- the floors ------------------------------------------------------------------------------
async def floor_preview(graph_url: str, batches: list[tuple[str, list[str]]]) -> dict:
    """The preview's `$batch` calls, replayed one after another (as preview sends them)."""
    async with Measured(graph_url) as m:
        for version, paths in batches:
            answers = await m.graph.batch_get(paths, api_version=version)
            assert len(answers) == len(paths)
    return m.result()


def write_plan(engine, tenant_id: int, restore_id: int) -> list[tuple[str, str, str, dict, Any]]:
    """The writes execute will send for a previewed restore: (verb, path, api version, body,
    assign body or None), built with execute's own helpers (untimed)."""
    from opsapp.features.restore.execute import _assignments, _body, _load, _needs_assign
    from opsapp.models import ItemAction
    from opsapp.policy_types import POLICY_TYPES_BY_KEY

    _restore, work, settings = _load(engine, tenant_id, restore_id)
    writes = []
    for source, action, _policy_id, changes in work:
        if action != ItemAction.update.value:
            continue
        ptype = POLICY_TYPES_BY_KEY[source.policy_type]
        path = f"{ptype.graph_path}/{source.graph_id}"
        assign = None
        if (
            settings.restore_assignments
            and ptype.has_assignments
            and _needs_assign(action, source, changes)
        ):
            assign = {"assignments": _assignments(source, settings)}
        body = _body(source, settings)
        writes.append((ptype.update_method, path, ptype.api_version, body, assign))
    return writes


async def floor_execute(graph_url: str, writes: list, concurrency: int) -> dict:
    """Each planned item's update then `/assign`, `concurrency` items at a time, no database."""
    async with Measured(graph_url) as m:
        gate = asyncio.Semaphore(concurrency)
        graph = m.graph

        async def one(verb, path, version, body, assign) -> None:
            async with gate:
                send = graph.put if verb == "PUT" else graph.patch
                await send(path, json=body, api_version=version)
                if assign is not None:
                    await graph.post(f"{path}/assign", json=assign, api_version=version)

        await asyncio.gather(*(one(*w) for w in writes))
    return m.result()


async def verify(engine, graph_url, tenant_id, user_id, set_id) -> dict:
    """An untimed preview of a fresh draft: after an execute, all 500 must be unchanged."""
    restore_id, _ = new_draft(engine, tenant_id, user_id, set_id)
    result, _ = await run_preview(engine, graph_url, tenant_id, user_id, restore_id)
    return result["counts"]


# -- the scenario loop -----------------------------------------------------------------------
async def scenario(
    engine, graph_url, tenant_id, user_id, set_id, picked, *, differ: int, reps: int
) -> dict:
    from opsapp.features.restore.execute import CONCURRENCY

    rng = random.Random(SEED + differ)
    out: dict[str, list] = {k: [] for k in ("draft", "preview", "fpreview", "execute", "fexecute")}
    out["verify"] = []
    # Warm-up (and the recording of the preview's $batch calls for the floor).
    reset_and_change(graph_url, picked, rng.sample(picked, differ), "warm-up")
    restore_id, _ = new_draft(engine, tenant_id, user_id, set_id)
    warm, batches = await run_preview(
        engine, graph_url, tenant_id, user_id, restore_id, record=True
    )
    writes = write_plan(engine, tenant_id, restore_id)
    await floor_preview(graph_url, batches)
    await run_execute(engine, graph_url, tenant_id, restore_id)
    await floor_execute(graph_url, writes, CONCURRENCY)
    assert warm["counts"]["update"] == differ, warm["counts"]

    for rep in range(reps):
        changed = rng.sample(picked, differ)
        reset_and_change(graph_url, picked, changed, f"rep {rep + 1}")
        restore_id, draft_s = new_draft(engine, tenant_id, user_id, set_id)
        out["draft"].append(draft_s)
        floor_first = rep % 2 == 0
        if floor_first:
            out["fpreview"].append(await floor_preview(graph_url, batches))
        pv, _ = await run_preview(engine, graph_url, tenant_id, user_id, restore_id)
        out["preview"].append(pv)
        if not floor_first:
            out["fpreview"].append(await floor_preview(graph_url, batches))
        assert pv["counts"]["update"] == differ, pv["counts"]
        assert pv["counts"]["unchanged"] == ITEMS - differ, pv["counts"]
        writes = write_plan(engine, tenant_id, restore_id)
        assert len(writes) == differ
        if floor_first:
            out["fexecute"].append(await floor_execute(graph_url, writes, CONCURRENCY))
        ex = await run_execute(engine, graph_url, tenant_id, restore_id)
        out["execute"].append(ex)
        if not floor_first:
            out["fexecute"].append(await floor_execute(graph_url, writes, CONCURRENCY))
        assert ex["counts"]["updated"] == differ and not ex["failures"], ex
        out["verify"].append(await verify(engine, graph_url, tenant_id, user_id, set_id))
        print(
            f"differ {differ} rep {rep + 1}: preview {pv['seconds']:.2f} s "
            f"(floor {out['fpreview'][-1]['seconds']:.2f}), execute {ex['seconds']:.2f} s "
            f"(floor {out['fexecute'][-1]['seconds']:.2f}), verify {out['verify'][-1]}",
            file=sys.stderr,
            flush=True,
        )
    return out


# -- report ----------------------------------------------------------------------------------
def _med(values: list[float]) -> float:
    return statistics.median(values)


def _spread(values: list[float], unit: str = "s", fmt: str = ".2f") -> str:
    return f"{_med(values):{fmt}} {unit} ({min(values):{fmt}}–{max(values):{fmt}})"


def _kinds(runs: list[dict]) -> str:
    keys = sorted({k for r in runs for k in r["kinds"] if k != "token"})
    parts = []
    for k in keys:
        values = [r["kinds"].get(k, 0) for r in runs]
        parts.append(f"{k} {_med(values):,.0f}")
    return ", ".join(parts)


def _row(name: str, runs: list[dict], items: int) -> str:
    secs = [r["seconds"] for r in runs]
    rate = [items / s for s in secs]
    reqs = [r["requests"] for r in runs]
    waited = max(r["waited"] for r in runs)
    return (
        f"| {name} | {_spread(secs)} | **{_med(rate):,.0f}** ({min(rate):,.0f}–{max(rate):,.0f}) "
        f"| {_med(reqs):,.0f} ({_kinds(runs)}) | **{_med(reqs) / items:.3f}** "
        f"| {_med([r['units'] for r in runs]):,.0f} / {waited:.2f} s |"
    )


def _ratio(real: list[dict], floor: list[dict]) -> str:
    per_rep = [r["seconds"] / f["seconds"] for r, f in zip(real, floor, strict=True)]
    return f"{_med([r['seconds'] for r in real]) / _med([f['seconds'] for f in floor]):.2f}× " + (
        f"(per repetition {min(per_rep):.2f}–{max(per_rep):.2f}×)"
    )


def report(setup: dict, some: dict, everything: dict) -> str:
    from opsapp.features.restore.execute import CONCURRENCY
    from opsapp.graph.demo.server import DEMO_REQUESTS_PER_WINDOW
    from opsapp.graph.pacing import DEFAULT_MAX_REQUESTS, DEFAULT_WINDOW_S

    header = (
        "| measurement | wall time, median (min–max) | items/s | Graph HTTP requests, median "
        "(by kind) | requests / item | pacing units / max limiter wait |"
    )
    lines = [
        f"Goal (issue): {GOAL}",
        "",
        f"Machine: {machine()}",
        "",
        f"Setup: {TENANT} ({setup['objects']:,} policy objects) synced with policy.sync's service "
        f"({setup['sync_s']:.1f} s); {ITEMS} of its policies (every {STRIDE}th by id; "
        f"{setup['types']}) captured into one backup set with `add_policies` "
        f"({setup['capture_s']:.1f} s). Each repetition: demo tenant reset to its seeded state, "
        "then N of the 500 get a new `description` through the demo admin API (a fresh random "
        "draw each time), a draft of the whole set (`create_draft`, median "
        f"{_med(some['draft'] + everything['draft']) * 1000:.0f} ms), `preview`, "
        "`execute_restore` (called directly, no worker/broker), and an untimed verification "
        "preview of a fresh draft. "
        f"{REPS} repetitions per scenario after a warm-up; real runs and floors interleaved, "
        "the order alternating per repetition.",
        "",
        f"Pacing in effect: the demo client's default — no limiter injected, so all clients share "
        f"the process-wide limiter of the tenant, {DEMO_REQUESTS_PER_WINDOW:,} units / "
        f"{DEFAULT_WINDOW_S:.0f} s (`DEMO_REQUESTS_PER_WINDOW`; a `$batch` costs one unit per "
        f"sub-request). Live Graph's client default is {DEFAULT_MAX_REQUESTS:,} units / "
        f"{DEFAULT_WINDOW_S:.0f} s. Execute writes {CONCURRENCY} items at a time "
        "(`execute.CONCURRENCY`); preview sends its `$batch` calls one after another. "
        "Retries: client defaults (up to 4); no demo faults injected. The requests the demo "
        "server counted equal those the client sent in every measurement. Every measurement "
        "uses that shared limiter, but first waits (untimed) until its 20 s window is at most "
        f"half full: {SETTLED['times']} such waits, {SETTLED['seconds']:.0f} s in all. Without "
        "it, a first run of this bench had up to 4.4 s of limiter waits inside single "
        "measurements. Those waits came from units the sync, warm-ups, floors and earlier "
        "repetitions had spent in the same window, so back-to-back operations on one tenant do "
        "slow each other down under the default pacing.",
        "",
        "Floors: preview — the same `$batch` sub-requests (recorded from the warm-up preview: "
        "referenced groups/filters/scope tags, then per type the objects, settings-catalog "
        "settings and assignments, 20 per round trip) replayed with `graph.batch_get` in the same "
        "order, answers discarded; execute — the same update bodies (PATCH, PUT for settings "
        f"catalog) and `/assign` bodies, prepared beforehand, sent {CONCURRENCY} items at a time "
        "with the bare client, no database.",
        "",
    ]
    for title, data, differ in (
        (f"{DIFFER_SOME} of {ITEMS} differ (~10 %)", some, DIFFER_SOME),
        (f"all {ITEMS} differ (worst case for writes)", everything, ITEMS),
    ):
        verified = all(v.get("unchanged") == ITEMS for v in data["verify"])
        lines += [
            f"**{title}** — preview plans {differ} updates + {ITEMS - differ} unchanged; "
            f"execute writes {differ} items. Items/s and requests/item are per restore item "
            f"(all {ITEMS}).",
            "",
            header,
            "|---|---|---|---|---|---|",
            _row("preview", data["preview"], ITEMS),
            _row("floor: bare `$batch` GETs", data["fpreview"], ITEMS),
            _row("execute", data["execute"], ITEMS),
            _row(f"floor: bare writes ({CONCURRENCY} at a time)", data["fexecute"], ITEMS),
            "",
            f"Preview ÷ floor: {_ratio(data['preview'], data['fpreview'])}. "
            f"Execute ÷ floor: {_ratio(data['execute'], data['fexecute'])}. "
            f"Execute's per-item result transactions (`execute._record`, one per item, in "
            f"worker threads): {_med([r['record_calls'] for r in data['execute']]):.0f} calls, "
            f"median {_med([r['record_s'] for r in data['execute']]):.2f} s summed "
            f"({_med([r['record_s'] / r['record_calls'] for r in data['execute']]) * 1000:.2f} "
            "ms each). "
            f"Execute per written item: "
            f"{_med([differ / r['seconds'] for r in data['execute']]):,.0f} items/s, "
            f"{_med([r['requests'] for r in data['execute']]) / differ:.2f} requests/item. "
            f"Verification preview after every execute: "
            f"{'all 500 unchanged' if verified else 'NOT all unchanged: ' + str(data['verify'])}.",
            "",
        ]
    return "\n".join(lines)


async def run(db_url: str, graph_url: str) -> str:
    import sqlalchemy as sa

    from opsapp.db import get_engine

    tenant_id, user_id = prepare(db_url)
    engine = get_engine(db_url)
    set_id, picked, times = await sync_and_back_up(engine, graph_url, tenant_id)
    with engine.connect() as conn:
        objects = conn.execute(
            sa.text("SELECT count(*) FROM policies WHERE tenant_id = :t AND removed_at IS NULL"),
            {"t": tenant_id},
        ).scalar_one()
        per_type = conn.execute(
            sa.text(
                "SELECT policy_type, count(*) FROM backup_items WHERE backup_set_id = :s "
                "GROUP BY policy_type ORDER BY 2 DESC"
            ),
            {"s": set_id},
        ).all()
    types = ", ".join(f"{t} {n}" for t, n in per_type)
    some = await scenario(
        engine, graph_url, tenant_id, user_id, set_id, picked, differ=DIFFER_SOME, reps=REPS
    )
    everything = await scenario(
        engine, graph_url, tenant_id, user_id, set_id, picked, differ=ITEMS, reps=REPS
    )
    engine.dispose()
    setup = {"objects": objects, "types": types, "sync_s": times["sync"]}
    setup["capture_s"] = times["capture"]
    return report(setup, some, everything)


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
    write_section(TITLE, body)


if __name__ == "__main__":
    main()
