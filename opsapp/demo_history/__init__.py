"""A believable run history for the demo tenants, so Monitoring → Operations, the dashboard and
the bell are not empty on a fresh demo.

Only ever writes into a demo-only database (every tenant has provider "demo"), only for the demo
tenants of opsapp.graph.demo.tenants that have no runs yet, and only COMPLETED runs: a seeded
queued/running run would be reaped as lost and would block real starts through the partial
unique index. Runs are built the way the primitive builds them (normalised identity inputs and
their hash, catalog count keys, failures from make_failure with stable codes and Graph-shaped
messages) and marked `context.demo_history`. Deterministic per tenant slug and `now`: each
tenant has its own random generator, and every step draws from it in a fixed order (plan.py,
then rows.py), so keep that order when changing a step.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from opsapp.db import get_engine
from opsapp.graph.demo.tenants import DEMO_TENANTS
from opsapp.models import OperationRun, ProviderKind, Tenant
from opsapp.models.types import utcnow

from .backups import ensure_demo_backups, link_last_runs
from .failures import GRAPH_ATTEMPTS
from .initiators import Member, load_members
from .inputs import TenantIds
from .model import PlannedRun, TenantHistory
from .notify import NOTIFIED_RUNS, OWNER_EMAIL, UNREAD_NOTIFICATIONS, notify_owner
from .plan import plan_tenant
from .restores import link_demo_restores
from .rows import build_rows, insert_runs

__all__ = [
    "GRAPH_ATTEMPTS",
    "NOTIFIED_RUNS",
    "OWNER_EMAIL",
    "UNREAD_NOTIFICATIONS",
    "seed_demo_history",
]

_RUNS = OperationRun.__table__


def seed_demo_history(
    engine: Engine | None = None, *, now: datetime | None = None, days: int = 30
) -> dict[str, Any]:
    """Seed completed runs (and the demo owner's notifications) for demo tenants without runs.

    Returns {"runs": how many were created, "skipped": why nothing was seeded, or None}.
    """
    engine = engine or get_engine()
    now = (now or utcnow()).astimezone(UTC)
    days = max(int(days), 1)
    with engine.begin() as conn:
        targets, skipped = _tenants_to_seed(conn)
        if skipped is not None:
            return {"runs": 0, "skipped": skipped}
        members = load_members(conn, [t.id for t in targets])
        planned: list[TenantHistory] = []
        tenant_ids: dict[int, TenantIds] = {}
        for tenant in targets:
            ids = tenant_ids[tenant.id] = ensure_demo_backups(
                conn, tenant_id=tenant.id, slug=tenant.slug
            )
            planned.append((tenant, _history(tenant, ids, members.get(tenant.id, []), now, days)))
        created = insert_runs(conn, planned)
        for tenant_id, ids in tenant_ids.items():
            link_last_runs(conn, ids, tenant_id=tenant_id)
            link_demo_restores(conn, ids, tenant_id=tenant_id)
        notify_owner(conn, planned, now)
    return {"runs": created, "skipped": None}


def _tenants_to_seed(conn: Connection) -> tuple[list[Any], str | None]:
    """The demo tenants without runs, or why none may be seeded: a real tenant anywhere means
    this is not a demo database, and tenants with runs already have their history."""
    demo_slugs = {d.slug for d in DEMO_TENANTS}
    tenants = conn.execute(
        sa.select(Tenant.id, Tenant.slug, Tenant.name, Tenant.provider).order_by(Tenant.id)
    ).all()
    if any(t.provider != ProviderKind.demo.value for t in tenants):
        return [], "real tenants present"
    with_runs = set(conn.execute(sa.select(_RUNS.c.tenant_id).distinct()).scalars())
    targets = [t for t in tenants if t.slug in demo_slugs and t.id not in with_runs]
    if not targets:
        has_demo = any(t.slug in demo_slugs for t in tenants)
        return [], "history present" if has_demo else "no demo tenants"
    return targets, None


def _history(
    tenant: Any, ids: TenantIds, members: list[Member], now: datetime, days: int
) -> list[PlannedRun]:
    """One tenant's planned runs with their rows, drawn from a generator seeded by its slug."""
    demo = next(d for d in DEMO_TENANTS if d.slug == tenant.slug)
    rng = random.Random(f"opsapp-demo-history:{demo.slug}")
    runs = plan_tenant(rng, ids, members, now, days)
    build_rows(rng, runs, demo, tenant.id, now)
    return runs
