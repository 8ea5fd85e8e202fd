"""Read models of the restore pages and `opsapp restore show`. Database only."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from opsapp.features.inventory.queries import policy_type_label
from opsapp.features.restore.adapter import effective_status
from opsapp.models import (
    BackupItem,
    DirectoryGroup,
    OperationRun,
    PolicyVersion,
    RestoreItem,
    RestoreRun,
)
from opsapp.models.types import iso
from opsapp.paging import Page, paginate

STATUS_LABELS = {
    "draft": "Draft",
    "previewed": "Previewed",
    "running": "Running",
    "completed": "Completed",
}
OUTCOME_LABELS = {
    "pending": "",
    "succeeded": "Succeeded",
    "partially_succeeded": "Partially succeeded",
    "failed": "Failed",
    "cancelled": "Discarded",
}
ACTION_LABELS = {
    "pending": "Not previewed",
    "create": "Create",
    "update": "Update",
    "unchanged": "Unchanged",
    "skip": "Skip",
}
RESULT_LABELS = {
    "pending": "—",
    "created": "Created",
    "updated": "Updated",
    "unchanged": "Unchanged",
    "skipped": "Skipped",
    "failed": "Failed",
}
MAX_GROUP_CHOICES = 500
_PLAN_KEYS = (
    ("create", "Create"),
    ("update", "Update"),
    ("unchanged", "Unchanged"),
    ("skip", "Skip"),
    ("conflicts", "Conflicts"),
)


def _plan_counts(counts: dict[str, Any]) -> list[dict[str, Any]]:
    """The preview's counts as chips ([] before any preview)."""
    if not counts:
        return []
    return [{"label": label, "value": int(counts.get(key) or 0)} for key, label in _PLAN_KEYS]


def _row(restore: RestoreRun, run: OperationRun | None, item_count: int) -> dict[str, Any]:
    status, outcome = effective_status(restore, run)
    return {
        "id": restore.id,
        "backup_set_id": restore.backup_set_id,
        "backup_set_name": restore.backup_set_name,
        "status": status,
        "status_label": STATUS_LABELS.get(status, status),
        "outcome": outcome,
        "outcome_label": OUTCOME_LABELS.get(outcome, outcome),
        "item_count": int(item_count or 0),
        "restore_assignments": restore.restore_assignments,
        "restore_scope_tags": restore.restore_scope_tags,
        "create_missing": restore.create_missing,
        "preview_counts": dict(restore.preview_counts or {}),
        "plan_counts": _plan_counts(restore.preview_counts or {}),
        "group_map": dict(restore.group_map or {}),
        "operation_run_id": restore.operation_run_id,
        "run_status": run.status if run is not None else "",
        "created_by": restore.created_by_name,
        "created_at": iso(restore.created_at),
        "previewed_at": iso(restore.previewed_at),
        "completed_at": iso(restore.completed_at or (run.completed_at if run else None)),
    }


def _count():
    return (
        select(sa.func.count())
        .select_from(RestoreItem)
        .where(RestoreItem.restore_run_id == RestoreRun.id)
        .correlate(RestoreRun)
        .scalar_subquery()
    )


def _query(tenant_id: int):
    return (
        select(RestoreRun, OperationRun, _count())
        .outerjoin(OperationRun, OperationRun.id == RestoreRun.operation_run_id)
        .where(RestoreRun.tenant_id == tenant_id)
    )


def list_restores(session: Session, *, tenant_id: int, page: int = 1, page_size: int = 25) -> Page:
    """The tenant's restores, newest first."""
    query = _query(tenant_id).order_by(RestoreRun.created_at.desc(), RestoreRun.id.desc())
    return paginate(session, query, page=page, page_size=page_size, row=lambda r: _row(*r))


def get_restore_detail(session: Session, *, tenant_id: int, restore_id: int) -> dict | None:
    """One restore with its items (None for an unknown id and another tenant's alike)."""
    found = session.exec(_query(tenant_id).where(RestoreRun.id == restore_id)).first()
    if found is None:
        return None
    detail = _row(*found)
    detail["items"] = restore_items(session, restore_id=restore_id)
    return detail


def restore_items(session: Session, *, restore_id: int) -> list[dict[str, Any]]:
    rows = session.exec(
        select(RestoreItem, PolicyVersion.version_number, PolicyVersion.captured_at)
        .outerjoin(PolicyVersion, PolicyVersion.id == RestoreItem.policy_version_id)
        .where(RestoreItem.restore_run_id == restore_id)
        .order_by(sa.func.lower(RestoreItem.display_name), RestoreItem.id)
    ).all()
    return [
        {
            "id": item.id,
            "backup_item_id": item.backup_item_id,
            "policy_id": item.policy_id,
            "policy_type": item.policy_type,
            "policy_type_label": policy_type_label(item.policy_type),
            "graph_id": item.graph_id,
            "display_name": item.display_name,
            "version_number": version_number,
            "captured_at": iso(captured_at),
            "action": item.action,
            "action_label": ACTION_LABELS.get(item.action, item.action),
            "changes": list(item.changes or []),
            "changed_paths": len(item.changes or []),
            "paths_text": _paths_text(item.changes or []),
            "conflicts": list(item.conflicts or []),
            "result": item.result,
            "result_label": RESULT_LABELS.get(item.result, item.result),
            "result_message": item.result_message,
            "target_graph_id": item.target_graph_id,
        }
        for item, version_number, captured_at in rows
    ]


def set_item_choices(session: Session, *, backup_set_id: int) -> list[dict[str, Any]]:
    """A set's items for the draft's selection (id, name, type)."""
    rows = session.exec(
        select(BackupItem.id, BackupItem.display_name, BackupItem.policy_type)
        .where(BackupItem.backup_set_id == backup_set_id)
        .order_by(sa.func.lower(BackupItem.display_name), BackupItem.id)
    ).all()
    return [
        {"id": i, "display_name": n, "policy_type": t, "policy_type_label": policy_type_label(t)}
        for i, n, t in rows
    ]


def group_choices(session: Session, *, tenant_id: int) -> list[dict[str, str]]:
    """Existing groups (as last synced) a missing assignment group can be mapped to."""
    rows = session.exec(
        select(DirectoryGroup.graph_id, DirectoryGroup.display_name)
        .where(DirectoryGroup.tenant_id == tenant_id, DirectoryGroup.removed_at.is_(None))
        .order_by(sa.func.lower(DirectoryGroup.display_name))
        .limit(MAX_GROUP_CHOICES)
    ).all()
    return [{"value": g, "label": n or g} for g, n in rows]


def _paths_text(changes: list[dict[str, Any]], shown: int = 8) -> str:
    paths = [str(c.get("path", "")) for c in changes]
    more = len(paths) - shown
    return ", ".join(paths[:shown]) + (f" and {more} more" if more > 0 else "")
