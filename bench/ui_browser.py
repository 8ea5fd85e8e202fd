"""The served production app measured in headless Chromium (`python -m bench.ui_browser`).

Starts what `make run` starts (`scripts/run-embedded.sh`: production bundle, embedded worker) and a
demo Graph server over HTTP, drives Debian's Chromium with Playwright and measures in the page
(`performance.now()` / `Date.now()` and MutationObservers), each figure beside a floor taken in the
same process, interleaved with it:

1. click a start button ("Sync now") → its toast in the DOM: the friendly repeat-click answer, the
   reuse of an active run through the service, and a new run per click. Floor: `fetch('/ping')`.
2. run detail: a database commit → the new count on the page (the page polls every 1000 ms).
   Floor: the UPDATE + COMMIT itself.
3. Operations list with 1 M runs on PostgreSQL: sidebar click → fresh rows, and the State filter
   set to Failed → fresh rows. Floor: `list_runs_page()` on the same database, in this process.
4. memory: RSS (and PSS) of the app's process group idle, with 20 signed-in browser contexts on
   the Operations page, and after closing them.

App (SQLite) for 1–2, app (PostgreSQL, 1 M runs) for 3–4. Every process is started in its own
process group and killed on exit. Logs stay in a /tmp directory printed at the start.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.error
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from bench.common import drop_pg, machine, percentile, scratch_pg, write_section
from opsapp.db import get_engine
from opsapp.models import OperationRun
from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DEMO_USERS,
    free_port,
    http,
    stop_process_group,
)

ROOT = Path(__file__).resolve().parent.parent
SECTION = "Served app in headless Chromium (UI latency, 1 M-run list, memory)"
QUICK = os.environ.get("OPSAPP_BENCH_QUICK") == "1"  # a smoke run of the script itself
SYNC_SAMPLES = 8 if QUICK else 60  # per path (≥ 50)
DETAIL_SAMPLES = 8 if QUICK else 60
NAV_SAMPLES = 5 if QUICK else 40  # per navigation kind (≥ 30)
SESSIONS = 3 if QUICK else 20
RUNS = 20_000 if QUICK else 1_000_000
TENANTS = 100
WARMUP = 3
START_TIMEOUT_S = 600
UI_TIMEOUT_MS = 20_000
SLOW_MS = 500
_T = OperationRun.__table__


# -- processes -------------------------------------------------------------------------------
@dataclass
class Server:
    name: str
    base_url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _spawn(cmd: list[str], env: dict, log_path: Path, cwd: Path = ROOT) -> subprocess.Popen:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            cmd,
            cwd=cwd,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: measured and stopped as one
        )


def _wait_serving(server: Server, probe: str) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < START_TIMEOUT_S:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.log_tail()}")
        with contextlib.suppress(OSError, urllib.error.URLError):
            if http(f"{server.base_url}{probe}", timeout=2)[0] == 200:
                return time.monotonic() - t0
        time.sleep(0.25)
    raise RuntimeError(f"{server.name} not serving after {START_TIMEOUT_S} s:\n{server.log_tail()}")


def start_server(stack, name: str, cmd: list[str], env: dict, logs: Path, probe: str, port: int):
    """Start a server in its own process group (stopped when `stack` closes); (server, start s)."""
    log_path = logs / f"{name}.log"
    process = _spawn(cmd, env, log_path, Path(env.get("PYTHONPATH", ROOT)))  # the app: its copy
    stack.callback(stop_process_group, process)
    server = Server(name, f"http://127.0.0.1:{port}", process, log_path)
    return server, _wait_serving(server, probe)


def start_demo_graph(stack, logs: Path) -> Server:
    port = free_port()
    cmd = [str(ROOT / ".venv/bin/opsapp"), "demo", "graph", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--log-level", "warning"]
    return start_server(stack, "demo-graph", cmd, {}, logs, "/_demo/tenants", port)[0]


# Reflex bakes the backend's port into the production bundle (.web/build, reflex-env-*.js) and
# the page keeps only that port. Several apps built from one checkout (other engineers' e2e runs)
# overwrite each other's bundle, and a page can end up talking to another app's websocket. The
# app is therefore served from a private snapshot of the working tree (code and .web).
SNAPSHOT = ("opsapp", "alembic", "alembic.ini", "rxconfig.py", "scripts", "assets", "reflex.lock")


def private_checkout(logs: Path) -> Path:
    copy = logs / "checkout"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in (*SNAPSHOT, ".web"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, copy / name, symlinks=True, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, copy / name)
    return copy


def start_app(stack, name: str, database_url: str, demo: Server, logs: Path, checkout: Path):
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "OPSAPP_PORT": str(port),
        "OPSAPP_DEMO_GRAPH_URL": demo.base_url,
        "OPSAPP_VENV_BIN": str(ROOT / ".venv/bin"),
        "OPSAPP_TOOLS_DIR": str(ROOT / ".tools"),
        "PYTHONPATH": str(checkout),  # the snapshot's code, not the editable install's
    }
    cmd = ["bash", str(checkout / "scripts/run-embedded.sh")]
    return start_server(stack, name, cmd, env, logs, "/ping", port)


def _exit_on_signal(signum, _frame):
    raise SystemExit(128 + signum)  # unwinds the ExitStack: every process group is stopped


# -- /proc: memory and CPU of a process group ------------------------------------------------
def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) == pgid:
                pids.append(int(entry.name))
    return pids


def _kb(path: Path, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def group_memory(pgid: int) -> dict:
    """RSS and PSS summed over the group (MiB), process count, CPU seconds so far."""
    rss = pss = cpu_ticks = 0
    pids = _group_pids(pgid)
    for pid in pids:
        proc = Path(f"/proc/{pid}")
        rss += _kb(proc / "status", "VmRSS:")
        pss += _kb(proc / "smaps_rollup", "Pss:")
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            cpu_ticks += int(fields[11]) + int(fields[12])
    tick = os.sysconf("SC_CLK_TCK")
    return {"rss": rss / 1024, "pss": pss / 1024, "procs": len(pids), "cpu_s": cpu_ticks / tick}


def cpu_snapshot() -> dict[int, tuple[str, int, int]]:
    """pid → (label, parent pid, CPU ticks so far) for every process on the machine."""
    snap = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            args = (entry / "cmdline").read_bytes().split(b"\0")
            words = [Path(w.decode(errors="replace")).name for w in args[:3] if w]
            label = " ".join(w for w in words if not w.startswith("-"))[:40] or stat.split()[1]
            snap[int(entry.name)] = (label, int(fields[1]), int(fields[11]) + int(fields[12]))
    return snap


def _ours(pid: int, snap: dict) -> bool:
    """This script or one of its descendants (apps, demo Graph, Playwright, Chromium)."""
    me, seen = os.getpid(), set()
    while pid in snap and pid not in seen:
        if pid == me:
            return True
        seen.add(pid)
        pid = snap[pid][1]
    return False


def cpu_report(first: dict, last: dict, wall_s: float) -> str:
    """CPU used during the run by processes that are not this run's (top labels)."""
    tick = os.sysconf("SC_CLK_TCK")
    others: Counter[str] = Counter()
    for pid, (label, _, ticks) in last.items():
        if not _ours(pid, last):
            others[label] += (ticks - first.get(pid, (label, 0, 0))[2]) / tick
    top = ", ".join(f"{k} {v:.0f} s" for k, v in others.most_common(5) if v >= 1) or "none"
    cores = os.cpu_count() or 1
    return (
        f"Other engineers' processes (not started by this run) used "
        f"{sum(others.values()):.0f} core-s of the {wall_s * cores:.0f} available during the "
        f"{wall_s:.0f} s run (top: {top}; processes that exited during the run are not counted)"
    )


