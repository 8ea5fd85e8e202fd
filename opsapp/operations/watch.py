"""Tiny reads for pages that follow a run they started (database only): is a run of this type
active in the tenant, and is a given run still active."""

from __future__ import annotations

from sqlmodel import Session, select

from opsapp.models import OperationRun
from opsapp.models.operations import ACTIVE_PREDICATE
from opsapp.operations.status import ACTIVE_STATUSES, RunStatus


def active_run_id(session: Session, *, tenant_id: int, run_type: str) -> int | None:
    """The newest active run of `run_type` in the tenant (served by the tenant/type index)."""
    query = (
        select(OperationRun.id)
        .where(
            OperationRun.tenant_id == tenant_id,
            OperationRun.type == run_type,
            ACTIVE_PREDICATE,  # the literal predicate, so PostgreSQL can use the partial index
        )
        .order_by(OperationRun.created_at.desc())
        .limit(1)
    )
    return session.exec(query).first()


def is_active(session: Session, *, tenant_id: int, run_id: int) -> bool:
    """Whether the tenant's run is still queued or running (False for another tenant's run)."""
    status = session.exec(
        select(OperationRun.status).where(
            OperationRun.id == run_id, OperationRun.tenant_id == tenant_id
        )
    ).first()
    return status is not None and RunStatus(status) in ACTIVE_STATUSES
