"""Per-user in-app notifications (the bell)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from opsapp.models.types import UTCDateTime, utcnow


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index("ix_notifications_user_created", "user_id", "created_at"),
        # Deleting a run (retention) sets its notifications' run id to NULL: find them by index.
        sa.Index("ix_notifications_operation_run", "operation_run_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    tenant_id: int | None = Field(default=None, foreign_key="tenants.id", ondelete="CASCADE")
    operation_run_id: int | None = Field(
        default=None, foreign_key="operation_runs.id", ondelete="SET NULL"
    )
    level: str = Field(default="info", max_length=16)  # info | success | warning | error
    title: str = Field(max_length=200)
    body: str = Field(default="", max_length=1000)
    link: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
