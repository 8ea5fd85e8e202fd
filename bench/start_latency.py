"""Start, claim and execution against their floors (issue 12), PostgreSQL + Redis.

Every opsapp figure is measured beside its floor in the same process, interleaved sample by
sample (the order rotates each round), after a warm-up per variant, over several repeats:

1. start latency — `start_operation` (authorize → insert-or-find → queued notification →
   dispatch) for a NEW identity and for a REUSED one (its run still queued), against the bare
   floor: `INSERT … ON CONFLICT DO NOTHING RETURNING` plus one `XADD` of a message of the same
   size on kept connections (reused: the same INSERT conflicting, nothing returned);
2. start call → body entered, through a real `opsapp worker` process, against a bare taskiq
   task through a plain `taskiq worker` on the same Redis (both bodies push the time they were
   entered onto a Redis list; the benchmark waits with BLPOP, no polling);
3. drain: a backlog of trivial runs queued while no worker ran, then one `opsapp worker`
   process drains it (first started_at → last completed_at), beside a bare taskiq worker
   draining as many bare tasks;
4. database round trips of one whole lifecycle (start + worker), counted with SQLAlchemy
   events and checked on PostgreSQL against libpq's protocol trace.

Goals (issue 12): start p50 ≤ 3× the floor (new and reused), p99 ≤ 5 ms on an idle machine;
start → body ≤ 3× bare taskiq; one worker drains ≥ 500 runs/s; a lifecycle ≤ 12 round trips.
`--quick` runs a tenth of the samples (a smoke run; its figures are not the results).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import sqlalchemy as sa
from redis.asyncio import Redis

from bench.bodies import ENTERED_KEY, NOOP, STAMP
from bench.common import (
    OUT,
    drop_pg,
    machine,
    percentile,
    scratch_pg,
    scratch_sqlite,
    seed_operator,
    write_section,
)
from bench.dbtrace import SIDE, StatementLog, WireTrace
from opsapp.db import get_engine
from opsapp.migrate import upgrade
from opsapp.models import OperationRun
from opsapp.operations.service import start_operation
from opsapp.worker.broker import build_broker
from opsapp.worker.dispatch import TaskiqDispatcher
from opsapp.worker.embedded import embedded_worker
from tests.integration.worker.worker_harness import WorkerProcess

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("OPSAPP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
QUICK = "--quick" in sys.argv
REPEATS = 3
START_SAMPLES = 40 if QUICK else 400  # per variant and repeat: 1,200 in all
ENTRY_SAMPLES = 40 if QUICK else 350  # per system and repeat: 1,050 in all
WARMUP = 10 if QUICK else 50  # per variant and repeat
BACKLOG = 300 if QUICK else 3000
_T = OperationRun.__table__
_keys = itertools.count(1)

FLOOR_INSERT = """
INSERT INTO operation_runs (tenant_id, user_id, initiator_name, type, status, outcome,
    run_identity_hash, summary_counts, failures, context, created_at, updated_at, attempts,
    next_send_at)
VALUES (%(tenant)s, %(user)s, 'Bench Operator', 'bench.floor', 'queued', 'pending', %(hash)s,
    '{}', '[]', '{"inputs": {}}', now(), now(), 0, now() + interval '15 seconds')
