"""Drift fixtures: the backup fixtures (contoso synced from the in-process demo Graph, `Ops`
starting runs with the embedded worker on SQLite and PostgreSQL; `e2e` for the real worker)
plus `Drift`, which backs the tenant up, edits the demo Graph precisely and reads findings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from opsapp.models import DriftFinding
from tests.integration.backups.conftest import (  # noqa: F401  (fixtures, reused as they are)
    Ops,
    demo,
    demo_server,
    e2e,
    e2e_queue,
    ops,
    seeded_db,
    sync_contoso,
    worker,
    worker_log_level,
)

_F = DriftFinding.__table__
DC, SC, COMPLIANCE = "deviceConfiguration", "settingsCatalogPolicy", "deviceCompliancePolicy"


@dataclass
class Drift:
    ops: Ops
    demo: Any  # DemoGraph

    async def baseline(self, name: str = "Baseline") -> int:
        """A set holding every synced contoso policy."""
        set_id = self.ops.new_set(name)
        row = await self.ops.run(
            "backup_set.add_policies", backup_set_id=set_id, policy_ids=self.ops.policy_ids()
        )
        assert row["outcome"] == "succeeded", row
        return set_id

    async def generate(self, baseline_id: int, **inputs: Any) -> dict[str, Any]:
        row = await self.ops.run("drift.generate", baseline_id=baseline_id, **inputs)
        assert row["outcome"] == "succeeded", row
        return row

    async def sync(self) -> None:
        await sync_contoso(self.ops.engine, self.ops.tenant_id)

    def graph_id(self, policy_type: str, n: int = 0) -> str:
        """The graph id of the n-th synced policy of a type (ordered by database id)."""
        return self.ops.scalar(
            "SELECT graph_id FROM policies WHERE tenant_id = :t AND policy_type = :p "
            "ORDER BY id LIMIT 1 OFFSET :n",
            t=self.ops.tenant_id,
            p=policy_type,
            n=n,
        )

    def policy_id(self, graph_id: str) -> int:
        return self.ops.scalar("SELECT id FROM policies WHERE graph_id = :g", g=graph_id)

    def findings(self, baseline_id: int, *, open_only: bool = True) -> list[dict[str, Any]]:
        query = sa.select(_F).where(_F.c.baseline_set_id == baseline_id).order_by(_F.c.id)
        if open_only:
            query = query.where(_F.c.state != "resolved")
        with self.ops.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]


@pytest.fixture
def drift(ops, demo) -> Drift:  # noqa: F811  (the imported fixtures)
    return Drift(ops, demo)
