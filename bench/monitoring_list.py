"""Monitoring list query: 1,000,000 runs on PostgreSQL, one tenant holding 200,000 of them.

Targets (SPEC §7, issue 12): every filter p95 ≤ 10 ms on the biggest tenant, served by an index
range scan in newest-first order (never a Bitmap Heap Scan or Seq Scan on operation_runs), and
`list_runs()` costing ≤ 1.3× the raw SQL it emits.

For each variant, `list_runs()` (the Monitoring page's and `opsapp ops list`'s query, on a kept
Session) and its floor — the exact SQL list_runs emits, captured once, executed with the bare
psycopg cursor of a kept connection, fetching every row — run interleaved sample by sample (the
order alternating), after a warm-up, in REPEATS rounds. Once against the biggest tenant (worst
case) and once against random small tenants. EXPLAIN (ANALYZE, BUFFERS) per variant against the
biggest tenant; the plan check exits non-zero if any variant's plan — the custom plan, and for
the filter shapes list_runs prepares the generic plan a prepared statement may switch to —
scans operation_runs with a Bitmap Heap Scan or a Seq Scan (an exact bitmap scan — nothing filtered, ≤ 1,000 rows, e.g. the few active runs
fetched then sorted — is allowed: see bad_scan).

    python -m bench.monitoring_list            # scratch database, loaded, dropped at the end
    python -m bench.monitoring_list --keep     # keep the scratch database (prints its URL)
    python -m bench.monitoring_list --url URL  # reuse a database a --keep run loaded
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import sys
import time
from datetime import timedelta

import sqlalchemy as sa
from psycopg import sql as pgsql
from sqlmodel import Session

from bench.common import drop_pg, machine, percentile, scratch_pg, write_section
from opsapp.db import get_engine
from opsapp.migrate import upgrade
from opsapp.operations.queries import RunFilters, list_runs, listing_for

TENANTS, RUNS = 100, 1_000_000
BIG_TENANT, BIG_EVERY = 1, 5  # every 5th run belongs to tenant 1: 200,000 runs
SAMPLES, REPEATS, WARMUP = 1000, 4, 40  # per variant and tenant kind: SAMPLES over REPEATS rounds
P95_TARGET_MS, RATIO_TARGET = 10.0, 1.3
SECTION = "Monitoring list query (PostgreSQL, 1 M runs)"

# Bulk load in SQL. 120 days of history; tenant 1 holds every 5th run, the other 99 tenants share
# the rest (~8,000 each). Initiators: System 40 %, Olivia 25 %, Oscar 25 %, Mark 9 %, Rita 1 %.
# Outcomes: 85 % succeeded, 8 % partially, 6 % failed, 1 % cancelled; every 4,999th run is
# running (distinct identities, so the partial unique index holds).
LOAD_SQL = """
INSERT INTO operation_runs (tenant_id, user_id, initiator_name, type, status, outcome,
    run_identity_hash, summary_counts, failures, context, created_at, started_at, completed_at,
    updated_at, heartbeat_at, attempts)
SELECT CASE WHEN i % {every} = 0 THEN {big} ELSE {big} + 1 + (r % ({tenants} - 1)) END,
       NULL,
       CASE WHEN r / 7 % 100 < 40 THEN 'System' WHEN r / 7 % 100 < 65 THEN 'Olivia Owner'
            WHEN r / 7 % 100 < 90 THEN 'Oscar Operator' WHEN r / 7 % 100 < 99 THEN 'Mark Manager'
            ELSE 'Rita Rare' END,
       (ARRAY['inventory.sync','policy.sync','directory_groups.sync','drift.generate',
              'backup_set.add_policies','backup_set.remove_policies','backup_schedule.run_now',
              'backup_schedule.retry','backup_schedule.scheduled','restore.execute'])[1 + (r / 131 % 10)],
       CASE WHEN i % 4999 = 0 THEN 'running' ELSE 'completed' END,
       CASE WHEN i % 4999 = 0 THEN 'pending'
            WHEN r % 100 < 85 THEN 'succeeded'
            WHEN r % 100 < 93 THEN 'partially_succeeded'
            WHEN r % 100 < 99 THEN 'failed' ELSE 'cancelled' END,
       md5(i::text),
       '{{"total": 120, "processed": 120, "created": 3, "updated": 5, "unchanged": 112}}'::jsonb,
       '[]'::jsonb, '{{"inputs": {{}}}}'::jsonb,
       ts, ts + interval '1 second',
       CASE WHEN i % 4999 = 0 THEN NULL ELSE ts + interval '40 seconds' END,
       ts + interval '40 seconds', NULL, 1