ON CONFLICT (tenant_id, run_identity_hash) WHERE status IN ('queued', 'running') DO NOTHING
RETURNING id
"""


def _ms(samples: list[float], pct: float) -> float:
    return percentile([s * 1000 for s in samples], pct)


def _row(name: str, samples: list[float]) -> str:
    return (
        f"{name} | {_ms(samples, 50):.2f} | {_ms(samples, 95):.2f} | {_ms(samples, 99):.2f} | "
        f"{max(samples) * 1000:.2f} | {len(samples)}"
    )


def _ratio(a: list[float], b: list[float], pct: float = 50) -> float:
    return _ms(a, pct) / _ms(b, pct)


async def start(engine, dispatcher, people, key: int, run_type: str = NOOP):
    tenant_id, user_id = people
    return await start_operation(
        run_type=run_type,
        tenant_id=tenant_id,
        user_id=user_id,
        inputs={"key": key},
        dispatcher=dispatcher,
        engine=engine,
    )


def _client(engine, queue: str):
    return build_broker(
        "redis", redis_url=REDIS_URL, engine=engine, queue_name=queue, socket_timeout=2.0
    )


async def _cleanup_streams(*names: str) -> None:
    async with Redis.from_url(REDIS_URL) as r:
        await r.delete(*names)


# -- 1. start latency against the bare floor ---------------------------------------------------
async def start_vs_floor(url: str, engine, people) -> dict[str, list[float]]:
    queue, floor_stream = (
        f"opsapp-bench:{uuid.uuid4().hex[:12]}",
        f"opsapp-bench:floor:{uuid.uuid4().hex[:8]}",
    )
    client = _client(engine, queue)
    dispatcher = TaskiqDispatcher(client)
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    pg = await psycopg.AsyncConnection.connect(plain, autocommit=True)
    redis = Redis.from_url(REDIS_URL)
    tenant, user = people
    reused_key = 10**9
    try:
        first = await start(engine, dispatcher, people, reused_key)
        assert first.created
        message = (await redis.xrange(queue, count=1))[0][1][b"data"]  # a real message's size

        async def opsapp_new() -> None:
            assert (await start(engine, dispatcher, people, next(_keys))).created

        async def opsapp_reused() -> None:
            assert not (await start(engine, dispatcher, people, reused_key)).created

        async def floor_new() -> None:
            cur = await pg.execute(
                FLOOR_INSERT, {"tenant": tenant, "user": user, "hash": uuid.uuid4().hex}
            )
            assert await cur.fetchone() is not None
            await redis.xadd(floor_stream, {b"data": message}, maxlen=100_000, approximate=True)

        async def floor_reused() -> None:
            cur = await pg.execute(FLOOR_INSERT, {"tenant": tenant, "user": user, "hash": "reused"})
            assert await cur.fetchone() is None

        await floor_new()
        cur = await pg.execute(FLOOR_INSERT, {"tenant": tenant, "user": user, "hash": "reused"})
        await cur.fetchall()
        variants = {
            "opsapp new": opsapp_new,
            "floor new": floor_new,
            "opsapp reused": opsapp_reused,
            "floor reused": floor_reused,
        }
        samples: dict[str, list[float]] = {name: [] for name in variants}
        names = list(variants)
        for _repeat in range(REPEATS):
            for name in names:
                for _ in range(WARMUP):
                    await variants[name]()
            for i in range(START_SAMPLES):
                order = names[i % 4 :] + names[: i % 4]
                for name in order:
                    t0 = time.perf_counter()
                    await variants[name]()
                    samples[name].append(time.perf_counter() - t0)
        return samples
    finally:
        await client.shutdown()
        await pg.close()
        await redis.aclose()
        await _cleanup_streams(queue, floor_stream)


# -- 2. start call → body entered, against a bare taskiq task ----------------------------------
class BareWorker:
    """A plain `taskiq worker bench.bare_taskiq:broker` process on its own stream."""

    def __init__(self, queue: str, log_path: Path) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "OPSAPP_BENCH_BARE_QUEUE": queue,
            "OPSAPP_BENCH_REDIS_URL": REDIS_URL,
        }
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "taskiq",
                    "worker",
                    "bench.bare_taskiq:broker",
                    "--workers",
                    "1",
                    "--log-level",
                    "WARNING",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
        self.proc.wait(10)


def _opsapp_worker(url: str, queue: str, name: str) -> WorkerProcess:
    return WorkerProcess(
        database_url=url,
        queue=queue,
        log_path=OUT / f"start_latency-{name}.log",
        extra_env={
            "OPSAPP_EXTRA_TASK_MODULES": "bench.bodies",
            "OPSAPP_BENCH_REDIS_URL": REDIS_URL,
        },
    )


async def _entered(redis: Redis, key: str, timeout: float = 10.0) -> float:
    while True:
        got = await redis.blpop([ENTERED_KEY], timeout=timeout)
        if got is None:
            raise TimeoutError(f"body for {key} not entered within {timeout}s")
        got_key, _, at = got[1].decode().partition(" ")
        if got_key == key:
            return float(at)


async def entry_vs_bare(url: str, engine, people) -> dict[str, list[float]]:
    queue, bare_queue = (
        f"opsapp-bench:{uuid.uuid4().hex[:12]}",
        f"opsapp-bench:bare:{uuid.uuid4().hex[:8]}",
    )
    os.environ["OPSAPP_BENCH_BARE_QUEUE"] = bare_queue
    import bench.bare_taskiq as bare  # reads the queue name at import

    client = _client(engine, queue)
    dispatcher = TaskiqDispatcher(client)
    redis = Redis.from_url(REDIS_URL)
    await redis.delete(ENTERED_KEY)
    worker = _opsapp_worker(url, queue, "entry")
    bare_worker = BareWorker(bare_queue, OUT / "start_latency-bare.log")
    await bare.broker.startup()
    try:
        worker.start()
        await asyncio.sleep(1.0)  # the bare worker has no ready line; its first task waits

        async def opsapp_entry() -> float:
            t0 = time.time()
            result = await start(engine, dispatcher, people, next(_keys), STAMP)
            return await _entered(redis, str(result.run.id)) - t0

        async def bare_entry() -> float:
            key = uuid.uuid4().hex
            t0 = time.time()
            await bare.bare_stamp.kiq(key)
            return await _entered(redis, key) - t0

        variants = {"opsapp worker": opsapp_entry, "bare taskiq": bare_entry}
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for _repeat in range(REPEATS):
            for fn in variants.values():
                for _ in range(WARMUP):
                    await fn()
            for i in range(ENTRY_SAMPLES):
                for name in list(variants) if i % 2 == 0 else list(reversed(variants)):
                    samples[name].append(await variants[name]())
        return samples
    finally:
        worker.kill()
        bare_worker.kill()
        await bare.broker.shutdown()
        await client.shutdown()
        await redis.delete(ENTERED_KEY)
        await redis.aclose()
        await _cleanup_streams(queue, bare_queue)


# -- 3. drain ----------------------------------------------------------------------------------
async def drain(url: str, engine, people) -> dict:
    import bench.bare_taskiq as bare

    queue = f"opsapp-bench:{uuid.uuid4().hex[:12]}"
    client = _client(engine, queue)
    dispatcher = TaskiqDispatcher(client)
    ids = [(await start(engine, dispatcher, people, next(_keys))).run.id for _ in range(BACKLOG)]
    worker = _opsapp_worker(url, queue, "drain")
    poll = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        worker.start()
        deadline = time.monotonic() + 300
        while True:
            with poll.connect() as conn:
                done = conn.execute(
                    sa.select(
                        sa.func.count(),
                        sa.func.min(_T.c.started_at),
                        sa.func.max(_T.c.completed_at),
                    ).where(_T.c.id.in_(ids), _T.c.status == "completed")
                ).one()
            if done[0] == len(ids):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(ids) - done[0]} runs not drained")
            await asyncio.sleep(0.2)
        opsapp_s = (done[2] - done[1]).total_seconds()
    finally:
        worker.kill()
        poll.dispose()
        await client.shutdown()
        await _cleanup_streams(queue)
    # The bare worker drains as many bare tasks queued while it did not run.
    redis = Redis.from_url(REDIS_URL)
    await redis.delete(ENTERED_KEY)
    await bare.broker.startup()
    keys = [f"d{i}" for i in range(BACKLOG)]
    for key in keys:
        await bare.bare_stamp.kiq(key)
    bare_worker = BareWorker(bare.broker.queue_name, OUT / "start_latency-bare-drain.log")
    try:
        stamps = []
        while len(stamps) < len(keys):
            got = await redis.blpop([ENTERED_KEY], timeout=60)
            if got is None:
                raise TimeoutError("bare tasks not drained")
            stamps.append(float(got[1].decode().partition(" ")[2]))
        bare_s = max(stamps) - min(stamps)
    finally:
        bare_worker.kill()
        await bare.broker.shutdown()
        await redis.delete(ENTERED_KEY)
        await redis.aclose()
        await _cleanup_streams(bare.broker.queue_name)
    return {"opsapp_s": opsapp_s, "bare_s": bare_s}


# -- 4. lifecycle round trips ---------------------------------------------------------------------
def _drainer(broker):
    async def drain() -> None:
        while broker._running_tasks:  # the in-memory broker's executing tasks
            await asyncio.sleep(0.0005)

    return drain


class _WorkerSideDispatcher(TaskiqDispatcher):
    """Tasks created while dispatching inherit SIDE="worker"; the start itself is "start"."""

    async def dispatch(self, run) -> None:
        token = SIDE.set("worker")
        try:
            await super().dispatch(run)
        finally:
            SIDE.reset(token)


async def _traced_start(engine, dispatcher, people) -> int:
    token = SIDE.set("start")
    try:
        return await start(engine, dispatcher, people, next(_keys))
    finally:
        SIDE.reset(token)


async def lifecycle_trace(engine, people, *, wire: bool) -> dict:
    """One start and its execution by the embedded worker, every round trip recorded."""
    async with embedded_worker(engine=engine, maintenance=False) as broker:
        dispatcher, drain = _WorkerSideDispatcher(broker), _drainer(broker)
        wire_trace = WireTrace(engine) if wire else None
        if wire_trace:
            wire_trace.__enter__()
        try:
            # warm: pooled connections, compiled statements, and psycopg's prepared statements
            # (it prepares a statement on its 6th execution: one extra Parse round trip then)
            for _ in range(10):
                await start(engine, dispatcher, people, next(_keys))
                await drain()
            with StatementLog(engine) as log:
                before = wire_trace.round_trips() if wire_trace else 0
                await _traced_start(engine, dispatcher, people)
                await drain()
                wire_count = (wire_trace.round_trips() - before) if wire_trace else None
        finally:
            if wire_trace:
                wire_trace.__exit__(None, None, None)
    return {"log": log, "wire": wire_count}


def lifecycle_table(results: dict[str, dict]) -> list[str]:
    """Rows: what, then the count per database, per side (start surface / worker)."""
    names = list(results)
    lines = [
        "| side | round trip | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    order: list[tuple[str, str]] = []
    for data in results.values():
        for side, what in data["log"].events:
            if (side, what) not in order:
                order.append((side, what))
    order.sort(key=lambda k: (k[0] != "start", k[1].startswith(("BEGIN", "COMMIT", "ROLL", "pre"))))
    for side, what in order:
        cells = [str(results[n]["log"].counts(side).get(what, 0)) for n in names]
        lines.append(f"| {side} | {what} | " + " | ".join(cells) + " |")
    for side in ("start", "worker"):
        lines.append(
            f"| {side} | **statements** | "
            + " | ".join(str(results[n]["log"].statements(side)) for n in names)
            + " |"
        )
        lines.append(
            f"| {side} | **round trips (statements + transaction control + pings)** | "
            + " | ".join(str(results[n]["log"].round_trips(side)) for n in names)
            + " |"
        )
    lines.append(
        "| both | **round trips, total** | "
        + " | ".join(str(results[n]["log"].round_trips()) for n in names)
        + " |"
    )
    lines.append(
        "| both | round trips seen on the wire (libpq trace: ReadyForQuery) | "
        + " | ".join(
            "n/a (in-process)" if results[n]["wire"] is None else str(results[n]["wire"])
            for n in names
        )
        + " |"
    )
    return lines


async def _trace(url: str, wire: bool) -> dict:
    upgrade(url)
    engine = get_engine(url)
    people = seed_operator(engine, slug=f"trace-{uuid.uuid4().hex[:6]}")
    return await lifecycle_trace(engine, people, wire=wire)


def _forget_runs(engine) -> None:
    """Drop the runs a section left queued: a worker started later would otherwise find them
    due in the outbox (a fresh stream makes every queued run due) and run them meanwhile."""
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM notifications"))
        conn.execute(sa.text("DELETE FROM operation_runs"))


async def pg_scenario(url: str) -> dict:
    upgrade(url)
    engine = get_engine(url)
    people = seed_operator(engine)
    result = {"start": await start_vs_floor(url, engine, people)}
    _forget_runs(engine)
    result["entry"] = await entry_vs_bare(url, engine, people)
    _forget_runs(engine)
    result["drain"] = await drain(url, engine, people)
    result["trace"] = await lifecycle_trace(engine, people, wire=True)
    return result


def main() -> None:
    header = machine()
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="opsapp-bench-") as tmp:
        lite_url = scratch_sqlite(tmp)
        lite_trace = asyncio.run(_trace(lite_url, wire=False))
        get_engine(lite_url).dispose()
    url = scratch_pg()
    try:
        pg = asyncio.run(pg_scenario(url))
    finally:
        get_engine(url).dispose()
        drop_pg(url)
    st, en, dr = pg["start"], pg["entry"], pg["drain"]
    new_ratio = _ratio(st["opsapp new"], st["floor new"])
    reused_ratio = _ratio(st["opsapp reused"], st["floor reused"])
    entry_ratio = _ratio(en["opsapp worker"], en["bare taskiq"])
    p99 = max(_ms(st["opsapp new"], 99), _ms(st["opsapp reused"], 99))
    rate, bare_rate = BACKLOG / dr["opsapp_s"], BACKLOG / dr["bare_s"]
    trips = pg["trace"]["log"].round_trips()

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    lines = [
        f"Machine: {header}",
        "",
        f"{'QUICK SMOKE RUN — not the results. ' if QUICK else ''}"
        f"Interleaved sample by sample (order rotating), {WARMUP} warm-up calls per variant "
        f"before each of {REPEATS} repeats. One caller, sequential, PostgreSQL + Redis on "
        "loopback, same tenant and operator user. Times in ms.",
        "",
        "### 1. Start latency against the bare floor",
        "",
        "| variant | p50 | p95 | p99 | max | n |",
        "|---|---|---|---|---|---|",
        *(f"| {_row(name, samples)} |" for name, samples in st.items()),
        "",
        f"- new run: opsapp / floor at p50 = **{new_ratio:.2f}×**, at p99 = "
        f"{_ratio(st['opsapp new'], st['floor new'], 99):.2f}× (goal ≤ 3× at p50: "
        f"**{verdict(new_ratio <= 3)}**)",
        f"- reused run: opsapp / floor at p50 = **{reused_ratio:.2f}×**, at p99 = "
        f"{_ratio(st['opsapp reused'], st['floor reused'], 99):.2f}× (goal ≤ 3× at p50: "
        f"**{verdict(reused_ratio <= 3)}**)",
        f"- opsapp p99 (worse of new / reused): {p99:.2f} ms (goal ≤ 5 ms on an idle machine: "
        f"**{verdict(p99 <= 5)}**)",
        "",
        "### 2. Start call → body entered (one worker process each)",
        "",
        "| system | p50 | p95 | p99 | max | n |",
        "|---|---|---|---|---|---|",
        *(f"| {_row(name, samples)} |" for name, samples in en.items()),
        "",
        f"- opsapp / bare taskiq at p50 = **{entry_ratio:.2f}×**, at p99 = "
        f"{_ratio(en['opsapp worker'], en['bare taskiq'], 99):.2f}× (goal ≤ 3×: "
        f"**{verdict(entry_ratio <= 3)}**). opsapp's side includes the whole start call "
        "(authorize, insert, notification, dispatch), the claim and the run context; the bare "
        "side only the kick.",
        "",
        "### 3. Drain: one worker process, a backlog queued while no worker ran",
        "",
        f"- `opsapp worker` (claim, body, completion with its notification, ack): {BACKLOG} runs "
        f"in {dr['opsapp_s']:.2f} s → **{rate:.0f} runs/s** (goal ≥ 500: **{verdict(rate >= 500)}**)",
        f"- bare `taskiq worker`, {BACKLOG} bare tasks: {dr['bare_s']:.2f} s → {bare_rate:.0f} "
        f"tasks/s (opsapp at {rate / bare_rate:.2f}× the bare rate)",
        "",
        "### 4. Database round trips per run lifecycle",
        "",
        "One start and its execution by the worker (run-tracking middleware, the same code in "
        "`opsapp worker`), after warm-up; counted with SQLAlchemy events (statements, and BEGIN / "
        "COMMIT / ROLLBACK unless the connection is in autocommit, where psycopg sends none); "
        "`start` = the start call, `worker` = the task's execution. On PostgreSQL the total is "
        "checked against the libpq protocol trace (one ReadyForQuery per round trip). Pooled "
        "connections are not pinged (opsapp.db checks them without a round trip).",
        "",
        *lifecycle_table({"SQLite": lite_trace, "PostgreSQL": pg["trace"]}),
        "",
        f"PostgreSQL: **{trips} round trips per lifecycle** (the libpq trace saw "
        f"{pg['trace']['wire']}); goal ≤ 12: **{verdict(trips <= 12)}**.",
    ]
    body = "\n".join(lines)
    if not QUICK:
        write_section("Start surface latency and round trips", body)
    print(body)


if __name__ == "__main__":
    main()
