"""Directory groups: Entra groups as last observed."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from opsapp.features.common import display_name, graph_failure
from opsapp.features.reconcile import Reconciler, Tally, content_hash
from opsapp.graph import GraphClient, GraphError
from opsapp.models import DirectoryGroup
from opsapp.models.types import utcnow
from opsapp.operations.results import RunResult


def group_type(group: dict) -> str:
    if "Unified" in (group.get("groupTypes") or []):
        return "microsoft365"
    return "security" if group.get("securityEnabled") else "distribution"


async def sync_groups(
    *, engine: Engine, graph: GraphClient, tenant_id: int, report_progress
) -> RunResult:
    """Observe every group. A listing that fails part-way keeps what it observed and removes
    nothing: partially succeeded when some groups were stored, failed when none were."""
    tally = Tally()
    t = DirectoryGroup.__table__
    rec = Reconciler(
        engine,
        DirectoryGroup,
        scope={"tenant_id": tenant_id},
        where=[t.c.tenant_id == tenant_id],
        now=utcnow(),
        tally=tally,
    )
    try:
        async for group in graph.iter_groups(include_member_count=True):
            count = group.get("memberCount")
            values = {
                "display_name": display_name(group),
                "group_type": group_type(group),
                "member_count": count if isinstance(count, int) else None,
            }
            await rec.observe(str(group["id"]), values, content_hash(group))
            if tally.counts["processed"] % 200 == 0:
                await report_progress(tally.counts)
    except GraphError as exc:
        await rec.flush()
        tally.add("failed")
        return RunResult(counts=tally.counts, fatal=graph_failure(exc, item="groups"))
    await rec.finish()
    return RunResult(counts=tally.counts)
