"""`opsapp ops start`: the CLI as a start surface. With the in-process broker the task runs
before the command exits; with Redis the command enqueues and returns (or polls with --wait)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from opsapp.db import session_scope
from opsapp.models import OperationRun, Tenant, User
from opsapp.operations.serialize import run_to_dict
from opsapp.operations.service import start_operation
from opsapp.operations.status import RunStatus
from opsapp.settings import get_settings
from opsapp.worker.embedded import embedded_worker, get_dispatcher

POLL_SECONDS = 0.5


def _load(run_id: int) -> OperationRun:
    with session_scope() as session:
        return session.get(OperationRun, run_id)


async def _wait_completed(run_id: int, timeout: float) -> OperationRun:
    deadline = time.monotonic() + timeout
    run = _load(run_id)
    while run.status != RunStatus.completed and time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        run = _load(run_id)
    return run


async def start_from_cli(
    *, tenant: Tenant, user: User, run_type: str, inputs: dict[str, Any], wait: bool, timeout: float
) -> dict[str, Any]:
    """Start (or reuse) a run as `user`; return {"created": bool, "run": {...}}."""
    kwargs = dict(run_type=run_type, tenant_id=tenant.id, user_id=user.id, inputs=inputs)
    if get_settings().broker == "memory":
        async with embedded_worker(maintenance=False) as broker:
            result = await start_operation(**kwargs, dispatcher=get_dispatcher())
            if result.created:
                await broker.wait_all()  # the in-process task runs before the command exits
    else:
        result = await start_operation(**kwargs, dispatcher=get_dispatcher())
    run = _load(result.run.id)
    if wait and run.status != RunStatus.completed:
        run = await _wait_completed(run.id, timeout)
    return {"created": result.created, "run": run_to_dict(run, tenant_slug=tenant.slug)}
