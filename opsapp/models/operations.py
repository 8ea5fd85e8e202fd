"""The canonical OperationRun table (SPEC §2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from opsapp.models.types import PortableJSON, UTCDateTime, utcnow

# The predicate of the partial unique index. Both dialects must get it: without sqlite_where
# SQLite silently builds a FULL unique index, which would forbid a second run ever.
ACTIVE_PREDICATE = sa.text("status IN ('queued', 'running')")
COMPLETED_PREDICATE = sa.text("status = 'completed'")


class OperationRun(SQLModel, table=True):
    __tablename__ = "operation_runs"
    __table_args__ = (
        sa.Index(
            "uq_operation_runs_active_identity",
            "tenant_id",
            "run_identity_hash",
            unique=True,
            postgresql_where=ACTIVE_PREDICATE,
            sqlite_where=ACTIVE_PREDICATE,
        ),
        sa.Index("ix_operation_runs_tenant_created", "tenant_id", "created_at"),
        sa.Index("ix_operation_runs_tenant_type_created", "tenant_id", "type", "created_at"),
        # Retention: find expired completed runs without scanning the table.
        sa.Index(
            "ix_operation_runs_completed_at",
            "completed_at",
            postgresql_where=COMPLETED_PREDICATE,
            sqlite_where=COMPLETED_PREDICATE,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    initiator_name: str = Field(max_length=200)
    type: str = Field(max_length=64)
    status: str = Field(max_length=16)
    outcome: str = Field(max_length=32)
    run_identity_hash: str = Field(max_length=64)
    summary_counts: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)
    failures: list[dict[str, Any]] = Field(default_factory=list, sa_type=PortableJSON)
    context: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Written by the worker while it executes the run; a stale heartbeat means the worker died.
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # How many times a worker picked the run up (a redelivery after a lost worker counts).
    attempts: int = Field(default=0)
