"""Monitoring list query with 1,000,000 runs across 100 tenants on PostgreSQL.

Target (SPEC §7): default view and each filter p95 ≤ 30 ms. Measures list_runs() — the exact
query the Monitoring page and `opsapp ops list` use — and records EXPLAIN for each variant.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session

from bench.common import drop_pg, machine, scratch_pg, summary_ms, write_section
from opsapp.db import get_engine
from opsapp.migrate import upgrade
from opsapp.operations.queries import RunFilters, list_runs

TENANTS, RUNS = 100, 1_000_000
SAMPLES = 300

# Bulk load in SQL: 1 M rows in seconds. 120 days of history, realistic outcome mix, a few
# active runs (distinct identities, so the partial unique index holds).
LOAD_SQL = """
INSERT INTO operation_runs (tenant_id, user_id, initiator_name, type, status, outcome,
    run_identity_hash, summary_counts, failures, context, created_at, started_at, completed_at,
    updated_at, heartbeat_at, attempts)
SELECT 1 + (i % {tenants}),
       NULL,
       (ARRAY['System','Olivia Owner','Oscar Operator','Mark Manager'])[1 + (r / 7 % 4)],
       (ARRAY['inventory.sync','policy.sync','directory_groups.sync','drift.generate',
              'backup_set.add_policies','backup_set.remove_policies','backup_schedule.run_now',
              'backup_schedule.retry','backup_schedule.scheduled','restore.execute'])[1 + (r / 131 % 10)],
       CASE WHEN i % 5000 = 0 THEN 'running' ELSE 'completed' END,
       CASE WHEN i % 5000 = 0 THEN 'pending'
            WHEN r % 100 < 85 THEN 'succeeded'
            WHEN r % 100 < 93 THEN 'partially_succeeded'
            WHEN r % 100 < 99 THEN 'failed' ELSE 'cancelled' END,
       md5(i::text),
       '{{"total": 120, "processed": 120, "created": 3, "updated": 5, "unchanged": 112}}'::jsonb,
       '[]'::jsonb, '{{"inputs": {{}}}}'::jsonb,
       ts, ts + interval '1 second', ts + interval '40 seconds', ts + interval '40 seconds', NULL, 1
FROM (SELECT i, abs(hashtext(i::text)) AS r,  -- r: a pseudo-random number per row
             now() - (i::float / {runs} * interval '120 days') AS ts
      FROM generate_series(1, {runs}) AS i) AS g
"""

VARIANTS: dict[str, RunFilters] = {
    "default (last 30 days)": RunFilters(),
    "type = policy.sync": RunFilters(type="policy.sync"),
    "state = active": RunFilters(state="active"),
    "state = succeeded": RunFilters(state="succeeded"),
    "state = partially_succeeded": RunFilters(state="partially_succeeded"),
    "state = failed": RunFilters(state="failed"),
    "state = cancelled": RunFilters(state="cancelled"),
    "time range = last 24 h": RunFilters(since=timedelta(hours=24)),
    "initiator = Oscar Operator": RunFilters(initiator="Oscar Operator"),
    "type + failed + 7 days": RunFilters(
        type="inventory.sync", state="failed", since=timedelta(days=7)
    ),
    "page 5 (offset 200)": RunFilters(offset=200),
}


def load(url: str) -> float:
    upgrade(url)
    engine = get_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO tenants (name, slug, entra_tenant_id, provider, client_id, created_at) "
                "SELECT 'Tenant ' || i, 'bench-' || i, '', 'demo', '', now() FROM generate_series(1, :n) i"
            ),
            {"n": TENANTS},
        )
        conn.execute(sa.text(LOAD_SQL.format(tenants=TENANTS, runs=RUNS)))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE operation_runs"))
    return time.perf_counter() - started


def explain(engine, filters: RunFilters, tenant_id: int) -> str:
    with Session(engine) as session:
        captured = {}

        def before(conn, cursor, statement, parameters, context, executemany):
            captured.setdefault("sql", (statement, parameters))

        sa.event.listen(engine, "before_cursor_execute", before)
        try:
            list_runs(session, tenant_id=tenant_id, filters=filters)
        finally:
            sa.event.remove(engine, "before_cursor_execute", before)
        statement, parameters = captured["sql"]
        raw = session.connection().connection.driver_connection
        with raw.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters)
            return "\n".join(row[0] for row in cur.fetchall())


def main() -> None:
    url = scratch_pg()
    try:
        load_s = load(url)
        engine = get_engine(url)
        rng = random.Random(7)
        lines = [
            f"Machine: {machine()}",
            "",
            f"{RUNS:,} runs across {TENANTS} tenants (120 days of history), loaded in {load_s:.1f} s.",
            f"Each variant: {SAMPLES} queries for random tenants, page size 50, through `list_runs()`.",
            "",
            "| variant | latency |",
            "|---|---|",
        ]
        plans = []
        for name, filters in VARIANTS.items():
            samples = []
            with Session(engine) as session:
                for _ in range(SAMPLES):
                    tenant_id = rng.randint(1, TENANTS)
                    t0 = time.perf_counter()
                    list_runs(session, tenant_id=tenant_id, filters=filters)
                    samples.append(time.perf_counter() - t0)
            lines.append(f"| {name} | {summary_ms(samples)} |")
            plans.append(f"#### {name}\n```\n{explain(engine, filters, 42)}\n```")
        body = (
            "\n".join(lines)
            + "\n\n<details><summary>EXPLAIN ANALYZE (tenant 42)</summary>\n\n"
            + "\n\n".join(plans)
            + "\n</details>"
        )
        write_section("Monitoring list query (PostgreSQL, 1 M runs)", body)
        print("\n".join(lines))
    finally:
        drop_pg(url)


if __name__ == "__main__":
    main()
