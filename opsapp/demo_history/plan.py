"""Which runs a tenant had over the window, when, started by whom, with which inputs and
outcomes: the nightly scheduled backup, user-started runs in office hours, and a couple of
retries following unsuccessful backups. Rows are built from the plan later (rows.py)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from opsapp.operations.status import RunOutcome

from .initiators import Member, assign_initiator
from .inputs import TenantIds, user_inputs
from .model import PlannedRun
from .outcome_mix import pick_outcomes

# Runs users start over 30 days (scaled by `days`): (min, max) per type.
_USER_RUNS: dict[str, tuple[int, int]] = {
    "inventory.sync": (8, 14),
    "policy.sync": (6, 10),
    "directory_groups.sync": (3, 6),
    "drift.generate": (2, 5),
    "backup_set.add_policies": (2, 4),
    "backup_set.remove_policies": (1, 2),
    "backup_schedule.run_now": (1, 3),
    "restore.execute": (1, 2),
}
_BACKUP_TYPES = ("backup_schedule.scheduled", "backup_schedule.run_now")
_MAX_RETRIES = 2


def plan_tenant(
    rng: random.Random, ids: TenantIds, members: list[Member], now: datetime, days: int
) -> list[PlannedRun]:
    """The tenant's runs over the `days` before `now`, oldest first, without rows yet."""
    runs = _scheduled_backups(rng, ids, now, days) + _user_started(rng, ids, now, days)
    pick_outcomes(rng, runs)
    runs.sort(key=lambda r: r.created_at)
    for run in runs:
        assign_initiator(rng, run, members)
    runs += _retries(rng, runs, ids, members, now)
    runs.sort(key=lambda r: r.created_at)
    return runs


def _scheduled_backups(
    rng: random.Random, ids: TenantIds, now: datetime, days: int
) -> list[PlannedRun]:
    """The nightly backup schedule, started by the scheduler ("System"), newest first; only
    nights whose run has had half an hour to finish."""
    window_start = now - timedelta(days=days)
    schedule_time = timedelta(hours=2)  # the demo schedule's 02:00 UTC (demo_history.backups)
    runs = []
    for day in range(days):
        slot = (now - timedelta(days=day)).replace(hour=0, minute=0, second=0, microsecond=0)
        scheduled_for = slot + schedule_time
        if window_start <= scheduled_for and scheduled_for + timedelta(minutes=30) <= now:
            runs.append(
                PlannedRun(
                    "backup_schedule.scheduled",
                    scheduled_for + timedelta(seconds=rng.uniform(0.2, 3.0)),
                    {"schedule_id": ids.schedule, "scheduled_for": scheduled_for.isoformat()},
                )
            )
    return runs


def _user_started(rng: random.Random, ids: TenantIds, now: datetime, days: int) -> list[PlannedRun]:
    """Runs users started, so many per type (scaled to the window); each restore its own id."""
    scale = days / 30
    restore_run_id = ids.base
    runs = []
    for run_type, (low, high) in _USER_RUNS.items():
        for _ in range(max(1, round(rng.randint(low, high) * scale))):
            if run_type == "restore.execute":
                restore_run_id += 1
            inputs = user_inputs(rng, run_type, ids, restore_run_id)
            runs.append(PlannedRun(run_type, _working_hours(rng, now, days), inputs))
    return runs


def _working_hours(rng: random.Random, now: datetime, days: int) -> datetime:
    """A weekday-ish office-hours start time inside the window, at least 15 minutes ago."""
    day = rng.randrange(days)
    if rng.random() < 0.6 and day + 1 < days:  # fewer starts at weekends
        while (now - timedelta(days=day)).weekday() >= 5 and day + 1 < days:
            day += 1
    at = (now - timedelta(days=day)).replace(
        hour=rng.randint(7, 18), minute=rng.randrange(60), second=rng.randrange(60), microsecond=0
    )
    at += timedelta(microseconds=rng.randrange(1_000_000))
    latest = now - timedelta(minutes=15)
    if at > latest:
        at = latest - timedelta(minutes=rng.uniform(5, 240))
    return max(at, now - timedelta(days=days) + timedelta(minutes=1))


def _retries(
    rng: random.Random,
    runs: list[PlannedRun],
    ids: TenantIds,
    members: list[Member],
    now: datetime,
) -> list[PlannedRun]:
    """Retries follow a failed (or partially failed) backup some minutes after it ended; only
    backups old enough that the retry, too, lies in the past."""
    retried = [r for r in runs if r.type in _BACKUP_TYPES and r.outcome != RunOutcome.succeeded]
    retried = [r for r in retried if r.created_at + timedelta(hours=2) < now]
    retries = []
    for original in rng.sample(retried, k=min(len(retried), _MAX_RETRIES)):
        retry = PlannedRun(
            "backup_schedule.retry",
            original.created_at + timedelta(minutes=rng.uniform(20, 90)),
            {"schedule_id": ids.schedule},
            outcome=RunOutcome.succeeded,
            retry_of=original,
        )
        assign_initiator(rng, retry, members)
        retries.append(retry)
    return retries
