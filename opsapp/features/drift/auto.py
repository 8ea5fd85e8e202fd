"""Auto-on-open: the Drift page starts `drift.generate` when a baseline's findings are stale.

Ten admins opening the page at once must make ONE run. The identity dedup covers starts while a
run is queued or running; what it cannot cover is a run that already completed between one
browser's freshness check and its start (that browser would start a second, needless run). So the
check and the start happen under a short database lease per baseline: whoever holds it checks and
starts; the others wait for it, check again, and find the run (active, or completed and fresh).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from opsapp import locks
from opsapp.db import get_engine, session_scope
from opsapp.features.drift.freshness import GENERATE, Freshness, freshness
from opsapp.features.drift.queries import get_baseline
from opsapp.operations.access import NotFound
from opsapp.operations.service import Dispatcher, StartResult, start_operation

LEASE_TTL_S = 30.0  # a holder that died frees the baseline after this
WAIT_S = 10.0  # how long a second browser waits for the first one's start


@dataclass(frozen=True)
class AutoStart:
    freshness: Freshness  # as checked under the lease
    started: StartResult | None  # the run this call started (or reused), None when fresh


def _check(engine: Engine, tenant_id: int, baseline_id: int) -> Freshness:
    with session_scope(engine) as session:
        baseline = get_baseline(session, tenant_id=tenant_id, baseline_id=baseline_id)
        if baseline is None:
            raise NotFound("Baseline backup set not found")
        return freshness(session, tenant_id=tenant_id, baseline=baseline)


async def start_if_stale(
    *,
    tenant_id: int,
    user_id: int,
    baseline_id: int,
    dispatcher: Dispatcher,
    engine: Engine | None = None,
) -> AutoStart:
    """Start the baseline's generation if its findings are stale (raises what start_operation
    raises). When another caller holds the lease for longer than WAIT_S, nothing is started and
    the freshness seen without the lease is returned."""
    engine = engine or get_engine()
    name, holder = f"drift.auto:{tenant_id}:{baseline_id}", locks.new_holder()
    deadline = time.monotonic() + WAIT_S
    while not await asyncio.to_thread(locks.acquire, engine, name, holder, LEASE_TTL_S):
        if time.monotonic() > deadline:
            return AutoStart(await asyncio.to_thread(_check, engine, tenant_id, baseline_id), None)
        await asyncio.sleep(0.05)
    try:
        state = await asyncio.to_thread(_check, engine, tenant_id, baseline_id)
        if not state.stale or state.inputs is None:
            return AutoStart(state, None)
        started = await start_operation(
            run_type=GENERATE,
            tenant_id=tenant_id,
            user_id=user_id,
            inputs=state.inputs,
            dispatcher=dispatcher,
            engine=engine,
        )
        return AutoStart(state, started)
    finally:
        await asyncio.to_thread(locks.release, engine, name, holder)
