"""Backup sets (named sets of captured policy versions) and the schedules that create them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from opsapp.models.types import PortableJSON, UTCDateTime, utcnow

# The scheduler's due selection reads only enabled schedules: a partial index on both dialects.
ENABLED_PREDICATE = sa.text("enabled")

NAME_MAX = 200


class BackupSchedule(SQLModel, table=True):
    __tablename__ = "backup_schedules"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name", name="uq_backup_schedules_name"),
        sa.Index(
            "ix_backup_schedules_due",
            "next_run_at",
            postgresql_where=ENABLED_PREDICATE,
            sqlite_where=ENABLED_PREDICATE,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=NAME_MAX)
    frequency: str = Field(max_length=16)  # "daily" | "weekly"
    weekdays: list[int] = Field(default_factory=list, sa_type=PortableJSON)  # 0 = Monday
    time_of_day: str = Field(max_length=5)  # "HH:MM", local to `timezone`
    timezone: str = Field(max_length=64)  # IANA name
    policy_types: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    keep_last: int = Field(default=7)  # retention: the newest N sets of this schedule stay
    enabled: bool = Field(default=True)
    # The next slot to fire (UTC). The scheduler advances it with a compare-and-set, so one slot
    # fires once whatever the number of scheduler processes or restarts.
    next_run_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_scheduled_for: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_run_id: int | None = Field(
        default=None, foreign_key="operation_runs.id", ondelete="SET NULL"
    )
    created_by_user_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class BackupSet(SQLModel, table=True):
    __tablename__ = "backup_sets"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name", name="uq_backup_sets_name"),
        sa.Index("ix_backup_sets_tenant_created", "tenant_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", ondelete="CASCADE")
    name: str = Field(max_length=NAME_MAX)
    # Sets a schedule made (retention only ever deletes these); kept when the schedule goes.
    schedule_id: int | None = Field(
        default=None, foreign_key="backup_schedules.id", ondelete="SET NULL", index=True
    )
    # The schedule run that creates and fills the set; retention skips it while that run is active.
    writer_run_id: int | None = Field(
        default=None, foreign_key="operation_runs.id", ondelete="SET NULL"
    )
    created_by_user_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)  # last change


class BackupItem(SQLModel, table=True):
    """One policy in a set, pinned to the PolicyVersion captured when it was added. The version
    is the policy's complete captured state; the flags say what of it the backup includes."""

    __tablename__ = "backup_items"
    __table_args__ = (sa.UniqueConstraint("backup_set_id", "policy_id", name="uq_backup_items"),)

    id: int | None = Field(default=None, primary_key=True)
    backup_set_id: int = Field(foreign_key="backup_sets.id", ondelete="CASCADE", index=True)
    tenant_id: int = Field(foreign_key="tenants.id", ondelete="CASCADE")
    policy_id: int = Field(foreign_key="policies.id", ondelete="CASCADE", index=True)
    policy_version_id: int = Field(foreign_key="policy_versions.id", ondelete="CASCADE")
    policy_type: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=400)  # as captured
    include_assignments: bool = Field(default=True)
    include_scope_tags: bool = Field(default=True)
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    operation_run_id: int | None = Field(
        default=None, foreign_key="operation_runs.id", ondelete="SET NULL"
    )
