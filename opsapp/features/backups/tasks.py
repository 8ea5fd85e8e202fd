"""Backup task bodies: thin — the services do the work (see their docstrings for the counts)."""

import asyncio

from opsapp.features.backups.checks import SCHEDULE_RUN_TYPES
from opsapp.features.backups.items import set_exists
from opsapp.features.backups.schedule_run import run_schedule
from opsapp.features.backups.service import add_policies, remove_policies
from opsapp.features.backups.writer import set_gone
from opsapp.features.common import run_sync_for_tenant
from opsapp.operations.results import RunResult
from opsapp.worker.registry import RunContext, operation_task


@operation_task("backup_set.add_policies")
async def backup_set_add_policies(ctx: RunContext) -> RunResult:
    set_id = ctx.inputs["backup_set_id"]
    if not await asyncio.to_thread(set_exists, ctx.engine, tenant_id=ctx.tenant_id, set_id=set_id):
        return set_gone({"total": len(ctx.inputs["policy_ids"])})  # no Graph client needed
    return await run_sync_for_tenant(ctx, add_policies, inputs=ctx.inputs, run_id=ctx.run_id)


@operation_task("backup_set.remove_policies")
async def backup_set_remove_policies(ctx: RunContext) -> RunResult:
    return await remove_policies(
        engine=ctx.engine,
        tenant_id=ctx.tenant_id,
        inputs=ctx.inputs,
        report_progress=ctx.report_progress,
    )


async def backup_schedule_run(ctx: RunContext) -> RunResult:
    return await run_sync_for_tenant(ctx, run_schedule, inputs=ctx.inputs, run_id=ctx.run_id)


for _run_type in SCHEDULE_RUN_TYPES:
    operation_task(_run_type)(backup_schedule_run)
