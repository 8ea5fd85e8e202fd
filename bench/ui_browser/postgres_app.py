"""Sections 3–4 on an app over a scratch PostgreSQL database loaded with 1 M runs."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from bench.common import drop_pg, scratch_pg
from opsapp.db import get_engine
from tests.e2e.conftest import stop_process_group

from .browser import BrowserLog
from .config import RUNS, TENANTS
from .memory import memory_sessions
from .operations_list import list_navigation
from .serving import Server, start_app

# One set-based INSERT: contoso gets every 10th run, the rest cycle over the other tenants;
# initiator, type and outcome are spread by a hash of the row number (85 % succeeded).
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


def _insert_tenants_and_runs(conn) -> dict[str, int]:
    """Bench tenants up to TENANTS, then the RUNS runs; slug → tenant id."""
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
    sql = LOAD_SQL.format(
        contoso=ids["contoso"], others=",".join(map(str, others)), n_others=len(others), runs=RUNS
    )
    conn.execute(sa.text(sql))
    return ids


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
        ids = _insert_tenants_and_runs(conn)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))  # fresh statistics, as a long-lived table has
    return ids, time.perf_counter() - t0


def _count_runs(engine, tenant_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM operation_runs WHERE tenant_id = :t"), {"t": tenant_id}
        ).scalar_one()


def pg_part(stack, browser, demo: Server, logs: Path, log: BrowserLog) -> dict:
    """Load the scratch database, start its app, measure memory then the list; stop the app."""
    url = scratch_pg()
    stack.callback(drop_pg, url)  # registered before the app's stop: dropped after it stops
    ids, load_s = load_million(url)
    engine = get_engine(url)
    contoso_runs = _count_runs(engine, ids["contoso"])
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
