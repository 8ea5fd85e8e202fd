"""directory_groups.sync task: thin — load the tenant, open its Graph client, call the service."""

from opsapp.features.common import load_tenant
from opsapp.features.graph_access import graph_for
from opsapp.features.groups.service import sync_groups
from opsapp.operations.results import RunResult
from opsapp.worker.registry import RunContext, operation_task


@operation_task("directory_groups.sync")
async def directory_groups_sync(ctx: RunContext) -> RunResult:
    async with graph_for(load_tenant(ctx)) as graph:
        return await sync_groups(
            engine=ctx.engine,
            graph=graph,
            tenant_id=ctx.tenant_id,
            report_progress=ctx.report_progress,
        )
