"""When a seeded run started, last heartbeat and completed, as the lifecycle would have left it:
a dispatch failure never starts, a lost worker is reaped some time after its last heartbeat,
and work takes about as long as the demo Graph would for the tenant's size."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from opsapp.policy_types import SUPPORTED_POLICY_TYPE_KEYS

from .model import PlannedRun, TenantState, sync_types

_MAX_WORK_SECONDS = 420


@dataclass
class Timeline:
    started_at: datetime | None
    heartbeat_at: datetime | None
    completed_at: datetime
    attempts: int


def run_timeline(
    rng: random.Random, run: PlannedRun, state: TenantState, fatal: str | None, now: datetime
) -> Timeline:
    """The run's timeline; may move `run.created_at` back so it all ends a minute before `now`."""
    if fatal == "queue.dispatch_failed":  # queued → completed: never started, never attempted
        completed_at = run.created_at + timedelta(seconds=rng.uniform(2.0, 2.3))
        timeline = Timeline(None, None, completed_at, attempts=0)
    else:
        timeline = _worked(rng, run, state, lost=fatal == "worker.lost")
    _keep_in_the_past(run, timeline, now)
    return timeline


def _worked(rng: random.Random, run: PlannedRun, state: TenantState, *, lost: bool) -> Timeline:
    started_at = run.created_at + timedelta(seconds=rng.uniform(0.05, 2.5))
    work = _duration(rng, run, state)
    if lost:  # stopped heartbeating, reaped after lost_after (90 s)
        heartbeat_at = started_at + work * rng.uniform(0.2, 0.8)
        completed_at = heartbeat_at + timedelta(seconds=rng.uniform(95, 150))
    else:
        completed_at = started_at + work
        heartbeat_at = max(started_at, completed_at - timedelta(seconds=rng.uniform(0, 8)))
    return Timeline(started_at, heartbeat_at, completed_at, attempts=1)


def _keep_in_the_past(run: PlannedRun, timeline: Timeline, now: datetime) -> None:
    latest = now - timedelta(minutes=1)
    if timeline.completed_at <= latest:
        return
    shift = timeline.completed_at - latest
    run.created_at -= shift
    if timeline.started_at:
        timeline.started_at -= shift
    if timeline.heartbeat_at:
        timeline.heartbeat_at -= shift
    timeline.completed_at -= shift


def _duration(rng: random.Random, run: PlannedRun, state: TenantState) -> timedelta:
    size = state.demo.size
    if run.type in ("inventory.sync", "policy.sync"):
        per_item = 0.004 if run.type == "inventory.sync" else 0.006
        fraction = len(sync_types(run)) / len(SUPPORTED_POLICY_TYPE_KEYS)
        seconds = 3 + size * fraction * per_item * rng.uniform(0.7, 1.4)
    elif run.type == "directory_groups.sync":
        seconds = 2 + state.groups * 0.003 * rng.uniform(0.7, 1.3)
    elif run.type.startswith("backup_schedule."):
        seconds = 5 + size * 0.004 * rng.uniform(0.7, 1.4)
    elif run.type == "drift.generate":
        seconds = 2 + size * 0.001 * rng.uniform(0.7, 1.3)
    else:
        seconds = rng.uniform(1.5, 25)
    return timedelta(seconds=min(seconds, _MAX_WORK_SECONDS))
