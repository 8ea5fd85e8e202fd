"""Counts of the runs that work item by item — drift generation, backup set changes, backups
and restores: processed items are created, updated, removed, skipped, unchanged or failed, and
a partial run fails a few items (a failed one all of them)."""

from __future__ import annotations

import random
from typing import Any

from opsapp.operations.catalog import OPERATION_TYPES
from opsapp.operations.status import RunOutcome
from opsapp.policy_types import POLICY_TYPES_BY_KEY

from .failures import graph_failure, item_failures
from .model import PlannedRun, TenantState

Failures = list[dict[str, Any]]


def drift(
    rng: random.Random, run: PlannedRun, state: TenantState, counts: dict[str, int], code: str
) -> Failures:
    """Findings compared against the tenant's open ones: a few new, some resolved or changed."""
    total = state.demo.size
    counts.update(total=total, processed=total)
    new = rng.randint(0, max(3, total // 200))
    resolved = min(state.findings, rng.randint(0, max(2, state.findings // 3)))
    changed = min(state.findings - resolved, rng.randint(0, 3))
    counts.update(
        created=new,
        removed=resolved,
        updated=changed,
        unchanged=state.findings - resolved - changed,
    )
    state.findings += new - resolved
    return []


def add_policies(
    rng: random.Random, run: PlannedRun, state: TenantState, counts: dict[str, int], code: str
) -> Failures:
    """Policies captured into a backup set; some were already in it (skipped)."""
    ids = OPERATION_TYPES[run.type].identity.normalise(run.inputs)["policy_ids"]
    total = len(ids)
    failed = _failed_items(rng, run.outcome, total)
    skipped = 0 if failed == total else rng.randint(0, (total - failed) // 4)
    counts.update(total=total, processed=total, skipped=skipped, created=total - failed - skipped)
    counts["failed"] = failed
    return item_failures(rng, code, failed) if failed else []


def remove_policies(
    rng: random.Random, run: PlannedRun, state: TenantState, counts: dict[str, int], code: str
) -> Failures:
    """Items removed from a backup set (database only: nothing fails); some were already gone."""
    ids = OPERATION_TYPES[run.type].identity.normalise(run.inputs)["item_ids"]
    total = len(ids)
    skipped = rng.randint(0, total // 3)
    counts.update(total=total, processed=total, removed=total - skipped, skipped=skipped)
    return []


def backup(
    rng: random.Random, run: PlannedRun, state: TenantState, counts: dict[str, int], code: str
) -> Failures:
    """A backup of every policy: mostly unchanged since the last one."""
    if run.outcome == RunOutcome.failed:  # the policy listing was refused: nothing captured
        counts["failed"] = 1
        path = rng.choice(tuple(POLICY_TYPES_BY_KEY.values())).graph_path
        return [graph_failure(rng, code, path, item=None)]
    total = state.demo.size
    failed = _failed_items(rng, run.outcome, total)
    changed = rng.randint(0, max(2, total // 250))
    counts.update(
        total=total,
        processed=total,
        created=changed,
        unchanged=total - failed - changed,
        removed=rng.randint(0, 2),
        failed=failed,
    )
    return item_failures(rng, code, failed) if failed else []


def restore(
    rng: random.Random, run: PlannedRun, state: TenantState, counts: dict[str, int], code: str
) -> Failures:
    """A restore of a handful of policies; a partial one needs two, so one can succeed."""
    total = rng.randint(2 if run.outcome == RunOutcome.partially_succeeded else 1, 12)
    failed = _failed_items(rng, run.outcome, total)
    skipped = 0 if failed == total else rng.randint(0, (total - failed) // 3)
    updated = rng.randint(0, total - failed - skipped)
    counts.update(
        total=total,
        processed=total,
        updated=updated,
        created=total - failed - skipped - updated,
        skipped=skipped,
        failed=failed,
    )
    if not failed:
        return []
    # Writes are refused for lack of permission more often than any other way.
    return item_failures(rng, rng.choice(("graph.forbidden", code)), failed)


def _failed_items(rng: random.Random, outcome: RunOutcome, total: int) -> int:
    if outcome == RunOutcome.failed:
        return total
    if outcome == RunOutcome.partially_succeeded:
        return rng.randint(1, max(1, min(total - 1, 5))) if total > 1 else 0
    return 0
