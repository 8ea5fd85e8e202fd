"""Summary counts and failures consistent with a run's planned outcome, so every seeded run
passes the primitive's own decide_outcome. Failed runs first pick how they failed; the counts
of runs that did their work come from one helper per run kind (sync_counts, item_counts)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from opsapp.operations.catalog import OPERATION_TYPES
from opsapp.operations.status import RunOutcome

from . import item_counts, sync_counts
from .failures import GRAPH_CODES, dispatch_failure, lost_failure
from .model import DB_ONLY_TYPES, PlannedRun, TenantState

Counts = dict[str, int]
Failures = list[dict[str, Any]]
# Fills in `counts` for a run that did its work; returns its failures.
_Counter = Callable[[random.Random, PlannedRun, TenantState, Counts, str], Failures]

_COUNTERS: dict[str, _Counter] = {
    "inventory.sync": sync_counts.policy_sync,
    "policy.sync": sync_counts.policy_sync,
    "directory_groups.sync": sync_counts.groups_sync,
    "drift.generate": item_counts.drift,
    "backup_set.add_policies": item_counts.add_policies,
    "backup_set.remove_policies": item_counts.remove_policies,
    "restore.execute": item_counts.restore,
}


def counts_and_failures(
    rng: random.Random, run: PlannedRun, state: TenantState
) -> tuple[Counts, Failures, str | None]:
    """(summary counts, failures, fatal kind) consistent with the run's planned outcome."""
    fatal = fatal_kind(rng, run) if run.outcome == RunOutcome.failed else None
    if fatal == "queue.dispatch_failed":  # never started: no counts, as ensure_run left them
        return {}, [dispatch_failure(rng)], fatal
    counts = dict.fromkeys(OPERATION_TYPES[run.type].summary_keys, 0)
    if fatal == "worker.lost":
        counts["failed"] = 1
        return counts, [lost_failure()], fatal
    # Drawn for every kind, the database-only ones too: the draw order is what makes the
    # history the same for the same tenant and `now`.
    code = rng.choice(GRAPH_CODES)
    return counts, _counter_for(run.type)(rng, run, state, counts, code), fatal


def fatal_kind(rng: random.Random, run: PlannedRun) -> str:
    """How a failed run failed: dispatch refused, worker lost, or Graph refused everything."""
    if run.type in DB_ONLY_TYPES:
        return rng.choice(("worker.lost", "worker.lost", "queue.dispatch_failed"))
    roll = rng.random()
    if roll < 0.12:
        return "queue.dispatch_failed"
    if roll < 0.3:
        return "worker.lost"
    return "graph"


def _counter_for(run_type: str) -> _Counter:
    if run_type.startswith("backup_schedule."):  # scheduled, run now and retry back up alike
        return item_counts.backup
    if run_type not in _COUNTERS:  # pragma: no cover
        raise AssertionError(f"no demo counts for {run_type}")
    return _COUNTERS[run_type]
