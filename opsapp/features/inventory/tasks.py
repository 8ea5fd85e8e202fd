"""inventory.sync task: thin — load the tenant, open its Graph client, call the service."""

from opsapp.features.common import load_tenant
from opsapp.features.graph_access import graph_for
from opsapp.features.inventory.service import sync_inventory
from opsapp.operations.results import RunResult
from opsapp.worker.registry import RunContext, operation_task


@operation_task("inventory.sync")
async def inventory_sync(ctx: RunContext) -> RunResult:
    async with graph_for(load_tenant(ctx)) as graph:
        return await sync_inventory(
            engine=ctx.engine,
            graph=graph,
            tenant_id=ctx.tenant_id,
            inputs=ctx.inputs,
            report_progress=ctx.report_progress,
        )
