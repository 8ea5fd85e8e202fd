"""The inputs a user would have started each run type with, pointing at the tenant's demo
schedule and backup sets (demo_history.backups) and at plausible restore run ids."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from opsapp.policy_types import SUPPORTED_POLICY_TYPE_KEYS

from .model import FOUNDATIONS


@dataclass(frozen=True)
class TenantIds:
    """The ids a tenant's demo runs name: its demo schedule and backup sets (the first set is
    the drift baseline); `base` numbers the restore runs (tenant 3 → 31, 32, …)."""

    base: int
    schedule: int
    backup_sets: tuple[int, ...]
    baseline: int


def user_inputs(
    rng: random.Random, run_type: str, ids: TenantIds, restore_run_id: int
) -> dict[str, Any]:
    """Inputs for one user-started run of `run_type`."""
    if run_type in ("inventory.sync", "policy.sync"):
        return _sync_inputs(rng, run_type)
    if run_type == "directory_groups.sync":
        return {}
    if run_type == "drift.generate":
        return {"baseline_id": ids.baseline}
    if run_type == "backup_set.add_policies":
        policy_ids = rng.sample(range(1, 400), k=rng.randint(2, 25))
        return {
            "backup_set_id": rng.choice(ids.backup_sets),
            "policy_ids": policy_ids,
            "include_assignments": rng.random() < 0.85,
        }
    if run_type == "backup_set.remove_policies":
        return {
            "backup_set_id": rng.choice(ids.backup_sets),
            "item_ids": rng.sample(range(1, 300), k=rng.randint(1, 6)),
        }
    if run_type == "backup_schedule.run_now":
        return {"schedule_id": ids.schedule}
    if run_type == "restore.execute":
        return {"restore_run_id": restore_run_id}
    raise AssertionError(f"no demo inputs for {run_type}")  # pragma: no cover


def _sync_inputs(rng: random.Random, run_type: str) -> dict[str, Any]:
    """Mostly all types; sometimes a few chosen ones; now and then an inventory sync without the
    foundations (never left with no type at all)."""
    inputs: dict[str, Any] = {}
    if rng.random() < 0.3:
        inputs["policy_types"] = rng.sample(SUPPORTED_POLICY_TYPE_KEYS, k=rng.randint(1, 3))
    if run_type == "inventory.sync" and rng.random() < 0.15:
        inputs["include_foundations"] = False
        inputs.setdefault("policy_types", list(SUPPORTED_POLICY_TYPE_KEYS))
        inputs["policy_types"] = [t for t in inputs["policy_types"] if t not in FOUNDATIONS]
        if not inputs["policy_types"]:
            inputs["policy_types"] = ["deviceConfiguration"]
    return inputs
