"""The drift.generate task body: thin — `generate.generate_drift` does the work."""

import asyncio

from opsapp.features.drift.generate import generate_drift
from opsapp.operations.results import RunResult
from opsapp.worker.registry import RunContext, operation_task


@operation_task("drift.generate")
async def drift_generate(ctx: RunContext) -> RunResult:
    return await asyncio.to_thread(
        generate_drift, ctx.engine, tenant_id=ctx.tenant_id, inputs=ctx.inputs, run_id=ctx.run_id
    )