FROM (SELECT i, abs(hashtext(i::text)) AS r,  -- r: a pseudo-random number per row
             now() - (i::float / {runs} * interval '120 days') AS ts
      FROM generate_series(1, {runs}) AS i) AS g
"""

ALL = None  # since=None: all time
VARIANTS: dict[str, RunFilters] = {
    "default (last 30 days)": RunFilters(),
    "all time": RunFilters(since=ALL),
    "time range = last 24 h": RunFilters(since=timedelta(hours=24)),
    **{
        f"type = {t}": RunFilters(type=t)
        for t in (
            "inventory.sync",
            "policy.sync",
            "directory_groups.sync",
            "drift.generate",
            "backup_set.add_policies",
            "backup_set.remove_policies",
            "backup_schedule.run_now",
            "backup_schedule.retry",
            "backup_schedule.scheduled",
            "restore.execute",
        )
    },
    **{
        f"state = {s}{label}": RunFilters(state=s, since=since)
        for s in ("active", "succeeded", "partially_succeeded", "failed", "cancelled")
        for since, label in ((RunFilters().since, ""), (ALL, ", all time"))
    },
    "initiator = Oscar Operator (25 %)": RunFilters(initiator="Oscar Operator"),
    "initiator = Rita Rare (1 %), all time": RunFilters(initiator="Rita Rare", since=ALL),
    "type + failed + 7 days": RunFilters(
        type="inventory.sync", state="failed", since=timedelta(days=7)
    ),
    "type + cancelled, all time": RunFilters(type="policy.sync", state="cancelled", since=ALL),
    "initiator + failed, all time": RunFilters(
        initiator="Oscar Operator", state="failed", since=ALL
    ),
    "page 5 (offset 200)": RunFilters(offset=200),
    "page 21 (offset 1,000), all time": RunFilters(offset=1000, since=ALL),
}
# Random small tenants (~8,000 runs each): every filter kind once (the big tenant is the worst
# case and gets every variant).
SMALL_VARIANTS = (
    "default (last 30 days)",
    "all time",
    "type = policy.sync",
    "state = active",
    "state = failed",
    "state = cancelled, all time",
    "initiator = Oscar Operator (25 %)",
    "initiator = Rita Rare (1 %), all time",
    "type + failed + 7 days",
    "page 5 (offset 200)",
)
BAD_SCAN = re.compile(r"(Bitmap Heap Scan|Seq Scan) on operation_runs")
# A Bitmap Heap Scan that reads only matching rows (nothing removed by a filter or a recheck,
# at most this many rows) is the planner's best plan for a bucket it expects to hold fewer rows
# than the page — the few active runs: it fetches exactly those, then sorts them. Allowed.
EXACT_BITMAP_MAX_ROWS = 1000


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
            sa.text(LOAD_SQL.format(tenants=TENANTS, runs=RUNS, every=BIG_EVERY, big=BIG_TENANT))
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE operation_runs"))
    return time.perf_counter() - started


def captured_sql(url: str, filters: RunFilters) -> tuple[str, dict, dict]:
    """The statement, parameters and driver options (prepare or not) list_runs() sends to the
    driver (for the big tenant).

    Captured through an engine of its own: while an execution event listener is registered
    list_runs executes through SQLAlchemy (so listeners see its statement: the same SQL and
    values). The measured engine stays as in production, with nothing listening."""
    captured: list = []

    def before(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    engine = sa.create_engine(url)
    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        with Session(engine) as session:
            list_runs(session, tenant_id=BIG_TENANT, filters=filters)
    finally:
        engine.dispose()
    assert len(captured) == 1, captured
    statement, parameters = captured[0]
    options = listing_for(engine.dialect, filters).driver_options
    return statement, dict(parameters), options


def tenant_key(parameters: dict) -> str:
    keys = [k for k in parameters if k.startswith("tenant_id")]
    assert len(keys) == 1 and parameters[keys[0]] == BIG_TENANT, parameters
    return keys[0]


def measure(
    session, cursor, captured: tuple[str, dict, dict], filters, tenants
) -> tuple[list, list, int]:
    """Interleaved samples (list_runs, raw), each on the same tenant; returns seconds. The raw
    side sends the statement as list_runs does: prepared by psycopg after five executions, or
    planned on every one where list_runs asks for that (several filters)."""
    statement, parameters, options = captured
    key = tenant_key(parameters)
    ours, raw, rows = [], [], 0
    clock = time.perf_counter

    def one(tenant_id: int, ours_first: bool) -> None:
        nonlocal rows
        params = {**parameters, key: tenant_id}
        for which in (0, 1) if ours_first else (1, 0):
            if which == 0:
                t0 = clock()
                result = list_runs(session, tenant_id=tenant_id, filters=filters)
                ours.append(clock() - t0)
                rows += len(result)
                del result  # frees the objects: the identity map never serves the next sample
            else:
                t0 = clock()
                cursor.execute(statement, params, **options)
                fetched = cursor.fetchall()
                raw.append(clock() - t0)
                del fetched

    for i in range(WARMUP):
        one(tenants(), i % 2 == 0)
    ours.clear(), raw.clear()
    rows = 0
    per_round = SAMPLES // REPEATS
    for _ in range(REPEATS):
        gc.collect()
        for i in range(per_round):
            one(tenants(), i % 2 == 0)
        time.sleep(0.05)  # rounds spread over time: other load on the machine averages out
    return ours, raw, rows // len(ours)


def literal_sql(cursor, statement: str, parameters: dict) -> str:
    """`statement` with its %(name)s placeholders as $n and the values in order (for PREPARE)."""
    names: list[str] = []

    def repl(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    text = re.sub(r"%\((\w+)\)s", repl, statement)
    values = pgsql.SQL(", ").join(pgsql.Literal(parameters[n]) for n in names)
    return text, values.as_string(cursor.connection)


def explain(cursor, statement: str, parameters: dict) -> tuple[str, str]:
    """(EXPLAIN ANALYZE BUFFERS of the custom plan, EXPLAIN of the generic plan)."""
    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters)
    custom = "\n".join(row[0] for row in cursor.fetchall())
    text, values = literal_sql(cursor, statement, parameters)
    cursor.execute(f"PREPARE bench_generic AS {text}")
    cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    cursor.execute(f"EXPLAIN (COSTS OFF) EXECUTE bench_generic({values})")
    generic = "\n".join(row[0] for row in cursor.fetchall())
    cursor.execute("RESET plan_cache_mode")
    cursor.execute("DEALLOCATE bench_generic")
    return custom, generic


def scan_of(plan: str) -> str:
    """The operation_runs access of a plan, e.g. 'Index Scan Backward using ix_…'."""
    found = re.findall(
        r"((?:Index Only |Index |Bitmap Heap |Seq )Scan[^\n]*? on operation_runs)", plan
    )
    return "; ".join(s.replace(" on operation_runs", "") for s in found) or "?"


def bad_scan(plan: str, *, analyzed: bool) -> str | None:
    """Why the plan's access to operation_runs is not acceptable, or None. Never a Seq Scan;
    a Bitmap Heap Scan only when exact (EXPLAIN ANALYZE shows it removed nothing and returned at
    most EXACT_BITMAP_MAX_ROWS rows; a generic plan's bitmap scan must carry no Filter)."""
    lines = plan.splitlines()
    for i, line in enumerate(lines):
        match = BAD_SCAN.search(line)
        if not match:
            continue
        if match.group(1) == "Seq Scan":
            return "Seq Scan on operation_runs"
        depth = len(line) - len(line.lstrip())
        node = [line.strip()]
        for following in lines[i + 1 :]:
            if len(following) - len(following.lstrip()) <= depth or "->" in following:
                break
            node.append(following.strip())
        text = " / ".join(node)
        rows = re.search(r"actual time=\S+ rows=(\d+)", line)
        if "Rows Removed" in text or (not analyzed and "Filter:" in text):
            return f"Bitmap Heap Scan filtering rows: {text}"
        if analyzed and (rows is None or int(rows.group(1)) > EXACT_BITMAP_MAX_ROWS):
            return f"Bitmap Heap Scan over {rows and rows.group(1)} rows: {text}"
    return None


def ms(samples: list[float], pct: float) -> float:
    return percentile(samples, pct) * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="reuse a database a --keep run loaded")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    url, load_s = args.url, None
    if not url:
        url = scratch_pg()
    try:
        if not args.url:
            load_s = load(url)
        else:
            upgrade(url)
        return run(url, load_s)
    finally:
        if args.keep or args.url:
            print(f"database kept: {url}")
        else:
            drop_pg(url)


