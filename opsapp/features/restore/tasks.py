"""The restore.execute task body: thin — `execute.execute_restore` does the work."""

from opsapp.features.common import run_sync_for_tenant
from opsapp.features.restore.execute import execute_restore
from opsapp.operations.results import RunResult
from opsapp.worker.registry import RunContext, operation_task


@operation_task("restore.execute")
async def restore_execute(ctx: RunContext) -> RunResult:
    return await run_sync_for_tenant(ctx, execute_restore, inputs=ctx.inputs, run_id=ctx.run_id)
