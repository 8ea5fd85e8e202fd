"""The bodies of backup_set.add_policies and backup_set.remove_policies (the tasks stay thin).

add_policies counts — total: distinct policies asked for; processed: those handled so far;
created: items added to the set; skipped: policies already in the set (not captured again);
failed: policies not in the tenant, removed from Intune, or whose capture failed.
remove_policies counts — total / processed: item ids asked for; removed: items deleted;
skipped: ids that are not items of this set; failed: always 0.
"""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsapp.features.backups import codes
from opsapp.features.backups.capture import GROUP, IN_CHUNK, capture_policies
from opsapp.features.backups.items import SetGone, delete_items, item_policy_ids, set_exists
from opsapp.features.backups.writer import Pipeline, Progress, SetWriter, set_gone
from opsapp.graph import GraphClient
from opsapp.models import Policy
from opsapp.models.types import utcnow
from opsapp.operations.results import RunResult


def _load_policies(engine: Engine, tenant_id: int, ids: list[int]) -> dict[int, Any]:
    t = Policy.__table__
    found: dict[int, Any] = {}
    with engine.connect() as conn:
        for start in range(0, len(ids), IN_CHUNK):
            rows = conn.execute(
                sa.select(t.c.id, t.c.policy_type, t.c.graph_id, t.c.removed_at).where(
                    t.c.tenant_id == tenant_id, t.c.id.in_(ids[start : start + IN_CHUNK])
                )
            )
            found.update({row.id: row for row in rows})
    return found


def _sort_out(
    ids: list[int], policies: dict[int, Any], present: set[int], result: RunResult
) -> dict[str, list[str]]:
    """Graph ids to capture, by type. Unknown and removed policies fail at once; policies
    already in the set are skipped (not captured again)."""
    counts, by_type = result.counts, {}
    for policy_id in ids:
        row = policies.get(policy_id)
        if row is None:
            result.fail_item(
                codes.POLICY_NOT_FOUND,
                f"Policy {policy_id} is not a policy of this tenant.",
                item=f"policy/{policy_id}",
            )
        elif row.removed_at is not None:
            result.fail_item(
                codes.POLICY_REMOVED,
                "The policy was removed from Intune (per the last policy sync); "
                "there is nothing to capture.",
                item=f"{row.policy_type}/{row.graph_id}",
            )
        elif policy_id in present:
            counts["skipped"] += 1
            continue
        else:
            by_type.setdefault(row.policy_type, []).append(row.graph_id)
            continue
        counts["failed"] += 1
    counts["processed"] = counts["skipped"] + counts["failed"]
    return by_type


async def add_policies(
    *,
    engine: Engine,
    graph: GraphClient,
    tenant_id: int,
    inputs: dict[str, Any],
    run_id: int | None,
    report_progress: Progress,
) -> RunResult:
    set_id, ids = inputs["backup_set_id"], list(inputs["policy_ids"])
    counts = dict.fromkeys(("total", "processed", "created", "skipped", "failed"), 0)
    counts["total"] = len(ids)
    if not await asyncio.to_thread(set_exists, engine, tenant_id=tenant_id, set_id=set_id):
        return set_gone(counts)
    policies = await asyncio.to_thread(_load_policies, engine, tenant_id, ids)
    present = await asyncio.to_thread(item_policy_ids, engine, set_id=set_id)
    result = RunResult(counts=counts)
    by_type = _sort_out(ids, policies, present, result)
    writer = SetWriter(
        engine,
        tenant_id=tenant_id,
        set_id=set_id,
        run_id=run_id,
        include_assignments=inputs["include_assignments"],
        include_scope_tags=inputs["include_scope_tags"],
        counts=counts,
        failures=result.item_failures,
        report_progress=report_progress,
    )
    # One pipeline over every (type, group): Graph capture of the next group overlaps the
    # database writes of the previous one, across type boundaries too.
    pipeline = Pipeline(
        lambda job: capture_policies(graph, job[0], job[1]),
        writer.store,
    )
    try:
        for policy_type, graph_ids in by_type.items():
            for start in range(0, len(graph_ids), GROUP):
                await pipeline.feed((policy_type, graph_ids[start : start + GROUP]))
        await pipeline.drain()
    except SetGone:
        return set_gone(counts)
    finally:
        pipeline.cancel()
    return result


async def remove_policies(
    *, engine: Engine, tenant_id: int, inputs: dict[str, Any], report_progress: Progress
) -> RunResult:
    set_id, ids = inputs["backup_set_id"], list(inputs["item_ids"])
    counts = dict.fromkeys(("total", "processed", "removed", "skipped", "failed"), 0)
    counts["total"] = len(ids)
    try:
        removed = await asyncio.to_thread(
            delete_items, engine, tenant_id=tenant_id, set_id=set_id, item_ids=ids, now=utcnow()
        )
    except SetGone:
        return set_gone(counts)
    counts.update(processed=len(ids), removed=removed, skipped=len(ids) - removed)
    await report_progress(dict(counts), final=True)
    return RunResult(counts=counts)
