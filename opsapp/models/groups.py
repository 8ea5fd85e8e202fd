"""Entra groups as last observed (directory_groups.sync writes them)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from opsapp.models.types import UTCDateTime, utcnow


class DirectoryGroup(SQLModel, table=True):
    __tablename__ = "directory_groups"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "graph_id", name="uq_directory_groups_object"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", ondelete="CASCADE")
    graph_id: str = Field(max_length=128)
    display_name: str = Field(default="", max_length=400)
    group_type: str = Field(
        default="security", max_length=32
    )  # security | microsoft365 | distribution
    member_count: int | None = Field(default=None)
    content_hash: str = Field(default="", max_length=64)
    observed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
