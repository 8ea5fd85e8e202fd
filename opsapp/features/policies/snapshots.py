"""Capture policy snapshots and store them as versions: identical content reuses its version."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from opsapp.features.common import display_name, parse_graph_datetime
from opsapp.features.reconcile import Known, Tally, content_hash
from opsapp.models import Policy, PolicyVersion


@dataclass
class Snapshot:
    policy_type: str
    graph_id: str
    payload: dict[str, Any]
    assignments: list[dict[str, Any]] = field(default_factory=list)
    settings: list[dict[str, Any]] | None = None  # settings catalog only

    @property
    def scope_tags(self) -> list[str]:
        return sorted(str(t) for t in self.payload.get("roleScopeTagIds") or [])

    @property
    def stored_payload(self) -> dict[str, Any]:
        payload = {
            k: v
            for k, v in self.payload.items()
            if not k.startswith("@odata.") or k == "@odata.type"
        }
        if self.settings is not None:
            payload["settings"] = self.settings
        return payload

    @property
    def digest(self) -> str:
        return content_hash(
            {
                "payload": self.stored_payload,
                "assignments": self.assignments,
                "scope_tags": self.scope_tags,
            }
        )


def store_snapshots(
    engine: Engine,
    *,
    tenant_id: int,
    snapshots: list[Snapshot],
    known: dict[str, Known],
    tally: Tally,
    now: datetime,
    run_id: int | None,
) -> None:
    """Upsert the policies of one batch and their versions, in one transaction."""
    with Session(engine) as session, session.begin():
        for snap in snapshots:
            digest, existing = snap.digest, known.get(snap.graph_id)
            if existing is not None and existing.hash == digest and not existing.removed:
                tally.add("unchanged")
                continue
            policy = (
                session.get(Policy, existing.id)
                if existing
                else Policy(
                    tenant_id=tenant_id,
                    policy_type=snap.policy_type,
                    graph_id=snap.graph_id,
                    created_at=now,
                )
            )
            policy.display_name = display_name(snap.payload)
            policy.last_modified = parse_graph_datetime(snap.payload.get("lastModifiedDateTime"))
            policy.content_hash, policy.updated_at, policy.removed_at = digest, now, None
            session.add(policy)
            session.flush()
            version = (
                _version_for(session, policy, snap, digest, now, run_id)
                if existing
                else _new_version(session, policy, snap, digest, now, run_id, number=1)
            )
            policy.current_version_id = version.id
            known[snap.graph_id] = Known(policy.id, digest, False)
            tally.add("updated" if existing else "created")


def _version_for(
    session: Session, policy: Policy, snap: Snapshot, digest: str, now: datetime, run_id: int | None
) -> PolicyVersion:
    reused = session.exec(
        select(PolicyVersion).where(
            PolicyVersion.policy_id == policy.id, PolicyVersion.content_hash == digest
        )
    ).first()
    if reused is not None:  # the policy went back to content we already captured
        return reused
    latest = (
        session.execute(
            sa.select(sa.func.max(PolicyVersion.version_number)).where(
                PolicyVersion.policy_id == policy.id
            )
        ).scalar()
        or 0
    )
    return _new_version(session, policy, snap, digest, now, run_id, number=latest + 1)


def _new_version(
    session: Session,
    policy: Policy,
    snap: Snapshot,
    digest: str,
    now: datetime,
    run_id: int | None,
    *,
    number: int,
) -> PolicyVersion:
    version = PolicyVersion(
        policy_id=policy.id,
        tenant_id=policy.tenant_id,
        version_number=number,
        content_hash=digest,
        payload=snap.stored_payload,
        assignments=snap.assignments,
        scope_tags=snap.scope_tags,
        captured_at=now,
        operation_run_id=run_id,
    )
    session.add(version)
    session.flush()
    return version
