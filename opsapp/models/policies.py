"""Supported policy objects and their immutable captured snapshots (policy.sync writes them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from opsapp.models.types import PortableJSON, UTCDateTime, utcnow


class Policy(SQLModel, table=True):
    __tablename__ = "policies"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "policy_type", "graph_id", name="uq_policies_object"),
        sa.Index("ix_policies_tenant_type", "tenant_id", "policy_type"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", ondelete="CASCADE")
    policy_type: str = Field(max_length=64)
    graph_id: str = Field(max_length=128)
    display_name: str = Field(default="", max_length=400)
    last_modified: datetime | None = Field(default=None, sa_type=UTCDateTime)
    content_hash: str = Field(default="", max_length=64)  # hash of the current version
    current_version_id: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PolicyVersion(SQLModel, table=True):
    """An immutable snapshot. Identical content (same hash) is reused, never stored twice."""

    __tablename__ = "policy_versions"
    __table_args__ = (
        sa.UniqueConstraint("policy_id", "content_hash", name="uq_policy_versions_content"),
    )

    id: int | None = Field(default=None, primary_key=True)
    policy_id: int = Field(foreign_key="policies.id", ondelete="CASCADE", index=True)
    tenant_id: int = Field(foreign_key="tenants.id", ondelete="CASCADE")
    version_number: int
    content_hash: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)
    assignments: list[dict[str, Any]] = Field(default_factory=list, sa_type=PortableJSON)
    scope_tags: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    captured_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    operation_run_id: int | None = Field(
        default=None, foreign_key="operation_runs.id", ondelete="SET NULL"
    )
