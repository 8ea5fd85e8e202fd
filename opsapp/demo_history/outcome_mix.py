"""Which outcome each planned run gets: mostly successes, some partial and failed runs, and the
few cases the demo must always show (a partial, a failure, an unsuccessful backup to retry)."""

from __future__ import annotations

import random

from opsapp.operations.status import RunOutcome

from .model import DB_ONLY_TYPES, PlannedRun

_OUTCOME_WEIGHTS = (
    (RunOutcome.succeeded, 82),
    (RunOutcome.partially_succeeded, 11),
    (RunOutcome.failed, 7),
)
# Graph-backed types that can be partial as well as failed: they stand in for a missing one.
_STAND_IN_TYPES = ("inventory.sync", "policy.sync", "backup_schedule.scheduled")


def pick_outcomes(rng: random.Random, runs: list[PlannedRun]) -> None:
    """Set every run's outcome. `runs` must still be in planning order (scheduled backups newest
    first): which backup is made unsuccessful depends on it."""
    for run in runs:
        run.outcome = _pick_outcome(rng)
        if run.type in DB_ONLY_TYPES and run.outcome == RunOutcome.partially_succeeded:
            run.outcome = RunOutcome.succeeded  # no Graph items to fail one by one
    _ensure_outcomes(rng, runs)


def _pick_outcome(rng: random.Random) -> RunOutcome:
    outcomes, weights = zip(*_OUTCOME_WEIGHTS, strict=True)
    return rng.choices(outcomes, weights=weights)[0]


def _ensure_outcomes(rng: random.Random, runs: list[PlannedRun]) -> None:
    """At least one partial and one failed run per tenant, and one unsuccessful backup that is
    not the newest (a retry needs one to follow)."""
    backups = [r for r in runs if r.type == "backup_schedule.scheduled"]  # newest first
    if backups and all(r.outcome == RunOutcome.succeeded for r in backups[1:]):
        rng.choice(backups[len(backups) // 3 :]).outcome = RunOutcome.partially_succeeded
    for outcome in (RunOutcome.partially_succeeded, RunOutcome.failed):
        if not any(r.outcome == outcome for r in runs):
            candidates = [
                r for r in runs if r.outcome == RunOutcome.succeeded and r.type in _STAND_IN_TYPES
            ]
            if candidates:
                rng.choice(candidates).outcome = outcome
