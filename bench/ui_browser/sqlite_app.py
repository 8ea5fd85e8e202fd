"""Sections 1–2 on an app with a fresh SQLite database: toasts, then the run detail page."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from opsapp.db import get_engine
from tests.e2e.conftest import stop_process_group

from .browser import BrowserLog, new_context, sign_in
from .config import SYNC_SAMPLES, WARMUP
from .procfs import group_memory
from .run_detail import detail_latency
from .serving import Server, start_app
from .toast import Samples, reuse_phase, sync_report
from .toast_new_runs import IDLE, LOADED, idle_new_runs, loaded_new_runs, sync_tabs, wait_idle


def tenant_ids(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT slug, id FROM tenants")).all())


def sqlite_part(stack, browser, demo: Server, logs: Path, log: BrowserLog) -> dict:
    """Start the SQLite app, measure sections 1–2, stop it; figures for the report."""
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


def measure_sqlite_app(browser, app: Server, demo: Server, engine, log) -> dict:
    """Toasts (reuse, then a new run per click with an idle worker), the run detail, then toasts
    while woodgrove's big first syncs execute (last: the app is stopped with them running)."""
    tenants, out = tenant_ids(engine), Samples()
    context = new_context(browser, log)
    try:
        sign_in(context, app.base_url, "owner", "/t/contoso/inventory")
        reuse_phase(context, app, demo, engine, out)
        tabs = sync_tabs(context, app, tenants, "contoso")
        wait_idle(engine, 60)
        idle_new_runs(tabs, engine, Samples(), "warm-up", WARMUP)
        idle_new_runs(tabs, engine, out, IDLE, SYNC_SAMPLES)
        print("\n".join(sync_report(out)), flush=True)
        wait_idle(engine, 60)
        detail = detail_latency(browser, app, engine, tenants["contoso"], log)
        print("\n".join(detail), flush=True)
        loaded_new_runs(tabs, sync_tabs(context, app, tenants, "woodgrove"), engine, out, LOADED)
        loaded_mem = group_memory(app.process.pid)
    finally:
        context.close()
    return {"sync": sync_report(out), "detail": detail, "loaded_mem": loaded_mem}
