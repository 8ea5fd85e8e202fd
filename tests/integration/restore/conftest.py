"""Restore fixtures: contoso synced from the in-process demo Graph (`ops` of the backup tests),
a backup set of chosen policies, and helpers that preview and execute like the pages do
(previews with the tenant's Graph client, execution through the embedded worker)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from opsapp.db import session_scope
from opsapp.features.restore import adapter
from opsapp.features.restore.drafts import Options, create_draft
from opsapp.features.restore.queries import get_restore_detail
from opsapp.features.restore.service import preview_restore
from opsapp.worker.embedded import embedded_worker, get_dispatcher
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

DC, SC, COMPLIANCE = "deviceConfiguration", "settingsCatalogPolicy", "deviceCompliancePolicy"
GRAPH = "contoso"


@dataclass
class Restores:
    ops: Ops
    demo: Any

    async def backup(self, per_type: int = 3, types=(DC, COMPLIANCE, SC)) -> int:
        set_id = self.ops.new_set("Restore source")
        ids = [i for t in types for i in self.ops.policy_ids(t, per_type)]
        row = await self.ops.run("backup_set.add_policies", backup_set_id=set_id, policy_ids=ids)
        assert row["outcome"] == "succeeded", row
        return set_id

    def draft(self, set_id: int, **options: Any) -> int:
        with session_scope(self.ops.engine) as session:
            return create_draft(
                session,
                tenant_id=self.ops.tenant_id,
                backup_set_id=set_id,
                user_id=self.ops.owner_id,
                user_name="Olga Owner",
                item_ids=options.pop("item_ids", None),
                options=Options(**options),
            ).id

    async def preview(self, restore_id: int) -> dict[str, int]:
        return await preview_restore(
            tenant_id=self.ops.tenant_id,
            restore_id=restore_id,
            user_id=self.ops.owner_id,
            user_name="Olga Owner",
            engine=self.ops.engine,
        )

    async def execute(self, restore_id: int):
        async with embedded_worker(engine=self.ops.engine, maintenance=False) as broker:
            done = await adapter.execute(
                tenant_id=self.ops.tenant_id,
                restore_id=restore_id,
                dispatcher=get_dispatcher(),
                engine=self.ops.engine,
            )
            await broker.wait_all()
        return done

    def detail(self, restore_id: int) -> dict[str, Any]:
        with session_scope(self.ops.engine) as session:
            return get_restore_detail(session, tenant_id=self.ops.tenant_id, restore_id=restore_id)

    def items(self, restore_id: int) -> dict[str, dict[str, Any]]:
        """Items by graph id."""
        return {i["graph_id"]: i for i in self.detail(restore_id)["items"]}

    def graph_id(self, policy_type: str, n: int = 0) -> str:
        return self.ops.scalar(
            "SELECT graph_id FROM policies WHERE tenant_id = :t AND policy_type = :p "
            "ORDER BY id LIMIT 1 OFFSET :n",
            t=self.ops.tenant_id,
            p=policy_type,
            n=n,
        )

    def runs(self) -> list[dict[str, Any]]:
        with self.ops.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT * FROM operation_runs WHERE type = 'restore.execute' ORDER BY id")
            )
            return [_decoded(dict(r)) for r in rows.mappings()]


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    """JSON columns as values on both dialects (raw SQLite answers text)."""
    for key in ("summary_counts", "failures", "context"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


@pytest.fixture
def restores(ops, demo) -> Restores:  # noqa: F811  (the imported fixtures)
    return Restores(ops, demo)
