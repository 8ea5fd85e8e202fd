"""Section 1, new runs: a click that creates a run, with the worker idle and while it is busy.

A tab only clicks when its own (tenant, type) has no active run and its repeat guard is over, so
every counted answer is "queued". The run table is read directly to know what is active.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from opsapp.models import OperationRun

from .browser import open_tab
from .config import SYNC_SAMPLES
from .serving import Server
from .toast import START_BUTTON, Samples, Tab, classify, click_once

RUNS_TABLE = OperationRun.__table__
IDLE = "new run, worker idle"
LOADED = "new run while woodgrove's first full syncs execute"
SYNC_PAGES = (  # page under /t/<slug>/ → the run type its start button starts
    ("inventory", "inventory.sync"),
    ("policies", "policy.sync"),
    ("directory/groups", "directory_groups.sync"),
)


def active_runs(engine, tenant_id: int | None = None, run_type: str | None = None) -> int:
    """Queued or running runs: all of them, or of one tenant and type."""
    query = sa.select(sa.func.count()).where(RUNS_TABLE.c.status.in_(("queued", "running")))
    if tenant_id is not None:
        query = query.where(RUNS_TABLE.c.tenant_id == tenant_id, RUNS_TABLE.c.type == run_type)
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def sync_tabs(context, app: Server, tenants: dict[str, int], slug: str) -> list[Tab]:
    """One tab per sync page of tenant `slug`."""
    return [
        Tab(
            open_tab(context, app.base_url, f"/t/{slug}/{seg}", START_BUTTON),
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
        if now - t.last_click > 3.2 and not active_runs(engine, t.tenant_id, t.run_type)
    ]


def wait_idle(engine, limit_s: float) -> float:
    t0 = time.monotonic()
    while active_runs(engine) and time.monotonic() - t0 < limit_s:
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
        if not any(active_runs(engine, t.tenant_id, t.run_type) for t in heavy):
            break
        ready = _ready(tabs, engine)
        if ready:
            _new_run_click(ready[0], engine, out, bucket)
        time.sleep(0.3)


def _new_run_click(tab: Tab, engine, out: Samples, bucket: str) -> None:
    active = active_runs(engine)
    result, floor = click_once(tab)
    kind = classify(result, guard=False)
    if "ms" in result and kind == "new run":
        out.add(bucket, result, floor)
        out.active_at_click.setdefault(bucket, []).append(active)
        out.by_type.setdefault(bucket, {}).setdefault(tab.run_type, []).append(result["ms"])
    else:
        out.odd[f"{bucket}: {kind}"] += 1
