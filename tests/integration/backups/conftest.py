"""Backup test fixtures.

In-process (`engine`: SQLite and PostgreSQL): the demo tenant "contoso" with an operator, an
owner and a reader; its policies synced from the process-wide in-process demo Graph (the one
`graph_for` talks to when no demo URL is set); `Ops` starts runs through `start_operation` with
the embedded worker (InMemoryBroker) and returns the completed rows.

Real worker (PostgreSQL + Redis + a `taskiq worker` process + the demo Graph over HTTP): the
fixtures of tests/integration/e2e_sync are reused as they are (`e2e`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsapp.db import session_scope
from opsapp.features.backups.schedules import ScheduleInput, create_schedule
from opsapp.features.backups.sets import create_backup_set
from opsapp.features.policies.service import sync_policies
from opsapp.graph.demo import CONTOSO, make_demo_graph_client, shared_demo_app
from opsapp.models import OperationRun, Role
from opsapp.operations.catalog import get_type
from opsapp.operations.service import start_operation
from opsapp.worker.embedded import embedded_worker, get_dispatcher
from tests.factories import make_tenant, make_user
from tests.integration.e2e_sync.conftest import (  # noqa: F401  (fixtures, reused as they are)
    demo_server,
    e2e,
    e2e_queue,
    seeded_db,
    worker,
    worker_log_level,
)

_T = OperationRun.__table__


async def _no_progress(counts, final=False):
    return None


@pytest.fixture
def demo():
    """The process-wide in-process demo Graph, healthy and unchanged before and after."""
    graph = shared_demo_app().state.demo
    graph.reset()
    yield graph
    graph.reset()


@dataclass
class Ops:
    engine: Engine
    tenant_id: int
    operator_id: int
    owner_id: int
    reader_id: int

    async def start(self, run_type: str, *, user_id: int | None = None, **inputs: Any):
        """Start through start_operation with the embedded worker; wait until it is done."""
        async with embedded_worker(engine=self.engine, maintenance=False) as broker:
            result = await start_operation(
                run_type=run_type,
                tenant_id=self.tenant_id,
                user_id=user_id or self.operator_id,
                inputs=inputs,
                dispatcher=get_dispatcher(),
                engine=self.engine,
            )
            await broker.wait_all()
        return result

    async def run(self, run_type: str, **inputs: Any) -> dict[str, Any]:
        result = await self.start(run_type, **inputs)
        assert result.created
        return self.row(result.run.id)

    def row(self, run_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(_T).where(_T.c.id == run_id)).mappings().one())

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def policy_ids(self, policy_type: str | None = None, limit: int = 1000) -> list[int]:
        where = "tenant_id = :t" + (" AND policy_type = :p" if policy_type else "")
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.text(f"SELECT id FROM policies WHERE {where} ORDER BY id LIMIT :n"),
                    {"t": self.tenant_id, "p": policy_type, "n": limit},
                ).scalars()
            )

    def new_set(self, name: str = "Manual") -> int:
        with session_scope(self.engine) as session:
            return create_backup_set(session, tenant_id=self.tenant_id, name=name).id

    def new_schedule(self, **fields: Any) -> int:
        data = ScheduleInput(
            name=fields.pop("name", "Nightly"),
            timezone=fields.pop("timezone", "Europe/Berlin"),
            policy_types=fields.pop("policy_types", ["deviceCompliancePolicy", "roleScopeTag"]),
            keep_last=fields.pop("keep_last", 3),
            **fields,
        )
        with session_scope(self.engine) as session:
            return create_schedule(session, tenant_id=self.tenant_id, data=data).id


async def sync_contoso(engine: Engine, tenant_id: int, policy_types: list[str] | None = None):
    """policy.sync's service against the shared in-process demo Graph (no run row)."""
    graph = make_demo_graph_client(CONTOSO, max_sleep=0.01, backoff_base=0.001)
    try:
        inputs = {"policy_types": policy_types} if policy_types else {}
        return await sync_policies(
            engine=engine,
            graph=graph,
            tenant_id=tenant_id,
            inputs=get_type("policy.sync").identity.normalise(inputs),
            run_id=None,
            report_progress=_no_progress,
        )
    finally:
        await graph.aclose()


@pytest.fixture
async def ops(engine, demo) -> Ops:
    """Contoso (a demo tenant, policies synced) with an operator, an owner and a reader."""
    tenant = make_tenant(engine, slug="contoso", entra_tenant_id=CONTOSO.entra_tenant_id)
    operator = make_user(engine, tenant=tenant, role=Role.operator)
    owner = make_user(engine, tenant=tenant, role=Role.owner)
    reader = make_user(engine, tenant=tenant, role=Role.readonly)
    await sync_contoso(engine, tenant.id)
    return Ops(engine, tenant.id, operator.id, owner.id, reader.id)
