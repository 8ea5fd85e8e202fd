"""policy.sync task: thin — load the tenant, open its Graph client, call the service."""

from opsapp.features.common import load_tenant
from opsapp.features.graph_access import graph_for
from opsapp.features.policies.service import sync_policies
from opsapp.operations.results import RunResult
from opsapp.worker.registry import RunContext, operation_task


@operation_task("policy.sync")
async def policy_sync(ctx: RunContext) -> RunResult:
    async with graph_for(load_tenant(ctx)) as graph:
        return await sync_policies(
            engine=ctx.engine,
            graph=graph,
            tenant_id=ctx.tenant_id,
            inputs=ctx.inputs,
            run_id=ctx.run_id,
            report_progress=ctx.report_progress,
        )
