"""Counts of the sync runs (inventory, policies, directory groups), which reconcile what Graph
lists against what earlier runs stored: the first pass creates everything, later ones mostly
find it unchanged. A listing Graph refuses is one failed item, as in the sync services."""

from __future__ import annotations

import random
from typing import Any

from opsapp.operations.status import RunOutcome
from opsapp.policy_types import POLICY_TYPES_BY_KEY

from .failures import graph_failure
from .model import PlannedRun, TenantState, sync_types


def policy_sync(
    rng: random.Random, run: PlannedRun, state: TenantState, counts: dict[str, int], code: str
) -> list[dict[str, Any]]:
    """Counts of an inventory or policy sync (into `counts`); returns its failures."""
    types = sync_types(run)
    broken = _broken_listings(rng, run.outcome, types, state)
    failures = []
    for policy_type in types:
        if policy_type in broken:
            counts["failed"] += 1
            path = POLICY_TYPES_BY_KEY[policy_type].graph_path
            failures.append(graph_failure(rng, code, path, item=policy_type))
            seen, partial = broken[policy_type], True
        else:
            seen, partial = state.per_type(policy_type), False
        if seen:
            _observe(rng, counts, state, (run.type, policy_type), seen, partial=partial)
    return failures


def _broken_listings(
    rng: random.Random, outcome: RunOutcome, types: list[str], state: TenantState
) -> dict[str, int]:
    """Policy type → objects observed before its listing failed."""
    if outcome == RunOutcome.failed:
        return dict.fromkeys(types, 0)
    if outcome == RunOutcome.partially_succeeded and len(types) > 1:
        k = rng.randint(1, 2) if len(types) > 3 else 1
        return dict.fromkeys(rng.sample(types, k=k), 0)
    if outcome == RunOutcome.partially_succeeded:  # its one listing failed part-way
        return {types[0]: rng.randint(1, state.per_type(types[0]) - 1)}
    return {}


def groups_sync(
    rng: random.Random, run: PlannedRun, state: TenantState, counts: dict[str, int], code: str
) -> list[dict[str, Any]]:
    """Counts of a directory groups sync (into `counts`); returns its failures."""
    if run.outcome == RunOutcome.failed:
        counts["failed"] = 1
        return [graph_failure(rng, code, "groups", item="groups")]
    failures = []
    seen = state.groups
    if run.outcome == RunOutcome.partially_succeeded:  # a later page gave up after retries
        seen = rng.randint(seen // 3, seen - 1)
        counts["failed"] = 1
        failures.append(graph_failure(rng, "graph.throttled", "groups", item="groups"))
    _observe(rng, counts, state, ("groups", ""), seen, partial=seen < state.groups)
    return failures


def _observe(
    rng: random.Random,
    counts: dict[str, int],
    state: TenantState,
    key: tuple[str, str],
    seen: int,
    *,
    partial: bool = False,
) -> None:
    """Counts of a reconcile pass over `seen` objects: the first pass creates them all."""
    counts["total"] += seen
    counts["processed"] += seen
    if key not in state.synced_types:
        state.synced_types.add(key)
        counts["created"] += seen
        return
    created = rng.randint(0, max(1, seen // 150))
    updated = rng.randint(0, max(1, seen // 40))
    created, updated = min(created, seen), min(updated, seen - min(created, seen))
    counts["created"] += created
    counts["updated"] += updated
    counts["unchanged"] += seen - created - updated
    if not partial:  # an unreadable listing must not look like deletions
        counts["removed"] += rng.randint(0, max(1, seen // 200))
