"""Capture the current state of policies from Graph and store it as PolicyVersions.

Always the complete state (payload, assignments, scope tags; settings for settings-catalog
policies), built as the same `Snapshot` policy.sync builds, so identical content reuses the
existing version. Graph work goes through `$batch`: per 20 policies one round trip for the
payloads (skipped when a listing already gave them), one for the assignments and, for the
settings catalog, one for the settings — the three concurrently, and several groups of 20 at
once. A policy whose answers fail is reported as a sanitized item failure; the others go on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsapp.features.common import graph_failure
from opsapp.features.policies.snapshots import Snapshot, store_snapshots
from opsapp.features.reconcile import Tally, load_known
from opsapp.graph import MAX_BATCH_REQUESTS, GraphClient, GraphError
from opsapp.models import Policy, PolicyVersion
from opsapp.policy_types import POLICY_TYPES_BY_KEY

SETTINGS_CATALOG = "settingsCatalogPolicy"
GROUP = 100  # policies captured (and then stored) together: 5 × 20 concurrently
IN_CHUNK = 500  # ids per IN (...) list


@dataclass
class Capture:
    """What one group yields: complete snapshots, and sanitized failures of the rest."""

    policy_type: str
    snapshots: list[Snapshot]
    failures: list[dict[str, Any]]


@dataclass(frozen=True)
class Stored:
    """A captured policy as stored: its row, its version, and whether that version existed."""

    policy_id: int
    version_id: int
    reused: bool
    snapshot: Snapshot


def _item(policy_type: str, graph_id: str) -> str:
    return f"{policy_type}/{graph_id}"


async def _answers(call) -> dict[str, Any] | GraphError:
    """A per-policy answer map, or the GraphError that failed the whole `$batch` call."""
    try:
        return await call
    except GraphError as exc:
        return exc


async def _nothing() -> dict[str, Any]:
    return {}


async def _capture_twenty(
    graph: GraphClient, policy_type: str, ids: list[str], listed: dict[str, dict] | None
) -> Capture:
    ptype = POLICY_TYPES_BY_KEY[policy_type]
    payloads, assignments, settings = await asyncio.gather(
        _answers(graph.get_policies_many(policy_type, ids)) if listed is None else _nothing(),
        _answers(graph.list_assignments_many(policy_type, ids))
        if ptype.has_assignments
        else _nothing(),
        _answers(graph.list_policy_settings_many(ids))
        if policy_type == SETTINGS_CATALOG
        else _nothing(),
    )
    snapshots, failures = [], []
    for graph_id in ids:
        answers = [
            listed[graph_id] if listed is not None else _pick(payloads, graph_id),
            _pick(assignments, graph_id) if ptype.has_assignments else [],
            _pick(settings, graph_id) if policy_type == SETTINGS_CATALOG else None,
        ]
        error = next((a for a in answers if isinstance(a, GraphError)), None)
        if error is not None:
            failures.append(graph_failure(error, item=_item(policy_type, graph_id)))
            continue
        payload, assigned, settings_list = answers
        snapshots.append(
            Snapshot(
                policy_type,
                graph_id,
                payload,
                assignments=sorted(assigned, key=lambda a: str(a.get("id", ""))),
                settings=settings_list,
            )
        )
    return Capture(policy_type, snapshots, failures)


def _pick(answers: dict[str, Any] | GraphError, graph_id: str) -> Any:
    if isinstance(answers, GraphError):
        return answers
    return answers.get(graph_id, [])


async def capture_policies(
    graph: GraphClient,
    policy_type: str,
    graph_ids: Sequence[str] = (),
    *,
    listed: Sequence[dict] | None = None,
) -> Capture:
    """Capture policies of one type, given by id (payloads are fetched) or as `listed` objects
    (payloads as the listing returned them). 20 per `$batch`, all groups of 20 concurrently:
    callers pass at most a few hundred at a time (see GROUP)."""
    if listed is not None:
        by_id = {str(item["id"]): item for item in listed}
        ids = list(by_id)
    else:
        by_id, ids = None, list(dict.fromkeys(str(g) for g in graph_ids))
    chunks = [ids[i : i + MAX_BATCH_REQUESTS] for i in range(0, len(ids), MAX_BATCH_REQUESTS)]
    parts = await asyncio.gather(
        *(_capture_twenty(graph, policy_type, chunk, by_id) for chunk in chunks)
    )
    return Capture(
        policy_type,
        [s for p in parts for s in p.snapshots],
        [f for p in parts for f in p.failures],
    )


def _existing_versions(engine: Engine, pairs: list[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """(policy id, content hash) → version id, for the pairs that exist."""
    found: dict[tuple[int, str], int] = {}
    v = PolicyVersion.__table__
    with engine.connect() as conn:
        for start in range(0, len(pairs), IN_CHUNK):
            part = pairs[start : start + IN_CHUNK]
            rows = conn.execute(
                sa.select(v.c.id, v.c.policy_id, v.c.content_hash).where(
                    v.c.policy_id.in_({p for p, _ in part}),
                    v.c.content_hash.in_({h for _, h in part}),
                )
            )
            wanted = set(part)
            found.update({(p, h): i for i, p, h in rows if (p, h) in wanted})
    return found


def store_versions(
    engine: Engine,
    *,
    tenant_id: int,
    policy_type: str,
    snapshots: list[Snapshot],
    run_id: int | None,
    now: datetime,
) -> list[Stored]:
    """Store snapshots the way policy.sync does (policy rows upserted, identical content reuses
    its version) and return each one's policy and version ids."""
    if not snapshots:
        return []
    t = Policy.__table__
    graph_ids = [s.graph_id for s in snapshots]
    digests = [s.digest for s in snapshots]  # computed once: canonical JSON of the whole state
    known = {}
    for start in range(0, len(graph_ids), IN_CHUNK):
        known.update(
            load_known(
                engine,
                Policy,
                where=[
                    t.c.tenant_id == tenant_id,
                    t.c.policy_type == policy_type,
                    t.c.graph_id.in_(graph_ids[start : start + IN_CHUNK]),
                ],
            )
        )
    before = _existing_versions(
        engine,
        [
            (known[s.graph_id].id, d)
            for s, d in zip(snapshots, digests, strict=True)
            if s.graph_id in known
        ],
    )
    store_snapshots(
        engine,
        tenant_id=tenant_id,
        snapshots=snapshots,
        known=known,
        tally=Tally(),
        now=now,
        run_id=run_id,
    )
    pairs = [(known[s.graph_id].id, d) for s, d in zip(snapshots, digests, strict=True)]
    after = _existing_versions(engine, pairs)
    return [
        Stored(pair[0], after[pair], pair in before, snap)
        for pair, snap in zip(pairs, snapshots, strict=True)
    ]
