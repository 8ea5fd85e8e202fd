"""Backup scheduler tick with 10,000 enabled schedules on PostgreSQL.

Target (issue 7): the due selection of a tick ≤ 20 ms, one indexed query. Measures
`select_due()` — the exact query `fire_due_schedules()` runs (partial index
`ix_backup_schedules_due` on next_run_at WHERE enabled, ORDER BY next_run_at LIMIT 500) — beside
the floor (a bare `SELECT 1` round trip through the same pool, interleaved sample by sample), in
four situations: nothing due, a typical minute, 500 schedules due at the same minute (the batch
cap), and all 10,000 due after a long outage. Records EXPLAIN ANALYZE of each and, for scale,
one full tick that starts 500 runs and the tick right after it (nothing left to fire).

    python -m bench.scheduler_tick          # prints and writes its section of RESULTS.md
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bench.common import (
    RecordingDispatcher,
    drop_pg,
    machine,
    scratch_pg,
    summary_ms,
    write_section,
)
from opsapp.db import get_engine
from opsapp.features.backups.scheduler import BATCH_SIZE, due_query, fire_due_schedules, select_due
from opsapp.migrate import upgrade

TENANTS, SCHEDULES, BURST = 100, 10_000, 500
SAMPLES = 1_500
INDEX = "ix_backup_schedules_due"
T0 = datetime(2026, 1, 11, 0, 0, tzinfo=UTC)
SPREAD_SECONDS = 86_400 / SCHEDULES  # next runs spread evenly over one day: ~7 per minute

LOAD_SQL = """
INSERT INTO backup_schedules (tenant_id, name, frequency, weekdays, time_of_day, timezone,
    policy_types, keep_last, enabled, next_run_at, created_at, updated_at)
SELECT 1 + (i % :tenants), 'Schedule ' || i, 'daily', '[]'::jsonb,
       to_char(:t0 + (i - 1) * (:spread * interval '1 second'), 'HH24:MI'), 'UTC',
       '["deviceConfiguration"]'::jsonb, 7, true,
       :t0 + (i - 1) * (:spread * interval '1 second'), now(), now()
FROM generate_series(1, :n) AS i
"""


def load(url: str) -> float:
    upgrade(url)
    engine = get_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO tenants (name, slug, entra_tenant_id, provider, client_id, created_at) "
                "SELECT 'Tenant ' || i, 'bench-' || i, '', 'demo', '', now() "
                "FROM generate_series(1, :n) i"
            ),
            {"n": TENANTS},
        )
        conn.execute(
            sa.text(LOAD_SQL),
            {"tenants": TENANTS, "t0": T0, "spread": SPREAD_SECONDS, "n": SCHEDULES},
        )
    analyze(engine)
    return time.perf_counter() - started


def analyze(engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE backup_schedules"))


def make_burst(engine) -> datetime:
    """BURST schedules (spread over all tenants) move to one minute; returns a `now` at which
    exactly they are due."""
    at = T0 - timedelta(minutes=1)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE backup_schedules SET next_run_at = :at, time_of_day = '23:59' "
                "WHERE id % (:n / :burst) = 0"
            ),
            {"at": at, "n": SCHEDULES, "burst": BURST},
        )
    analyze(engine)
    return at + timedelta(seconds=30)


def measure(engine, now: datetime) -> tuple[list[float], list[float], int]:
    """(query samples, floor samples, rows returned), interleaved; order alternates."""
    query, floor, rows = [], [], 0

    def run_query() -> None:
        nonlocal rows
        t = time.perf_counter()
        rows = len(select_due(engine, now))
        query.append(time.perf_counter() - t)

    def run_floor() -> None:
        t = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1")).scalar()
        floor.append(time.perf_counter() - t)

    for _ in range(50):  # warm the pool and the caches
        run_query(), run_floor()
    query.clear(), floor.clear()
    for i in range(SAMPLES):
        first, second = (run_query, run_floor) if i % 2 else (run_floor, run_query)
        first(), second()
    return query, floor, rows


def explain(engine, now: datetime) -> str:
    compiled = due_query(now).compile(engine)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + str(compiled), compiled.params)
            return "\n".join(row[0] for row in cur.fetchall())


def full_tick(engine, now: datetime) -> tuple[int, float]:
    t = time.perf_counter()
    fired = asyncio.run(fire_due_schedules(engine, RecordingDispatcher(), now))
    return len(fired), time.perf_counter() - t


def main() -> None:
    url = scratch_pg()
    try:
        load_s = load(url)
        engine = get_engine(url)
        scenarios = [
            ("nothing due", T0 - timedelta(seconds=1)),
            ("typical minute", T0 + timedelta(seconds=60)),
        ]
        results, plans, uses_index = [], [], True

        def run(name: str, now: datetime) -> None:
            nonlocal uses_index
            query, floor, rows = measure(engine, now)
            results.append((name, rows, query, floor))
            plan = explain(engine, now)
            uses_index = uses_index and INDEX in plan
            plans.append(f"#### {name} ({rows} rows)\n```\n{plan}\n```")

        for name, now in scenarios:
            run(name, now)
        burst_now = make_burst(engine)
        run(f"{BURST} due at the same minute", burst_now)
        run(f"all {SCHEDULES:,} due (long outage; batch of {BATCH_SIZE})", T0 + timedelta(days=2))
        fired, tick_s = full_tick(engine, burst_now)
        again, again_s = full_tick(engine, burst_now)

        lines = [
            f"Machine: {machine()}",
            "",
            f"{SCHEDULES:,} enabled daily schedules across {TENANTS} tenants, next runs spread "
            f"over one day (~{60 / SPREAD_SECONDS:.0f} per minute), loaded in {load_s:.1f} s. "
            f"Each row: {SAMPLES:,} due selections (`select_due()`, the tick's one query) "
            "interleaved with as many `SELECT 1` round trips through the same pool (the floor).",
            "",
            "| situation | rows | due selection | floor (`SELECT 1`) |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {name} | {rows} | {summary_ms(q)} | {summary_ms(f)} |"
            for name, rows, q, f in results
        ]
        lines += [
            "",
            f"EXPLAIN uses `{INDEX}` in every situation: {'yes' if uses_index else 'NO'}.",
            f"Full tick, {BURST} due: {fired} runs started (claim + `start_operation` with a "
            f"recording dispatcher, one by one) in {tick_s:.2f} s "
            f"({tick_s / max(fired, 1) * 1000:.1f} ms per schedule); the tick right after it "
            f"fired {again} in {again_s * 1000:.1f} ms.",
        ]
        body = (
            "\n".join(lines)
            + "\n\n<details><summary>EXPLAIN ANALYZE</summary>\n\n"
            + "\n\n".join(plans)
            + "\n</details>"
        )
        print(body)
        write_section("Backup scheduler tick (PostgreSQL, 10,000 schedules)", body)
    finally:
        drop_pg(url)


if __name__ == "__main__":
    main()
