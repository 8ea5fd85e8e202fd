"""inventory.sync task: thin — the service does the work against the tenant's Graph."""

from opsapp.features.common import run_sync_for_tenant
from opsapp.features.inventory.service import sync_inventory
from opsapp.operations.results import RunResult
from opsapp.worker.registry import RunContext, operation_task


@operation_task("inventory.sync")
async def inventory_sync(ctx: RunContext) -> RunResult:
    return await run_sync_for_tenant(ctx, sync_inventory, inputs=ctx.inputs)
