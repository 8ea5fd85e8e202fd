"""Read models of the Drift page and `opsapp drift findings`: baselines, summary counts, the
findings table and one finding side by side. Database only — never a Graph call."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from opsapp.features.drift.diff import side_by_side
from opsapp.features.drift.normalize import normalize
from opsapp.features.inventory.queries import policy_type_label, policy_type_label_sql
from opsapp.models import BackupItem, BackupSet, DriftFinding, Policy, PolicyVersion
from opsapp.models.drift import OPEN_STATES, FindingKind, FindingState
from opsapp.models.types import iso
from opsapp.paging import Page, contains_text, ordered_by, paginate

FINDING_SORT_KEYS = (
    "display_name",
    "policy_type",
    "kind",
    "state",
    "changed_paths",
    "first_seen_at",
    "last_seen_at",
)
OPEN = "open"  # the default state filter: new and acknowledged
STATE_FILTERS = (OPEN, *(s.value for s in FindingState), "all")
KIND_FILTERS = tuple(k.value for k in FindingKind)
_F = DriftFinding.__table__

KIND_LABELS = {"added": "Added", "removed": "Removed", "modified": "Modified"}
STATE_LABELS = {"new": "New", "acknowledged": "Acknowledged", "resolved": "Resolved"}


def list_baselines(session: Session, *, tenant_id: int) -> list[dict[str, Any]]:
    """The tenant's backup sets, newest first, with item counts (the baseline picker)."""
    count = (
        select(sa.func.count())
        .select_from(BackupItem)
        .where(BackupItem.backup_set_id == BackupSet.id)
        .correlate(BackupSet)
        .scalar_subquery()
    )
    rows = session.exec(
        select(BackupSet.id, BackupSet.name, BackupSet.created_at, count)
        .where(BackupSet.tenant_id == tenant_id)
        .order_by(BackupSet.created_at.desc(), BackupSet.id.desc())
    ).all()
    return [
        {"id": r[0], "name": r[1], "created_at": iso(r[2]), "item_count": int(r[3] or 0)}
        for r in rows
    ]


def get_baseline(session: Session, *, tenant_id: int, baseline_id: int) -> BackupSet | None:
    baseline = session.get(BackupSet, baseline_id)
    return baseline if baseline is not None and baseline.tenant_id == tenant_id else None


def summary(session: Session, *, tenant_id: int, baseline_id: int) -> dict[str, Any]:
    """Counts by kind (open findings) and by state (all findings) — one query."""
    rows = session.execute(
        sa.select(_F.c.kind, _F.c.state, sa.func.count())
        .where(_F.c.tenant_id == tenant_id, _F.c.baseline_set_id == baseline_id)
        .group_by(_F.c.kind, _F.c.state)
    ).all()
    open_states = {s.value for s in OPEN_STATES}
    by_kind = dict.fromkeys(KIND_FILTERS, 0)
    by_state = {s.value: 0 for s in FindingState}
    for kind, state, count in rows:
        if state in open_states and kind in by_kind:
            by_kind[kind] += count
        if state in by_state:
            by_state[state] += count
    return {"by_kind": by_kind, "by_state": by_state, "open": sum(by_kind.values())}


def _filtered(
    tenant_id: int,
    baseline_id: int,
    *,
    state: str,
    kind: str | None,
    policy_type: str | None,
    search: str,
):
    query = sa.select(
        _F.c.id,
        _F.c.policy_id,
        _F.c.display_name,
        _F.c.policy_type,
        _F.c.kind,
        _F.c.state,
        _F.c.changed_paths,
        _F.c.first_seen_at,
        _F.c.last_seen_at,
        _F.c.acknowledged_by_name,
        _F.c.acknowledged_at,
    ).where(_F.c.tenant_id == tenant_id, _F.c.baseline_set_id == baseline_id)
    if state == OPEN:
        query = query.where(_F.c.state.in_([s.value for s in OPEN_STATES]))
    elif state in STATE_LABELS:
        query = query.where(_F.c.state == state)
    if kind in KIND_LABELS:
        query = query.where(_F.c.kind == kind)
    if policy_type:
        query = query.where(_F.c.policy_type == policy_type)
    matches = contains_text(_F.c.display_name, search)
    return query if matches is None else query.where(matches)


def finding_row(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "policy_id": r.policy_id,
        "display_name": r.display_name,
        "policy_type": r.policy_type,
        "policy_type_label": policy_type_label(r.policy_type),
        "kind": r.kind,
        "kind_label": KIND_LABELS.get(r.kind, r.kind),
        "state": r.state,
        "state_label": STATE_LABELS.get(r.state, r.state),
        "changed_paths": int(r.changed_paths),
        "first_seen_at": iso(r.first_seen_at),
        "last_seen_at": iso(r.last_seen_at),
        "acknowledged_by": r.acknowledged_by_name,
        "acknowledged_at": iso(r.acknowledged_at),
    }


