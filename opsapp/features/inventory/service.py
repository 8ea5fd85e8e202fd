"""Inventory: the last observed catalog of a tenant's Intune objects, per policy type."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from opsapp.features.common import display_name, graph_failure, parse_graph_datetime
from opsapp.features.reconcile import Reconciler, Tally, content_hash
from opsapp.graph import GraphClient, GraphError
from opsapp.models import InventoryItem
from opsapp.models.types import utcnow
from opsapp.operations.results import RunResult
from opsapp.policy_types import FOUNDATION_TYPE_KEYS


def types_to_sync(inputs: dict[str, Any]) -> list[str]:
    """The policy types of a run's inputs, without foundations unless they are included."""
    types = list(inputs["policy_types"])
    if not inputs.get("include_foundations", True):
        types = [t for t in types if t not in FOUNDATION_TYPE_KEYS]
    return types


async def sync_inventory(
    *, engine: Engine, graph: GraphClient, tenant_id: int, inputs: dict[str, Any], report_progress
) -> RunResult:
    """Observe every object of the chosen types. A type Graph refuses is one failed item and
    keeps its rows as they were (an unreadable listing must not look like deletions)."""
    tally, failures = Tally(), []
    for policy_type in types_to_sync(inputs):
        scope = {"tenant_id": tenant_id, "policy_type": policy_type}
        t = InventoryItem.__table__
        rec = Reconciler(
            engine,
            InventoryItem,
            scope=scope,
            where=[t.c.tenant_id == tenant_id, t.c.policy_type == policy_type],
            now=utcnow(),
            tally=tally,
        )
        try:
            async for item in graph.list_policies(policy_type):
                values = {
                    "display_name": display_name(item),
                    "last_modified": parse_graph_datetime(item.get("lastModifiedDateTime")),
                }
                await rec.observe(str(item["id"]), values, content_hash(item))
                if tally.counts["processed"] % 200 == 0:
                    await report_progress(tally.counts)
        except GraphError as exc:
            await rec.flush()  # keep what was observed; removals are skipped for this type
            failures.append(graph_failure(exc, item=policy_type))
            tally.add("failed")
            continue
        await rec.finish()
        await report_progress(tally.counts)
    return RunResult(counts=tally.counts, item_failures=failures)
