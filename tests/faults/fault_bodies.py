"""Run types and bodies of the fault suite. Imported by the tests AND by the worker subprocesses
(OPSAPP_EXTRA_TASK_MODULES), so both sides know the same types.

`test.fault_slow` (inputs: `key`, an id; `ms`, the duration in milliseconds, also an id because
identity inputs have no plain integer kind) records every execution in `fault_executions` (one
row per body start: run id, worker pid, attempt token, start/finish times on this machine's
clock, and how the body ended), reports progress every PROGRESS_STEP seconds and sleeps `ms`.

Progress encodes the attempt: `processed = attempt * ATTEMPT_STRIDE + step`, so a test can tell
whose progress write landed (a zombie's write would show its older attempt number)."""

from __future__ import annotations

import asyncio
import os
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsapp.operations import catalog
from opsapp.operations.access import Capability
from opsapp.operations.catalog import OperationType
from opsapp.operations.identity import IdentityField, IdentitySchema
from opsapp.operations.results import RunResult
from opsapp.worker import registry
from opsapp.worker.registry import RunContext

SLOW = "test.fault_slow"
TABLE = "fault_executions"
ATTEMPT_STRIDE = 100_000
PROGRESS_STEP = 0.2
_KEYS = ("total", "processed", "created", "failed")

CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id SERIAL PRIMARY KEY,
    run_id INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    attempt INTEGER,
    started_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION,
    ended TEXT
)
"""

if SLOW not in catalog.OPERATION_TYPES:
    catalog.register_type(
        OperationType(
            SLOW,
            f"Test {SLOW}",
            IdentitySchema((IdentityField("key", "id"), IdentityField("ms", "id", default=1000))),
            _KEYS,
            Capability.start_operations,
            related="inventory",
        )
    )


def _with_retry(engine: Engine, fn):
    """The body's own bookkeeping must not be what fails a run when the database drops its
    connections (the PostgreSQL fault test): retry a few times on a fresh connection."""
    last: Exception | None = None
    for delay in (0.0, 0.2, 0.5, 1.0, 2.0):
        time.sleep(delay)
        try:
            with engine.begin() as conn:
                return fn(conn)
        except sa.exc.OperationalError as exc:
            last = exc
    assert last is not None
    raise last


def _record_start(engine: Engine, run_id: int, attempt: int | None) -> int:
    def write(conn):
        if attempt is None:
            token = conn.execute(
                sa.text("SELECT attempts FROM operation_runs WHERE id = :id"), {"id": run_id}
            ).scalar()
        else:
            token = attempt
        return conn.execute(
            sa.text(
                f"INSERT INTO {TABLE} (run_id, pid, attempt, started_at) "
                "VALUES (:r, :p, :a, :t) RETURNING id"
            ),
            {"r": run_id, "p": os.getpid(), "a": token, "t": time.time()},
        ).scalar_one()

    return _with_retry(engine, write)


def _record_end(engine: Engine, execution_id: int, ended: str, finished: bool) -> None:
    def write(conn):
        conn.execute(
            sa.text(f"UPDATE {TABLE} SET ended = :e, finished_at = :f WHERE id = :id"),
            {"e": ended, "f": time.time() if finished else None, "id": execution_id},
        )

    _with_retry(engine, write)


def _attempt_of(engine: Engine, execution_id: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(f"SELECT attempt FROM {TABLE} WHERE id = :id"), {"id": execution_id}
            ).scalar()
            or 0
        )


async def slow(ctx: RunContext) -> RunResult:
    """Sleeps `ms` milliseconds, reporting progress every PROGRESS_STEP seconds."""
    attempt = getattr(ctx, "attempt", None)
    execution_id = await asyncio.to_thread(_record_start, ctx.engine, ctx.run_id, attempt)
    if attempt is None:
        attempt = await asyncio.to_thread(_attempt_of, ctx.engine, execution_id)
    deadline = time.monotonic() + int(ctx.inputs.get("ms") or 1000) / 1000
    step = 0
    try:
        while time.monotonic() < deadline:
            step += 1
            processed = int(attempt) * ATTEMPT_STRIDE + step
            await ctx.report_progress({"total": 10 * ATTEMPT_STRIDE, "processed": processed})
            await asyncio.sleep(min(PROGRESS_STEP, max(deadline - time.monotonic(), 0)))
    except asyncio.CancelledError:
        await asyncio.shield(
            asyncio.to_thread(_record_end, ctx.engine, execution_id, "cancelled", False)
        )
        raise
    except BaseException as exc:
        ended = f"error:{type(exc).__name__}"
        await asyncio.to_thread(_record_end, ctx.engine, execution_id, ended, False)
        raise
    await asyncio.to_thread(_record_end, ctx.engine, execution_id, "finished", True)
    return RunResult(counts={"total": 1, "processed": 1, "created": 1})


if not registry.is_registered(SLOW):
    registry.register_body(SLOW, slow)