# -- browser ---------------------------------------------------------------------------------
@dataclass
class BrowserLog:
    errors: list[str] = field(default_factory=list)
    ports: set[int] = field(default_factory=set)  # the apps this run started
    sockets: Counter = field(default_factory=Counter)  # websocket port → connections

    def watch(self, page) -> None:
        page.on("websocket", lambda ws: self.sockets.update([urlsplit(ws.url).port]))
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"console.{msg.type}: {msg.text[:300]}")
                if msg.type in ("error", "warning")
                else None
            ),
        )


def new_context(browser, log: BrowserLog):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(UI_TIMEOUT_MS)
    context.on("page", log.watch)
    return context


def sign_in(context, base_url: str, who: str, next_path: str):
    """A new page of `context`, signed in (the session token is shared by the context's tabs)."""
    email, password = DEMO_USERS[who]
    page = context.new_page()
    page.goto(f"{base_url}{next_path}")
    try:
        page.wait_for_url("**/login**")
    except Exception as exc:
        raise RuntimeError(f"no redirect to /login from {next_path}: at {page.url}") from exc
    page.fill("#email", email)
    page.fill("#password", password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function("() => !location.pathname.startsWith('/login')")
    return page


def open_tab(context, base_url: str, path: str, ready: str):
    page = context.new_page()
    page.goto(f"{base_url}{path}")
    page.locator(ready).first.wait_for()
    return page


# -- figures ---------------------------------------------------------------------------------
def pcts(ms: list[float], p99: bool = False) -> str:
    if not ms:
        return "no samples"
    text = f"p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms"
    if p99 and len(ms) >= 1000:
        text += f", p99 {percentile(ms, 99):.1f} ms"
    return text + f" (n={len(ms)})"


def ratio(ms: list[float], floor: list[float], pct: float = 50) -> str:
    if not ms or not floor:
        return "—"
    return f"×{percentile(ms, pct) / max(percentile(floor, pct), 1e-6):.0f}"


def row(name: str, ms: list[float], floor: list[float], floor_name: str) -> str:
    return (
        f"| {name} | {pcts(ms)} | {floor_name}: {pcts(floor)} | "
        f"{ratio(ms, floor, 50)} / {ratio(ms, floor, 95)} |"
    )


# -- 1. start button → toast -----------------------------------------------------------------
PING_JS = """async () => {
  const t0 = performance.now();
  const r = await fetch('/ping', {cache: 'no-store'});
  await r.text();
  return performance.now() - t0;
}"""

# The observer is armed before the click; only a toast that was not there before counts, and
# only a start answer (not a run-completed notification popping at the same moment).
CLICK_JS = """async (timeoutMs) => {
  const btn = document.querySelector('[data-testid=start-button]');
  if (!btn || btn.disabled) return {error: btn ? 'button disabled' : 'no start button'};
  const before = new Set(document.querySelectorAll('[data-sonner-toast]'));
  const wanted = /queued|already running|not started|could not be queued|Not allowed|Not found/;
  const title = (el) => ((el.querySelector('[data-title]') || el).textContent || '');
  let t0 = 0, found = false, timer = null;
  return await new Promise((resolve) => {
    const check = () => {
      if (found) return;
      for (const el of document.querySelectorAll('[data-sonner-toast]')) {
        if (before.has(el) || !wanted.test(title(el))) continue;
        found = true; obs.disconnect(); clearTimeout(timer);
        const inDom = performance.now() - t0;
        requestAnimationFrame(() => resolve({ms: inDom, frameMs: performance.now() - t0,
                                            text: title(el)}));
        return;
      }
    };
    const obs = new MutationObserver(check);
    obs.observe(document.body, {childList: true, subtree: true, characterData: true});
    timer = setTimeout(() => { obs.disconnect(); resolve({error: 'no toast', text: ''}); },
                       timeoutMs);
    t0 = performance.now();
    btn.click();
  });
}"""


@dataclass
class Tab:
    page: object
    tenant_id: int = 0
    run_type: str = ""
    last_click: float = -1e9
    last_service: float = -1e9


@dataclass
class Samples:
    ms: dict[str, list[float]] = field(default_factory=dict)
    frame: dict[str, list[float]] = field(default_factory=dict)
    floor: dict[str, list[float]] = field(default_factory=dict)
    odd: Counter = field(default_factory=Counter)
    active_at_click: dict[str, list[int]] = field(default_factory=dict)
    by_type: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def add(self, bucket: str, result: dict, floor_ms: float) -> None:
        self.ms.setdefault(bucket, []).append(result["ms"])
        self.frame.setdefault(bucket, []).append(result["frameMs"])
        self.floor.setdefault(bucket, []).append(floor_ms)

    def n(self, bucket: str) -> int:
        return len(self.ms.get(bucket, []))


def click_once(tab: Tab) -> tuple[dict, float]:
    """Floor (in-page /ping round trip) then the click, back to back on the same tab."""
    tab.page.bring_to_front()  # the tab a person clicks in is the visible one
    floor = tab.page.evaluate(PING_JS)
    result = tab.page.evaluate(CLICK_JS, 30_000)
    now = time.monotonic()
    tab.last_click = now
    return result, floor


def _classify(result: dict, guard: bool) -> str:
    if "error" in result:
        return "error: " + result["error"]
    if "already running" in result["text"]:
        return "repeat click (tab's 3 s guard)" if guard else "reuse (service finds active run)"
    if "queued" in result["text"]:
        return "new run"
    return "refused: " + result["text"][:60]


def _wait_until(t: float) -> None:
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def reuse_phase(context, app: Server, demo: Server, engine, out: Samples) -> None:
    """contoso inventory sync kept active (slow demo Graph); three tabs: each clicks, then again
    1.6 s later (the tab's repeat guard answers), then again > 3.2 s after its first click (the
    service answers: the active run is reused)."""
    http(f"{demo.base_url}/_demo/tenants/contoso/faults", method="POST", body={"slow_ms": SLOW_MS})
    try:
        path = "/t/contoso/inventory"
        tabs = [Tab(open_tab(context, app.base_url, path, "[data-testid=start-button]"))]
        tabs += [
            Tab(open_tab(context, app.base_url, path, "[data-testid=start-button]"))
            for _ in range(2)
        ]
        rounds = WARMUP + -(-SYNC_SAMPLES // len(tabs))  # each round: one sample per tab and path
        for rnd in range(rounds):
            for guard in (False, True):
                for tab in tabs:
                    _reuse_click(tab, guard, out if rnd >= WARMUP else Samples(), engine)
    finally:
        http(f"{demo.base_url}/_demo/tenants/contoso/faults", method="DELETE")


def _reuse_click(tab: Tab, guard: bool, out: Samples, engine) -> None:
    if guard:
        _wait_until(tab.last_click + 1.6)  # past the button's 1.5 s throttle
        if time.monotonic() - tab.last_service > 2.8:
            out.odd["repeat click skipped (too late for the 3 s guard)"] += 1
            return
    else:
        _wait_until(max(tab.last_click + 1.6, tab.last_service + 3.2))
    result, floor = click_once(tab)
    if not guard:
        tab.last_service = tab.last_click
    bucket = _classify(result, guard)
    if bucket == "new run":
        bucket = "new run (previous one completed; slow Graph)"
    if "ms" in result:
        out.add(bucket, result, floor)
    else:
        out.odd[bucket] += 1


SYNC_PAGES = (
    ("inventory", "inventory.sync"),
    ("policies", "policy.sync"),
    ("directory/groups", "directory_groups.sync"),
)


def _active_runs(engine, tenant_id: int | None = None, run_type: str | None = None) -> int:
    query = sa.select(sa.func.count()).where(_T.c.status.in_(("queued", "running")))
    if tenant_id is not None:
        query = query.where(_T.c.tenant_id == tenant_id, _T.c.type == run_type)
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def _tabs(context, app: Server, tenants: dict[str, int], slug: str) -> list[Tab]:
    return [
        Tab(
            open_tab(context, app.base_url, f"/t/{slug}/{seg}", "[data-testid=start-button]"),
            tenants[slug],
            run_type,
        )
        for seg, run_type in SYNC_PAGES
    ]


def _ready(tabs: list[Tab], engine) -> list[Tab]:
    """Tabs past their repeat guard whose own run (tenant, type) is not active."""
    now = time.monotonic()
    return [
        t
        for t in tabs
        if now - t.last_click > 3.2 and not _active_runs(engine, t.tenant_id, t.run_type)
    ]


def wait_idle(engine, limit_s: float) -> float:
    t0 = time.monotonic()
    while _active_runs(engine) and time.monotonic() - t0 < limit_s:
        time.sleep(0.1)
    return time.monotonic() - t0


def idle_new_runs(tabs: list[Tab], engine, out: Samples, bucket: str, n: int) -> None:
    """A new contoso run per click, each only once no run at all executes (friendly case)."""
    deadline = time.monotonic() + 150
    while out.n(bucket) < n and time.monotonic() < deadline:
        wait_idle(engine, 30)
        ready = _ready(tabs, engine)
        if not ready:
            time.sleep(0.1)
            continue
        _new_run_click(ready[0], engine, out, bucket)


def loaded_new_runs(tabs: list[Tab], heavy: list[Tab], engine, out: Samples, bucket: str) -> None:
    """Start woodgrove's first full syncs (50 k inventory items, 13 k policies: tens of seconds of
    work in the app's embedded worker), then click for new contoso runs while they execute."""
    for tab in heavy:
        _new_run_click(tab, engine, Samples(), "warm-up")
    deadline = time.monotonic() + 100
    while time.monotonic() < deadline and out.n(bucket) < SYNC_SAMPLES:
        if not any(_active_runs(engine, t.tenant_id, t.run_type) for t in heavy):
            break
        ready = _ready(tabs, engine)
        if ready:
            _new_run_click(ready[0], engine, out, bucket)
        time.sleep(0.3)


def _new_run_click(tab: Tab, engine, out: Samples, bucket: str) -> None:
    active = _active_runs(engine)
    result, floor = click_once(tab)
    kind = _classify(result, guard=False)
    if "ms" in result and kind == "new run":
        out.add(bucket, result, floor)
        out.active_at_click.setdefault(bucket, []).append(active)
        out.by_type.setdefault(bucket, {}).setdefault(tab.run_type, []).append(result["ms"])
    else:
        out.odd[f"{bucket}: {kind}"] += 1


IDLE = "new run, worker idle"
LOADED = "new run while woodgrove's first full syncs execute"


def measure_sqlite_app(browser, app: Server, demo: Server, engine, log) -> dict:
    """Toasts (reuse, then a new run per click with an idle worker), the run detail, then toasts
    while woodgrove's big first syncs execute (last: the app is stopped with them running)."""
    tenants, out = tenant_ids(engine), Samples()
    context = new_context(browser, log)
    try:
        sign_in(context, app.base_url, "owner", "/t/contoso/inventory")
        reuse_phase(context, app, demo, engine, out)
        tabs = _tabs(context, app, tenants, "contoso")
        wait_idle(engine, 60)
        idle_new_runs(tabs, engine, Samples(), "warm-up", WARMUP)
        idle_new_runs(tabs, engine, out, IDLE, SYNC_SAMPLES)
        print("\n".join(sync_report(out)), flush=True)
        wait_idle(engine, 60)
        detail = detail_latency(browser, app, engine, tenants["contoso"], log)
        print("\n".join(detail), flush=True)
        loaded_new_runs(tabs, _tabs(context, app, tenants, "woodgrove"), engine, out, LOADED)
        loaded_mem = group_memory(app.process.pid)
    finally:
        context.close()
    return {"sync": sync_report(out), "detail": detail, "loaded_mem": loaded_mem}


def sync_report(out: Samples) -> list[str]:
    lines = [
        "| path | click → toast in the DOM | floor (in-page `fetch('/ping')`, same tab, just "
        "before) | ratio p50 / p95 | click → next animation frame after it |",
        "|---|---|---|---|---|",
    ]
    for bucket in out.ms:
        lines.append(
            row(bucket, out.ms[bucket], out.floor[bucket], "ping") + f" {pcts(out.frame[bucket])} |"
        )
    lines.append("")
    for bucket, active in out.active_at_click.items():
        types = "; ".join(f"{t}: {pcts(ms)}" for t, ms in out.by_type[bucket].items())
        lines.append(
            f"- {bucket}: {statistics.fmean(active):.1f} run(s) on average (max {max(active)}) "
            f"were executing in the app's embedded worker at click time. By type: {types}."
        )
    if out.odd:
        lines.append("- Not counted: " + ", ".join(f"{k} ×{n}" for k, n in out.odd.items()) + ".")
    verdicts = ", ".join(
        f"{b}: **{'met' if percentile(v, 95) <= 150 else 'MISSED'}** (p95 {percentile(v, 95):.0f} ms)"
        for b, v in out.ms.items()
    )
    lines += ["", f"Goal p95 ≤ 150 ms — {verdicts}."]
    return lines


# -- 2. run detail: DB commit → page -----------------------------------------------------------
WATCH_PROCESSED_JS = """() => {
  window.__seen = [];
  let last = null;
  const read = () => {
    const el = document.querySelector('[data-count=processed]');
    const m = el && el.textContent.match(/(\\d+)\\s*$/);
    return m ? Number(m[1]) : null;
  };
  const check = () => {
    const v = read();
    if (v !== null && v !== last) { last = v; window.__seen.push([v, Date.now()]); }
  };
  new MutationObserver(check).observe(document.body,
    {childList: true, subtree: true, characterData: true});
  check();
}"""


def insert_running_run(engine, tenant_id: int) -> int:
    now = datetime.now(UTC)
    values = {
        "tenant_id": tenant_id,
        "user_id": None,
        "initiator_name": "Bench",
        "type": "drift.generate",
        "status": "running",
        "outcome": "pending",
        "run_identity_hash": uuid.uuid4().hex,
        "summary_counts": {"total": 1000, "processed": 0},
        "failures": [],
        "context": {"inputs": {}},
        "created_at": now,
        "started_at": now,
        "updated_at": now,
        "heartbeat_at": now,
        "attempts": 1,
    }
    with engine.begin() as conn:
        return conn.execute(sa.insert(_T).values(**values).returning(_T.c.id)).scalar_one()


def update_processed(engine, run_id: int, n: int) -> tuple[float, float]:
    """(wall clock ms just before, just after the commit)."""
    now = datetime.now(UTC)
    counts = {"total": 1000, "processed": n}
    before = time.time() * 1000
    with engine.begin() as conn:
        conn.execute(
            sa.update(_T)
            .where(_T.c.id == run_id)
            .values(summary_counts=counts, heartbeat_at=now, updated_at=now)
        )
    return before, time.time() * 1000


def detail_latency(browser, app: Server, engine, tenant_id: int, log) -> list[str]:
    run_id = insert_running_run(engine, tenant_id)
    context = new_context(browser, log)
    lag, floor = [], []
    try:
        page = sign_in(context, app.base_url, "owner", f"/t/contoso/operations/{run_id}")
        page.locator("[data-count=processed]").wait_for()
        page.evaluate(WATCH_PROCESSED_JS)
        for n in range(1, WARMUP + DETAIL_SAMPLES + 1):
            time.sleep(random.uniform(0.0, 1.0))  # a random phase against the 1 s poll
            before, after = update_processed(engine, run_id, n)
            page.wait_for_function(f"() => window.__seen.some(s => s[0] === {n})")
            seen = page.evaluate(f"() => window.__seen.find(s => s[0] === {n})[1]")
            if n > WARMUP:
                lag.append(seen - before)
                floor.append(after - before)
    finally:
        context.close()
        with engine.begin() as conn:
            conn.execute(
                sa.update(_T)
                .where(_T.c.id == run_id)
                .values(status="completed", outcome="cancelled", completed_at=datetime.now(UTC))
            )
    return detail_report(lag, floor)


def detail_report(lag: list[float], floor: list[float]) -> list[str]:
    p95 = percentile(lag, 95)
    return [
        "| measured | commit → page shows the new count | floor | ratio p50 / p95 |",
        "|---|---|---|---|",
        row("run detail, `summary_counts.processed` updated", lag, floor, "UPDATE + COMMIT"),
        "",
        f"Goal ≤ polling interval + 100 ms = 1100 ms at p95: **{'met' if p95 <= 1100 else 'MISSED'}** "
        f"(p95 {p95:.0f} ms, max {max(lag):.0f} ms). The wait is dominated by the 1000 ms poll: "
        f"a commit lands at a random phase of it, so ~500 ms at p50 is the floor of the design, "
        f"not of the machine.",
    ]


# -- 3. Operations list with 1 M runs (PostgreSQL) ---------------------------------------------
LOAD_SQL = """
INSERT INTO operation_runs (tenant_id, user_id, initiator_name, type, status, outcome,
    run_identity_hash, summary_counts, failures, context, created_at, started_at, completed_at,
    updated_at, heartbeat_at, attempts)
SELECT CASE WHEN i % 10 = 0 THEN {contoso} ELSE (ARRAY[{others}])[1 + (i / 10) % {n_others}] END,
       NULL,
       (ARRAY['System','Olivia Owner','Oscar Operator','Mark Manager'])[1 + (r / 7 % 4)],
       (ARRAY['inventory.sync','policy.sync','directory_groups.sync','drift.generate',
              'backup_set.add_policies','backup_set.remove_policies','backup_schedule.run_now',
              'backup_schedule.retry','backup_schedule.scheduled','restore.execute'])[1 + (r / 131 % 10)],
       'completed',
       CASE WHEN r % 100 < 85 THEN 'succeeded' WHEN r % 100 < 93 THEN 'partially_succeeded'
            WHEN r % 100 < 99 THEN 'failed' ELSE 'cancelled' END,
       md5(i::text),
       '{{"total": 120, "processed": 120, "created": 3, "updated": 5, "unchanged": 112}}'::jsonb,
       '[]'::jsonb, '{{"inputs": {{}}}}'::jsonb,
       ts, ts + interval '1 second', ts + interval '40 seconds', ts + interval '40 seconds', NULL, 1
FROM (SELECT i, abs(hashtext(i::text)) AS r,
             now() - (i::float / {runs} * interval '120 days') AS ts
      FROM generate_series(1, {runs}) AS i) AS g
"""


def load_million(url: str) -> tuple[dict[str, int], float]:
    """Migrate, seed the demo (tenants, users, history), add bench tenants to 100, load the runs:
    10 % in contoso (the worst tenant), the rest spread over the other 99; 120 days, newest now."""
    from opsapp.demo_seed import seed_demo
    from opsapp.migrate import upgrade

    t0 = time.perf_counter()
    upgrade(url)
    engine = get_engine(url)
    seed_demo(engine)
    with engine.begin() as conn:
        have = conn.execute(sa.text("SELECT count(*) FROM tenants")).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO tenants (name, slug, entra_tenant_id, provider, client_id, created_at) "
                "SELECT 'Tenant ' || i, 'bench-' || i, '', 'demo', '', now() "
                "FROM generate_series(1, :n) i"
            ),
            {"n": TENANTS - have},
        )
        ids = dict(conn.execute(sa.text("SELECT slug, id FROM tenants")).all())
        others = [i for s, i in ids.items() if s != "contoso"]
        conn.execute(
            sa.text(
                LOAD_SQL.format(
                    contoso=ids["contoso"],
                    others=",".join(map(str, others)),
                    n_others=len(others),
                    runs=RUNS,
                )
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    return ids, time.perf_counter() - t0


def list_floor(engine, tenant_id: int, params: dict) -> tuple[float, float, int]:
    """(list_runs_page ms, + filter_choices ms — what the page's load adds —, first row id)."""
    from opsapp.db import session_scope
    from opsapp.operations.queries import filter_choices, list_runs_page, parse_filters

    filters, _ = parse_filters(params)
    with session_scope(engine) as session:
        t0 = time.perf_counter()
        page = list_runs_page(
            session,
            tenant_id=tenant_id,
            tenant_slug="contoso",
            filters=filters,
            page=1,
            page_size=25,
        )
        t1 = time.perf_counter()
        filter_choices(session, tenant_id=tenant_id)
        t2 = time.perf_counter()
    return (t1 - t0) * 1000, (t2 - t0) * 1000, page.rows[0]["id"]


# Armed before the trigger: t0 = the trigger's own event in the page (capture phase), t1 = the
# first moment the table's first row is the expected run (stale rows of the previous view differ).
ARM_JS = """([sel, type, expectId]) => {
  const b = window.__nav = {t0: null, t1: null};
  const onEvent = (e) => {
    if (b.t0 === null && e.target.closest && e.target.closest(sel)) b.t0 = performance.now();
  };
  document.addEventListener(type, onEvent, true);
  const check = () => {
    if (b.t0 === null || b.t1 !== null) return;
    const first = document.querySelector('tbody tr[data-run-id]');
    if (first && first.getAttribute('data-run-id') === String(expectId)) {
      b.t1 = performance.now(); obs.disconnect();
      document.removeEventListener(type, onEvent, true);
    }
  };
  const obs = new MutationObserver(check);
  obs.observe(document.body, {childList: true, subtree: true, characterData: true,
                              attributes: true, attributeFilter: ['data-run-id']});
}"""


def _measured(page, sel: str, event: str, expect_id: int, action) -> float:
    page.evaluate(ARM_JS, [sel, event, expect_id])
    action()
    page.wait_for_function("() => window.__nav.t1 !== null")
    return page.evaluate("() => window.__nav.t1 - window.__nav.t0")


@dataclass
class NavSamples:
    ms: dict[str, list[float]] = field(default_factory=dict)
    floor: dict[str, list[float]] = field(default_factory=dict)
    fetch: dict[str, list[float]] = field(default_factory=dict)

    def add(self, kind: str, ms: float, floor: tuple) -> None:
        self.ms.setdefault(kind, []).append(ms)
        self.floor.setdefault(kind, []).append(floor[0])
        self.fetch.setdefault(kind, []).append(floor[1])


SIDEBAR = "sidebar Dashboard → Operations (default view: 30 days)"
FILTER = "State filter → Failed (set_filter → redirect → load)"


def dashboard_ms(engine, tenant_id: int) -> float:
    """The dashboard's server-side query (what its on_load waits for), best of three."""
    from opsapp.db import session_scope
    from opsapp.operations.dashboard import tenant_dashboard

    best = float("inf")
    for _ in range(3):
        with session_scope(engine) as session:
            t0 = time.perf_counter()
            tenant_dashboard(session, tenant_id=tenant_id, tenant_slug="contoso")
            best = min(best, (time.perf_counter() - t0) * 1000)
    return best


def nav_cycle(page, engine, tenant_id: int, out: NavSamples, settle_ms: float) -> None:
    """Dashboard → (sidebar) Operations → (State select) Failed → (sidebar) Dashboard."""
    floor = list_floor(engine, tenant_id, {})
    ops_link = 'a[data-nav-item="Operations"]'
    ms = _measured(page, ops_link, "click", floor[2], lambda: page.click(ops_link))
    out.add(SIDEBAR, ms, floor)
    floor = list_floor(engine, tenant_id, {"state": "failed"})
    page.get_by_role("combobox", name="State").click()
    option = page.get_by_role("option", name="Failed", exact=True)
    option.wait_for()
    ms = _measured(page, "[role=option]", "pointerup", floor[2], option.click)
    out.add(FILTER, ms, floor)
    page.wait_for_url("**state=failed**")
    page.click('a[data-nav-item="Dashboard"]')
    page.get_by_test_id("count-inventory_items").wait_for()
    page.wait_for_timeout(settle_ms)  # the dashboard's own load finishes before the next click


def list_navigation(browser, app: Server, engine, tenant_id: int, log) -> list[str]:
    out, warm = NavSamples(), NavSamples()
    dash = dashboard_ms(engine, tenant_id)
    settle = max(1000.0, 3 * dash)
    context = new_context(browser, log)
    try:
        page = sign_in(context, app.base_url, "owner", "/t/contoso")
        page.get_by_test_id("count-inventory_items").wait_for()
        for i in range(WARMUP + NAV_SAMPLES):
            nav_cycle(page, engine, tenant_id, warm if i < WARMUP else out, settle)
    finally:
        context.close()
    lines = [
        "| navigation | click → first row of the fresh view rendered | floor: `list_runs_page()` "
        "in this process | ratio p50 / p95 | for reference: list + `filter_choices()` (the "
        "page's whole server-side fetch) |",
        "|---|---|---|---|---|",
    ]
    for kind in (SIDEBAR, FILTER):
        lines.append(
            row(kind, out.ms[kind], out.floor[kind], "query") + f" {pcts(out.fetch[kind])} |"
        )
    lines.append("")
    lines.append(
        f"The dashboard's own query took {dash:.0f} ms (best of 3, in this process); each cycle "
        f"waited {settle / 1000:.1f} s on the dashboard so its load was not queued ahead of the "
        f"measured click."
    )
    return lines


# -- 4. memory with signed-in sessions ---------------------------------------------------------
def sample_memory(pgid: int, seconds: float, every: float = 2.0) -> dict:
    """Max RSS/PSS over `seconds` and the group's CPU use (cores) over that time."""
    first = last = group_memory(pgid)
    peak_rss, peak_pss = first["rss"], first["pss"]
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        time.sleep(every)
        last = group_memory(pgid)
        peak_rss, peak_pss = max(peak_rss, last["rss"]), max(peak_pss, last["pss"])
    cores = (last["cpu_s"] - first["cpu_s"]) / max(time.monotonic() - t0, 1e-6)
    return {**last, "peak_rss": peak_rss, "peak_pss": peak_pss, "cores": cores}


def memory_sessions(browser, app: Server, log) -> tuple[list[str], dict]:
    pgid = app.process.pid
    idle = sample_memory(pgid, 6)
    contexts, t0 = [], time.monotonic()
    try:
        for _ in range(SESSIONS):
            context = new_context(browser, log)
            contexts.append(context)
            page = sign_in(context, app.base_url, "owner", "/t/contoso/operations")
            page.locator("tbody tr").first.wait_for()
        signed_in_s = time.monotonic() - t0
        busy = sample_memory(pgid, 30)
    finally:
        for context in contexts:
            context.close()
    after = sample_memory(pgid, 20)
    lines = [
        "| moment | RSS sum | PSS sum | processes | app CPU (cores) |",
        "|---|---|---|---|---|",
        _mem_row("idle after start (6 s)", idle),
        _mem_row(f"{SESSIONS} contexts signed in on Operations (30 s, bell polls every 3 s)", busy),
        _mem_row("20 s after closing them", after),
        "",
        f"Signing in {SESSIONS} contexts one after another and opening the page took "
        f"{signed_in_s:.0f} s. Growth with the sessions: {busy['peak_rss'] - idle['rss']:+.0f} MiB "
        f"RSS; after closing: {after['rss'] - idle['rss']:+.0f} MiB over idle.",
    ]
    return lines, {"idle": idle, "busy": busy, "after": after}


def _mem_row(name: str, m: dict) -> str:
    return (
        f"| {name} | {m['rss']:.0f} MiB (peak {m['peak_rss']:.0f}) | {m['pss']:.0f} MiB "
        f"(peak {m['peak_pss']:.0f}) | {m['procs']} | {m['cores']:.2f} |"
    )


# -- orchestration ---------------------------------------------------------------------------
def tenant_ids(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT slug, id FROM tenants")).all())


def sqlite_part(stack, browser, demo: Server, logs: Path, log: BrowserLog) -> dict:
    url = f"sqlite:///{logs / 'ui-bench.db'}"
    app, start_s = start_app(stack, "app-sqlite", url, demo, logs, logs / "checkout")
    log.ports.add(urlsplit(app.base_url).port)
    idle = group_memory(app.process.pid)
    engine = get_engine(url)
    print(f"SQLite app up in {start_s:.0f} s", flush=True)
    result = measure_sqlite_app(browser, app, demo, engine, log)
    stop_process_group(app.process)
    engine.dispose()
    return {"start_s": start_s, "idle": idle, **result}


def pg_part(stack, browser, demo: Server, logs: Path, log: BrowserLog) -> dict:
    url = scratch_pg()
    stack.callback(drop_pg, url)
    ids, load_s = load_million(url)
    engine = get_engine(url)
    with engine.connect() as conn:
        contoso_runs = conn.execute(
            sa.text("SELECT count(*) FROM operation_runs WHERE tenant_id = :t"),
            {"t": ids["contoso"]},
        ).scalar_one()
    print(f"{RUNS:,} runs loaded in {load_s:.0f} s; starting the PostgreSQL app", flush=True)
    app, start_s = start_app(stack, "app-pg", url, demo, logs, logs / "checkout")
    log.ports.add(urlsplit(app.base_url).port)
    mem_lines, mem = memory_sessions(browser, app, log)
    print("\n".join(mem_lines), flush=True)
    nav_lines = list_navigation(browser, app, engine, ids["contoso"], log)
    print("\n".join(nav_lines), flush=True)
    stop_process_group(app.process)
    return {
        "load_s": load_s,
        "start_s": start_s,
        "contoso_runs": contoso_runs,
        "mem": mem_lines,
        "mem_raw": mem,
        "nav": nav_lines,
    }


def run_all(logs: Path) -> dict:
    from playwright.sync_api import sync_playwright

    log = BrowserLog()
    with contextlib.ExitStack() as stack:
        demo = start_demo_graph(stack, logs)
        t_copy = time.monotonic()
        stack.callback(shutil.rmtree, logs / "checkout", ignore_errors=True)  # after the apps
        private_checkout(logs)
        print(f"private checkout copied in {time.monotonic() - t_copy:.1f} s", flush=True)
        first = cpu_snapshot()
        pw = stack.enter_context(sync_playwright())
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        stack.callback(browser.close)
        t0 = time.monotonic()
        lite = sqlite_part(stack, browser, demo, logs, log)
        pg = pg_part(stack, browser, demo, logs, log)
        wall_s = time.monotonic() - t0
        cpu = cpu_report(first, cpu_snapshot(), wall_s)
        return {
            "lite": lite,
            "pg": pg,
            "log": log,
            "cpu": cpu,
            "load": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
            "wall_s": wall_s,
        }


def main() -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, _exit_on_signal)
    header = machine()
    logs = Path(tempfile.mkdtemp(prefix="opsapp-ui-browser-"))
    print(f"logs: {logs}", flush=True)
    result = run_all(logs)
    body = report(header, result, logs)
    if QUICK:
        print(body)
        return
    write_section(SECTION, body)
    print(body)


def report(header: str, r: dict, logs: Path) -> str:
    return "\n".join(
        [
            *_intro(header, r),
            *_sqlite_lines(r["lite"]),
            *_list_lines(r["pg"]),
            *_memory_lines(r["lite"], r["pg"]),
            *_caveats(r["log"], logs),
        ]
    )


def _intro(header: str, r: dict) -> list[str]:
    return [
        f"Machine: {header}; `nproc` {os.cpu_count()}; load average at the end {r['load']}. "
        f"{r['cpu']}. Chromium (headless, one browser) and this script share the 2 cores with "
        f"the app; other engineers' builds and test runs were running on the same machine.",
        "",
        "How measured: `scripts/run-embedded.sh` (production bundle, embedded worker, one port) "
        "with a demo Graph server over HTTP; Debian Chromium driven by Playwright. Every latency "
        "is taken inside the page — `performance.now()` from just before the trigger (or from the "
        "trigger's own DOM event, capture phase) until a MutationObserver armed beforehand sees "
        "the result — never with Python sleeps. Each sample's floor is taken in the same process "
        f"right before it (interleaved); the first {WARMUP} samples of each variant are dropped "
        "(warm-up). Fewer than 1,000 samples per variant: p50/p95 only, n in each cell.",
        "",
    ]


def _sqlite_lines(lite: dict) -> list[str]:
    return [
        f"### 1. Start button → toast (SQLite app, served {lite['start_s']:.0f} s after start)",
        "",
        "Reuse: contoso's inventory sync kept active with the demo Graph's `slow_ms` "
        f"{SLOW_MS}; three tabs each click, click again 1.6 s later (the tab's 3 s repeat guard "
        "answers without asking the service), and again > 3.2 s after their first click (the "
        "service answers with the active run). New run: three contoso tabs (inventory, policies, "
        "groups), each click only once no run at all executes; then the same while woodgrove's "
        "first full syncs (50 k inventory items, 13 k policies) execute in the app's worker.",
        "",
        *lite["sync"],
        "",
        "### 2. Run detail: database commit → visible on the page (SQLite app)",
        "",
        "A `drift.generate` run inserted as running; `summary_counts.processed` set to N and "
        "committed from this process at a random moment (0–1 s after the previous value "
        "appeared); the page records `Date.now()` when `[data-count=processed]` shows N, "
        "compared with `time.time()` just before the commit (same clock). No other run active.",
        "",
        *lite["detail"],
        "",
    ]


def _list_lines(pg: dict) -> list[str]:
    return [
        f"### 3. Operations list with {RUNS:,} runs (PostgreSQL app)",
        "",
        f"{RUNS:,} runs over {TENANTS} tenants, 120 days, newest now, all completed; contoso "
        f"holds {pg['contoso_runs']:,} of them (10 %: the worst tenant; ~¼ inside the default "
        f"30-day window). Migrate + demo seed + bulk insert + VACUUM ANALYZE took "
        f"{pg['load_s']:.0f} s; the app ran its own `db upgrade` and `demo seed` (no-ops) and "
        f"served after {pg['start_s']:.0f} s. Cycle: dashboard → click sidebar Operations → open "
        "the State select, pick Failed → click sidebar Dashboard, wait. The timer ends when "
        "the table's first row is the run the floor query returned first (the previous view's "
        "rows stay mounted, so `tbody tr` alone would end too early).",
        "",
        *pg["nav"],
        "",
    ]


def _memory_lines(lite: dict, pg: dict) -> list[str]:
    loaded = lite["loaded_mem"]
    return [
        f"### 4. Memory with {SESSIONS} signed-in sessions (PostgreSQL app, 1 M runs)",
        "",
        "Summed over the process group of `run-embedded.sh` (reflex and its backend worker) "
        f"from /proc. For comparison, the SQLite app: {lite['idle']['rss']:.0f} MiB RSS "
        f"({lite['idle']['pss']:.0f} MiB PSS) idle after start, {loaded['rss']:.0f} MiB RSS "
        f"({loaded['pss']:.0f} MiB PSS) at the end of sections 1–2, woodgrove's syncs executing.",
        "",
        *pg["mem"],
        "",
    ]


def _caveats(log: BrowserLog, logs: Path) -> list[str]:
    errors = Counter(e[:160] for e in log.errors)
    text = "; ".join(f"`{k}` ×{n}" for k, n in errors.most_common(6)) or "none"
    foreign = sum(n for port, n in log.sockets.items() if port not in log.ports)
    return [
        f"Browser page errors and console errors/warnings over the whole run: {text}.",
        "",
        f"Websockets opened by the pages: {sum(log.sockets.values())}, to another app than the "
        f"one measured: {foreign}. The apps were served from a private copy of the working tree "
        "(code + `.web`, made at the start): Reflex bakes the backend port into the production "
        "bundle, so apps built from one shared checkout at the same time (other engineers' e2e "
        "runs) overwrite each other's bundle and a page may talk to the wrong backend.",
        "",
        "Caveats: 2 cores shared by the app, Chromium, this script and other engineers' test "
        "runs, so absolute figures are noisy (the interleaved floors carry the same noise). "
        'Headless Chromium without a GPU; "in the DOM" is React\'s commit of the node (the next '
        "animation frame is shown too), not the end of the toast's entrance animation. PSS is "
        "the fairer memory figure (RSS counts pages shared after fork twice). The floors are "
        "not what a user could ever get — they bound the app's own share from below. Run to run "
        "(two full runs 10 min apart while writing this, 2026-11-29): the new-run path with an "
        "idle worker gave p95 195 ms and 131 ms — the 150 ms goal is borderline there. "
        f"Logs of this run: `{logs}`.",
    ]


if __name__ == "__main__":
    main()
