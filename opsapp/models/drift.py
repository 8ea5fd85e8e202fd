"""Drift findings: how a tenant's current captured state differs from a baseline backup set,
one finding per (baseline, policy) while it is open; resolved findings stay as history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from opsapp.models.types import PortableJSON, UTCDateTime, utcnow


class FindingKind(StrEnum):
    added = "added"  # in the tenant, not in the baseline
    removed = "removed"  # in the baseline, gone from the tenant
    modified = "modified"  # in both, with changed settings or assignments


class FindingState(StrEnum):
    new = "new"
    acknowledged = "acknowledged"
    resolved = "resolved"  # the difference went away (or changed: a new finding took over)


OPEN_STATES = (FindingState.new, FindingState.acknowledged)
# The partial unique index's predicate, the same text on both dialects (see OperationRun).
OPEN_PREDICATE = sa.text("state IN ('new', 'acknowledged')")
NOTE_MAX = 1000


class DriftFinding(SQLModel, table=True):
    __tablename__ = "drift_findings"
    __table_args__ = (
        # One open finding per baseline and policy: a generation racing another cannot open two.
        sa.Index(
            "uq_drift_findings_open",
            "baseline_set_id",
            "policy_id",
            unique=True,
            postgresql_where=OPEN_PREDICATE,
            sqlite_where=OPEN_PREDICATE,
        ),
        # The Drift page: a baseline's findings, filtered by state, newest first.
        sa.Index("ix_drift_findings_list", "tenant_id", "baseline_set_id", "state", "last_seen_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", ondelete="CASCADE")
    baseline_set_id: int = Field(foreign_key="backup_sets.id", ondelete="CASCADE")
    policy_id: int = Field(foreign_key="policies.id", ondelete="CASCADE", index=True)
    policy_type: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=400)  # as last seen
    kind: FindingKind = Field(sa_type=sa.String(16))
    state: FindingState = Field(default=FindingState.new, sa_type=sa.String(16))
    # sha256 over the raw difference: the same drift seen again keeps its finding (and its
    # acknowledgement); a different drift of the same policy resolves it and opens a new one.
    fingerprint: str = Field(max_length=64)
    # Modified: [{path, old, new, kind}] with secret values masked — never the raw values.
    changes: list[dict[str, Any]] = Field(default_factory=list, sa_type=PortableJSON)
    changed_paths: int = Field(default=0)
    baseline_version_id: int | None = Field(
        default=None, foreign_key="policy_versions.id", ondelete="SET NULL"
    )
    current_version_id: int | None = Field(
        default=None, foreign_key="policy_versions.id", ondelete="SET NULL"
    )
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by_user_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL"
    )
    acknowledged_by_name: str = Field(default="", max_length=200)  # kept if the user goes
    acknowledgement_note: str = Field(default="", max_length=NOTE_MAX)
    first_run_id: int | None = Field(
        default=None, foreign_key="operation_runs.id", ondelete="SET NULL"
    )
    last_run_id: int | None = Field(
        default=None, foreign_key="operation_runs.id", ondelete="SET NULL"
    )
