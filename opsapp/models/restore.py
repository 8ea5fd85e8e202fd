"""Restores: a backup set's items written back to the live tenant. A RestoreRun is the workflow
record (draft → previewed → running → completed); from `previewed` on it has its
`restore.execute` OperationRun (the restore adapter), which it moves together with."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from opsapp.models.types import PortableJSON, UTCDateTime, utcnow


class RestoreStatus(StrEnum):
    draft = "draft"  # items and options can change; no run yet
    previewed = "previewed"  # a plan read from the live tenant; its run is queued (held)
    running = "running"  # executing (or dispatched to a worker)
    completed = "completed"  # final; `outcome` says how it ended


class ItemAction(StrEnum):
    pending = "pending"  # not previewed yet
    create = "create"  # missing in the tenant: created
    update = "update"  # differs: written back
    unchanged = "unchanged"  # the tenant already matches the backup
    skip = "skip"  # not restored (missing in update-only mode, unsupported type)


class ItemResult(StrEnum):
    pending = "pending"
    created = "created"
    updated = "updated"
    unchanged = "unchanged"
    skipped = "skipped"
    failed = "failed"


class RestoreRun(SQLModel, table=True):
    __tablename__ = "restore_runs"
    __table_args__ = (sa.Index("ix_restore_runs_tenant_created", "tenant_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", ondelete="CASCADE")
    backup_set_id: int | None = Field(
        default=None, foreign_key="backup_sets.id", ondelete="SET NULL"
    )
    backup_set_name: str = Field(default="", max_length=200)  # kept when the set goes
    status: str = Field(default=RestoreStatus.draft.value, max_length=16)
    outcome: str = Field(default="pending", max_length=32)
    restore_assignments: bool = Field(default=True)
    restore_scope_tags: bool = Field(default=True)
    create_missing: bool = Field(default=True)  # False: update only
    # Missing assignment groups: {backup group id: existing group id, or None = skip}.
    group_map: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)
    preview_counts: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)
    operation_run_id: int | None = Field(
        default=None, foreign_key="operation_runs.id", ondelete="SET NULL"
    )
    created_by_user_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL"
    )
    created_by_name: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    previewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RestoreItem(SQLModel, table=True):
    """One backup item of a restore: its plan (from the preview) and its result."""

    __tablename__ = "restore_items"
    __table_args__ = (
        sa.UniqueConstraint("restore_run_id", "backup_item_id", name="uq_restore_items"),
    )

    id: int | None = Field(default=None, primary_key=True)
    restore_run_id: int = Field(foreign_key="restore_runs.id", ondelete="CASCADE", index=True)
    tenant_id: int = Field(foreign_key="tenants.id", ondelete="CASCADE")
    backup_item_id: int | None = Field(
        default=None, foreign_key="backup_items.id", ondelete="SET NULL"
    )
    policy_id: int | None = Field(default=None, foreign_key="policies.id", ondelete="SET NULL")
    # The captured state to write back (immutable; kept when the backup set goes).
    policy_version_id: int | None = Field(
        default=None, foreign_key="policy_versions.id", ondelete="SET NULL"
    )
    policy_type: str = Field(max_length=64)
    graph_id: str = Field(max_length=128)  # the object's id when it was backed up
    display_name: str = Field(default="", max_length=400)
    action: str = Field(default=ItemAction.pending.value, max_length=16)
    # The preview's changed paths (live → backup, secrets masked) and conflicts
    # ([{kind, ref, message}]: group_missing, filter_missing, scope_tag_missing, …).
    changes: list[dict[str, Any]] = Field(default_factory=list, sa_type=PortableJSON)
    conflicts: list[dict[str, Any]] = Field(default_factory=list, sa_type=PortableJSON)
    result: str = Field(default=ItemResult.pending.value, max_length=16)
    result_message: str = Field(default="", max_length=500)
    target_graph_id: str = Field(default="", max_length=128)  # what was written (a create's id)
    executed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
