"""Policy sync: capture every supported policy with its assignments (and settings-catalog
settings) as an immutable version; unchanged content captures nothing new."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.engine import Engine

from opsapp.features.common import graph_failure
from opsapp.features.policies.snapshots import Snapshot, store_snapshots
from opsapp.features.reconcile import Tally, load_known, mark_removed, unseen_ids
from opsapp.graph import MAX_BATCH_REQUESTS, GraphClient, GraphError
from opsapp.models import Policy
from opsapp.models.types import utcnow
from opsapp.operations.results import RunResult
from opsapp.policy_types import POLICY_TYPES_BY_KEY

SETTINGS_CATALOG = "settingsCatalogPolicy"


async def _complete(
    graph: GraphClient, policy_type: str, items: list[dict], failures: list[dict], tally: Tally
) -> list[Snapshot]:
    """Fetch assignments (one $batch for the chunk) and settings; failed items are reported."""
    snaps = [Snapshot(policy_type, str(item["id"]), item) for item in items]
    if POLICY_TYPES_BY_KEY[policy_type].has_assignments:
        answers = await graph.list_assignments_many(policy_type, [s.graph_id for s in snaps])
        for snap in snaps:
            answer = answers.get(snap.graph_id, [])
            if isinstance(answer, GraphError):
                failures.append(graph_failure(answer, item=f"{policy_type}/{snap.graph_id}"))
                snap.assignments = None  # type: ignore[assignment]
            else:
                snap.assignments = sorted(answer, key=lambda a: str(a.get("id", "")))
    if policy_type == SETTINGS_CATALOG:
        for snap in snaps:
            if snap.assignments is None:
                continue
            try:
                snap.settings = [s async for s in graph.iter_policy_settings(snap.graph_id)]
            except GraphError as exc:
                failures.append(graph_failure(exc, item=f"{policy_type}/{snap.graph_id}"))
                snap.assignments = None  # type: ignore[assignment]
    ok = [s for s in snaps if s.assignments is not None]
    tally.add("failed", len(snaps) - len(ok))
    return ok


async def sync_policies(
    *,
    engine: Engine,
    graph: GraphClient,
    tenant_id: int,
    inputs: dict[str, Any],
    run_id: int | None,
    report_progress,
) -> RunResult:
    tally, failures = Tally(), []
    for policy_type in inputs["policy_types"]:
        t = Policy.__table__
        known = load_known(
            engine, Policy, where=[t.c.tenant_id == tenant_id, t.c.policy_type == policy_type]
        )
        seen: set[str] = set()
        listing_failed = False
        batch: list[dict] = []
        try:
            async for item in graph.list_policies(policy_type):
                if str(item["id"]) in seen:
                    continue
                seen.add(str(item["id"]))
                batch.append(item)
                if len(batch) >= MAX_BATCH_REQUESTS:
                    await _store(
                        engine, graph, policy_type, batch, failures, tally, known, tenant_id, run_id
                    )
                    batch = []
                    await report_progress(tally.counts)
        except GraphError as exc:
            failures.append(graph_failure(exc, item=policy_type))
            tally.add("failed")
            listing_failed = True
        if batch:
            await _store(
                engine, graph, policy_type, batch, failures, tally, known, tenant_id, run_id
            )
        if not listing_failed:  # an unreadable listing must not look like deletions
            gone = unseen_ids(known, seen)
            if gone:
                await asyncio.to_thread(mark_removed, engine, Policy, gone, utcnow())
            tally.add("removed", len(gone))
        await report_progress(tally.counts)
    return RunResult(counts=tally.counts, item_failures=failures)


async def _store(
    engine, graph, policy_type, items, failures, tally, known, tenant_id, run_id
) -> None:
    tally.add("total", len(items))
    snaps = await _complete(graph, policy_type, items, failures, tally)
    await asyncio.to_thread(
        store_snapshots,
        engine,
        tenant_id=tenant_id,
        snapshots=snaps,
        known=known,
        tally=tally,
        now=utcnow(),
        run_id=run_id,
    )
    tally.add("processed", len(items))
