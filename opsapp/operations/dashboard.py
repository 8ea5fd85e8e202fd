"""The tenant dashboard read model: what the tenant holds, when each sync last finished, what
runs now and what failed lately. Database only; a handful of small index-served queries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from opsapp.models import DirectoryGroup, InventoryItem, OperationRun, Policy
from opsapp.models.operations import ACTIVE_PREDICATE
from opsapp.models.types import utcnow
from opsapp.operations.catalog import label_for
from opsapp.operations.lifecycle import status_in
from opsapp.operations.serialize import run_to_dict
from opsapp.operations.status import PROBLEM_OUTCOMES, TERMINAL_STATUSES

SYNC_TYPES = ("inventory.sync", "policy.sync", "directory_groups.sync")
FAILURE_WINDOW = timedelta(days=7)
MAX_ACTIVE_SHOWN = 10
MAX_FAILURES_SHOWN = 5


def _present_count(session: Session, model: Any, tenant_id: int) -> int:
    query = select(sa.func.count()).select_from(model)
    return session.exec(query.where(model.tenant_id == tenant_id, model.removed_at.is_(None))).one()


def _runs(session: Session, tenant_id: int, *where: Any, limit: int) -> list[OperationRun]:
    t = OperationRun
    query = select(t).where(t.tenant_id == tenant_id, *where)
    return list(session.exec(query.order_by(t.created_at.desc(), t.id.desc()).limit(limit)))


def tenant_dashboard(
    session: Session, *, tenant_id: int, tenant_slug: str, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the tenant home page shows, as plain data.

    Active runs are matched with the exact text of the active-runs partial index predicate:
    only a literal match lets a planner use that small index instead of the tenant's history."""
    t, now = OperationRun, now or utcnow()

    def as_dicts(runs: list[OperationRun]) -> list[dict[str, Any]]:
        return [run_to_dict(r, tenant_slug=tenant_slug) for r in runs]

    last_syncs = []
    for run_type in SYNC_TYPES:
        completed = _runs(
            session, tenant_id, t.type == run_type, status_in(TERMINAL_STATUSES), limit=1
        )
        active = _runs(session, tenant_id, t.type == run_type, ACTIVE_PREDICATE, limit=1)
        last_syncs.append(
            {
                "type": run_type,
                "label": label_for(run_type),
                "run": (as_dicts(completed) or [None])[0],
                "active": (as_dicts(active) or [None])[0],
            }
        )
    active_runs = as_dicts(_runs(session, tenant_id, ACTIVE_PREDICATE, limit=MAX_ACTIVE_SHOWN))
    failures = _runs(
        session,
        tenant_id,
        t.created_at >= now - FAILURE_WINDOW,
        status_in(TERMINAL_STATUSES),
        t.outcome.in_(sorted(PROBLEM_OUTCOMES)),
        limit=MAX_FAILURES_SHOWN,
    )
    return {
        "counts": {
            "inventory_items": _present_count(session, InventoryItem, tenant_id),
            "policies": _present_count(session, Policy, tenant_id),
            "groups": _present_count(session, DirectoryGroup, tenant_id),
        },
        "last_syncs": last_syncs,
        "active_runs": active_runs,
        "recent_failures": as_dicts(failures),
        "has_active": bool(active_runs),
    }
