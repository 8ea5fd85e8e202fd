"""Run types and bodies for the real-worker tests. Imported by the tests AND by the `taskiq
worker` subprocesses (OPSAPP_EXTRA_TASK_MODULES), so both sides know the same types."""

from __future__ import annotations

import asyncio
import os
import time

from opsapp.operations import catalog
from opsapp.operations.access import Capability
from opsapp.operations.catalog import OperationType
from opsapp.operations.identity import IdentityField, IdentitySchema
from opsapp.operations.results import RunResult
from opsapp.worker.registry import RunContext, operation_task

ITEMS = "test.real_items"
SLOW = "test.real_slow"
HOLD_FILE_ENV = "OPSAPP_TEST_HOLD_FILE"
_KEYS = ("total", "processed", "created", "failed")

for _key, _fields in (
    (ITEMS, (IdentityField("key", "id"), IdentityField("partial", "bool", default=False))),
    (SLOW, (IdentityField("key", "id"),)),
):
    if _key not in catalog.OPERATION_TYPES:
        catalog.register_type(
            OperationType(
                _key,
                f"Test {_key}",
                IdentitySchema(_fields),
                _KEYS,
                Capability.start_operations,
                related="inventory",
            )
        )


@operation_task(ITEMS)
async def sync_items(ctx: RunContext) -> RunResult:
    """Three items; with partial=True the last one fails."""
    await ctx.report_progress({"total": 3, "processed": 0})
    result = RunResult(counts={"total": 3, "processed": 3, "created": 3})
    if ctx.inputs.get("partial"):
        result.counts["created"] = 2
        result.fail_item("graph.forbidden", "Access denied to item 3", item="item-3")
    return result


@operation_task(SLOW)
async def slow(ctx: RunContext) -> RunResult:
    """Works (reporting progress) while the hold file exists, at most 60 s."""
    hold = os.environ.get(HOLD_FILE_ENV, "")
    deadline, step = time.monotonic() + 60, 0
    while hold and os.path.exists(hold) and time.monotonic() < deadline:
        step += 1
        await ctx.report_progress({"total": 1000, "processed": min(step, 999)})
        await asyncio.sleep(0.05)
    return RunResult(counts={"total": 1, "processed": 1, "created": 1})
