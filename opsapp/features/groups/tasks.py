"""directory_groups.sync task: thin — the service does the work against the tenant's Graph."""

from opsapp.features.common import run_sync_for_tenant
from opsapp.features.groups.service import sync_groups
from opsapp.operations.results import RunResult
from opsapp.worker.registry import RunContext, operation_task


@operation_task("directory_groups.sync")
async def directory_groups_sync(ctx: RunContext) -> RunResult:
    return await run_sync_for_tenant(ctx, sync_groups)
