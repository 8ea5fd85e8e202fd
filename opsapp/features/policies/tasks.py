"""policy.sync task: thin — the service does the work against the tenant's Graph."""

from opsapp.features.common import run_sync_for_tenant
from opsapp.features.policies.service import sync_policies
from opsapp.operations.results import RunResult
from opsapp.worker.registry import RunContext, operation_task


@operation_task("policy.sync")
async def policy_sync(ctx: RunContext) -> RunResult:
    return await run_sync_for_tenant(ctx, sync_policies, inputs=ctx.inputs, run_id=ctx.run_id)