def run(url: str, load_s: float | None) -> int:
    engine = get_engine(url)
    rng = random.Random(7)
    with engine.connect() as conn:
        counts = dict(
            conn.execute(
                sa.text("SELECT tenant_id, count(*) FROM operation_runs GROUP BY tenant_id")
            ).all()
        )
        indexes = conn.execute(
            sa.text("SELECT count(*) FROM pg_indexes WHERE tablename = 'operation_runs'")
        ).scalar_one()
    small = [t for t in counts if t != BIG_TENANT]
    kinds = {
        f"big tenant ({counts[BIG_TENANT]:,} runs)": lambda: BIG_TENANT,
        f"random small tenants (~{sum(counts[t] for t in small) // len(small):,} runs)": (
            lambda: rng.choice(small)
        ),
    }
    loaded = f"loaded in {load_s:.1f} s" if load_s is not None else "loaded earlier"
    lines = [
        f"Machine: {machine()}",
        "",
        f"{sum(counts.values()):,} runs across {len(counts)} tenants (120 days of history), "
        f"{loaded}; operation_runs has {indexes} indexes.",
        f"Each row: {SAMPLES} samples per variant ({REPEATS} rounds, {WARMUP} warm-up samples), "
        "page size 50. `list_runs` = `list_runs()` on a kept Session; `raw` = the exact SQL "
        "list_runs emits, captured once, executed by the bare psycopg cursor of a kept "
        "connection as list_runs sends it (prepared after five executions, or planned on "
        "every one for shapes with two or more filters), fetching all rows; the two interleaved sample by sample. ratio = "
        "list_runs / raw at p50 and p95. Targets: p95 ≤ 10 ms, ratio ≤ 1.3.",
        "",
        "| tenant | variant | rows | list_runs p50 / p95 / p99 ms | raw p50 / p95 / p99 ms "
        "| ratio p50 / p95 | plan (big tenant) |",
        "|---|---|---|---|---|---|---|",
    ]
    plans, failures, worst = [], [], {"p95": 0.0, "ratio": 0.0}
    started = time.perf_counter()
    raw_conn = engine.raw_connection()  # the floor's kept connection
    try:
        cursor = raw_conn.driver_connection.cursor()
        with Session(engine) as session:
            statements = {}
            for name, filters in VARIANTS.items():
                captured = captured_sql(url, filters)
                statement, parameters, options = captured
                custom, generic = explain(cursor, statement, parameters)
                raw_conn.driver_connection.rollback()
                plan, checked = scan_of(custom), [("custom", custom)]
                if options.get("prepare") is False:  # never prepared: no generic plan
                    plan += " (planned per execution)"
                    generic_text = "none: list_runs plans this filter shape on every execution"
                else:
                    checked.append(("generic", generic))
                    generic_text = f"```\n{generic}\n```"
                    if scan_of(generic) != plan:
                        plan += f" (generic plan: {scan_of(generic)})"
                for label, text in checked:
                    if problem := bad_scan(text, analyzed=label == "custom"):
                        failures.append(f"{name}: {label} plan: {problem}")
                plans.append(
                    f"#### {name}\n```\n{custom}\n```\nGeneric plan (prepared statement): "
                    f"{generic_text}"
                )
                statements[name] = (captured, plan)
            for kind, tenants in kinds.items():
                for name, filters in VARIANTS.items():
                    if "small" in kind and name not in SMALL_VARIANTS:
                        continue
                    captured, plan = statements[name]
                    ours, raw, rows = measure(session, cursor, captured, filters, tenants)
                    p50, p95 = ms(ours, 50) / ms(raw, 50), ms(ours, 95) / ms(raw, 95)
                    worst["p95"] = max(worst["p95"], ms(ours, 95))
                    worst["ratio"] = max(worst["ratio"], p50)
                    lines.append(
                        f"| {kind.split(' (')[0]} | {name} | {rows} "
                        f"| {ms(ours, 50):.2f} / {ms(ours, 95):.2f} / {ms(ours, 99):.2f} "
                        f"| {ms(raw, 50):.2f} / {ms(raw, 95):.2f} / {ms(raw, 99):.2f} "
                        f"| {p50:.2f} / {p95:.2f} | {plan if 'big' in kind else '″'} |"
                    )
                    print(lines[-1], flush=True)
        cursor.close()
    finally:
        raw_conn.close()
    lines += [
        "",
        f"Worst list_runs p95: {worst['p95']:.2f} ms; worst p50 ratio list_runs / raw: "
        f"{worst['ratio']:.2f}. Measured in {time.perf_counter() - started:.0f} s.",
        "Plan check (no Seq Scan and no filtering Bitmap Heap Scan on operation_runs, custom "
        "plan, and generic plan where list_runs prepares): "
        + ("passed." if not failures else "FAILED: " + "; ".join(failures)),
    ]
    body = (
        "\n".join(lines)
        + f"\n\n<details><summary>EXPLAIN (ANALYZE, BUFFERS), tenant {BIG_TENANT}</summary>\n\n"
        + "\n\n".join(plans)
        + "\n</details>"
    )
    write_section(SECTION, body)
    print("\n".join(lines[-3:]))
    if failures:
        print("PLAN CHECK FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
