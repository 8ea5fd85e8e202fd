"""The shapes the seeding steps hand each other: a planned run (and later its row), and what the
runs seeded so far left behind in one tenant, so later runs agree with earlier ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsapp.graph.demo.tenants import DemoTenant
from opsapp.operations.catalog import OPERATION_TYPES
from opsapp.operations.service import SYSTEM_INITIATOR
from opsapp.operations.status import RunOutcome
from opsapp.policy_types import SUPPORTED_POLICY_TYPE_KEYS

# Policy types an inventory sync can leave out with include_foundations=False.
FOUNDATIONS = ("assignmentFilter", "roleScopeTag")
# Types whose work happens in the database only: they fail by losing their worker, not by Graph.
DB_ONLY_TYPES = frozenset({"backup_set.remove_policies", "drift.generate"})


@dataclass
class PlannedRun:
    """One run to seed: planned first (type, time, inputs, outcome, initiator), then `row` holds
    the operation_runs row built for it (and, once inserted, its id)."""

    type: str
    created_at: datetime
    inputs: dict[str, Any]
    outcome: RunOutcome = RunOutcome.succeeded
    user_id: int | None = None
    initiator_name: str = SYSTEM_INITIATOR
    retry_of: PlannedRun | None = None  # backup_schedule.retry: the run it retries
    row: dict[str, Any] = field(default_factory=dict)


# A tenant row (id, slug, name, provider) and the runs planned for it.
TenantHistory = tuple[Any, list[PlannedRun]]


class TenantState:
    """What earlier runs left behind, so the first sync creates and later ones mostly agree."""

    def __init__(self, demo: DemoTenant) -> None:
        self.demo = demo
        self.synced_types: set[tuple[str, str]] = set()
        self.findings = 0  # open drift findings

    def per_type(self, policy_type: str) -> int:  # the demo Graph spreads objects evenly
        return max(self.demo.size // len(SUPPORTED_POLICY_TYPE_KEYS), 2)

    @property
    def groups(self) -> int:
        return max(self.demo.size // 2, 20)


def sync_types(run: PlannedRun) -> list[str]:
    """The policy types an inventory or policy sync run covers, as the sync service reads them."""
    normalised = OPERATION_TYPES[run.type].identity.normalise(run.inputs)
    types = list(normalised["policy_types"])
    if not normalised.get("include_foundations", True):
        types = [t for t in types if t not in FOUNDATIONS]
    return types