def list_findings(
    session: Session,
    *,
    tenant_id: int,
    baseline_id: int,
    state: str = OPEN,
    kind: str | None = None,
    policy_type: str | None = None,
    search: str = "",
    sort: str = "display_name",
    descending: bool = False,
    page: int = 1,
    page_size: int = 25,
) -> Page:
    """One page of a baseline's findings; `state` is open (default), new, acknowledged,
    resolved or all."""
    query = _filtered(
        tenant_id, baseline_id, state=state, kind=kind, policy_type=policy_type, search=search
    )
    sort = sort if sort in FINDING_SORT_KEYS else "display_name"
    column = policy_type_label_sql(_F.c.policy_type) if sort == "policy_type" else _F.c[sort]
    text = sort in ("display_name", "policy_type")
    query = query.order_by(*ordered_by(column, _F.c.id, descending=descending, text=text))
    return paginate(session, query, page=page, page_size=page_size, row=finding_row)


def all_findings(
    session: Session,
    *,
    tenant_id: int,
    baseline_id: int,
    state: str = "all",
    kind: str | None = None,
) -> list[dict[str, Any]]:
    """Every matching finding with its changed paths (the CLI's JSON), ordered by policy."""
    query = (
        _filtered(tenant_id, baseline_id, state=state, kind=kind, policy_type=None, search="")
        .add_columns(_F.c.changes, _F.c.acknowledgement_note)
        .order_by(sa.func.lower(_F.c.display_name), _F.c.id)
    )
    out = []
    for r in session.execute(query):
        row = finding_row(r)
        row["changed_paths"] = [c.get("path") for c in r.changes or []]
        row["note"] = r.acknowledgement_note
        out.append(row)
    return out


def _version_flat(session: Session, version_id: int | None, *, assignments: bool) -> dict:
    if version_id is None:
        return {}
    version = session.get(PolicyVersion, version_id)
    if version is None:
        return {}
    return normalize(
        version.payload,
        version.assignments,
        version.scope_tags,
        include_assignments=assignments,
    )


def get_finding(session: Session, *, tenant_id: int, finding_id: int) -> dict[str, Any] | None:
    """One finding with its change rows side by side (secrets masked), or None (unknown id and
    another tenant's finding alike)."""
    finding = session.get(DriftFinding, finding_id)
    if finding is None or finding.tenant_id != tenant_id:
        return None
    baseline = session.get(BackupSet, finding.baseline_set_id)
    policy = session.get(Policy, finding.policy_id)
    item = session.exec(
        select(BackupItem).where(
            BackupItem.backup_set_id == finding.baseline_set_id,
            BackupItem.policy_id == finding.policy_id,
        )
    ).first()
    with_assignments = item.include_assignments if item is not None else True
    old = _version_flat(session, finding.baseline_version_id, assignments=with_assignments)
    new = _version_flat(session, finding.current_version_id, assignments=with_assignments)
    changed = {c.get("path") for c in finding.changes or []}
    rows = side_by_side(old, new)
    if finding.kind == FindingKind.modified.value:
        # The stored change list is what the generation saw; highlight exactly those paths.
        rows = [{**r, "changed": r["path"] in changed} for r in rows]
    return {
        "id": finding.id,
        "policy_id": finding.policy_id,
        "display_name": finding.display_name,
        "policy_type": finding.policy_type,
        "policy_type_label": policy_type_label(finding.policy_type),
        "policy_removed": policy is None or policy.removed_at is not None,
        "kind": finding.kind,
        "kind_label": KIND_LABELS.get(finding.kind, finding.kind),
        "state": finding.state,
        "state_label": STATE_LABELS.get(finding.state, finding.state),
        "baseline_id": finding.baseline_set_id,
        "baseline_name": baseline.name if baseline else "",
        "changes": list(finding.changes or []),
        "changed_paths": finding.changed_paths,
        "rows": [_display_row(r) for r in rows],
        "first_seen_at": iso(finding.first_seen_at),
        "last_seen_at": iso(finding.last_seen_at),
        "resolved_at": iso(finding.resolved_at),
        "acknowledged_at": iso(finding.acknowledged_at),
        "acknowledged_by": finding.acknowledged_by_name,
        "note": finding.acknowledgement_note,
        "first_run_id": finding.first_run_id,
        "last_run_id": finding.last_run_id,
    }


def display_value(value: Any) -> str:
    """A leaf as text: lists joined, booleans as Graph writes them, absent as an empty string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(display_value(v) for v in value)
    return str(value)


def _display_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "path": row["path"],
        "old": display_value(row["old"]),
        "new": display_value(row["new"]),
        "old_missing": row["old"] is None,
        "new_missing": row["new"] is None,
        "changed": bool(row["changed"]),
    }
