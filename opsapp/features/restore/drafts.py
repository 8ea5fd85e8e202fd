"""Restore drafts: create one from a backup set (all items, or the chosen ones), change the
selection and options while it is a draft, map missing assignment groups, discard it.

Every function takes the tenant id and answers NotFound for another tenant's restore or set,
so a crafted id learns nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from opsapp.features.restore.errors import RestoreInputError, RestoreStateError
from opsapp.models import (
    BackupItem,
    BackupSet,
    OperationRun,
    Policy,
    RestoreItem,
    RestoreRun,
    RestoreStatus,
)
from opsapp.models.types import utcnow
from opsapp.operations import lifecycle
from opsapp.operations.access import NotFound
from opsapp.operations.status import RunOutcome, RunStatus

MAX_ITEMS = 5000


@dataclass(frozen=True)
class Options:
    restore_assignments: bool = True
    restore_scope_tags: bool = True
    create_missing: bool = True  # False: update only


def get_restore(session: Session, *, tenant_id: int, restore_id: int) -> RestoreRun:
    restore = session.get(RestoreRun, restore_id)
    if restore is None or restore.tenant_id != tenant_id:
        raise NotFound("Restore not found")
    return restore


def _set_items(session: Session, set_id: int, item_ids: list[int] | None) -> list[Any]:
    query = (
        select(BackupItem, Policy.graph_id)
        .join(Policy, Policy.id == BackupItem.policy_id)
        .where(BackupItem.backup_set_id == set_id)
        .order_by(BackupItem.id)
    )
    rows = list(session.exec(query).all())
    if item_ids is None:
        chosen = rows
    else:
        wanted = _clean_ids(item_ids)
        known = {item.id for item, _ in rows}
        stray = [i for i in wanted if i not in known]
        if stray:
            raise RestoreInputError(f"Item {stray[0]} is not in this backup set.", field="items")
        chosen = [(item, gid) for item, gid in rows if item.id in set(wanted)]
    if not chosen:
        raise RestoreInputError("No items selected", field="items")
    return chosen


def _clean_ids(raw: Any) -> list[int]:
    if not isinstance(raw, list | tuple | set):
        raise RestoreInputError("Items must be a list of ids.", field="items")
    ids = []
    for value in raw:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise RestoreInputError("Item ids must be positive whole numbers.", field="items")
        ids.append(value)
    if len(set(ids)) > MAX_ITEMS:
        raise RestoreInputError(f"At most {MAX_ITEMS:,} items per restore.", field="items")
    return sorted(set(ids))


def _add_items(session: Session, restore: RestoreRun, chosen: list[Any]) -> None:
    """One multi-row INSERT (a draft of 500 items is one statement, not 500 ORM objects)."""
    rows = [
        RestoreItem(
            restore_run_id=restore.id,
            tenant_id=restore.tenant_id,
            backup_item_id=item.id,
            policy_id=item.policy_id,
            policy_version_id=item.policy_version_id,
            policy_type=item.policy_type,
            graph_id=graph_id,
            display_name=item.display_name,
        ).model_dump(exclude={"id"})
        for item, graph_id in chosen
    ]
    session.execute(sa.insert(RestoreItem.__table__), rows)


def create_draft(
    session: Session,
    *,
    tenant_id: int,
    backup_set_id: int,
    user_id: int | None,
    user_name: str,
    item_ids: list[int] | None = None,
    options: Options = Options(),
) -> RestoreRun:
    """A draft restore of the set's items (all of them when `item_ids` is None)."""
    backup_set = session.get(BackupSet, backup_set_id)
    if backup_set is None or backup_set.tenant_id != tenant_id:
        raise NotFound("Backup set not found")
    chosen = _set_items(session, backup_set.id, item_ids)
    restore = RestoreRun(
        tenant_id=tenant_id,
        backup_set_id=backup_set.id,
        backup_set_name=backup_set.name,
        restore_assignments=options.restore_assignments,
        restore_scope_tags=options.restore_scope_tags,
        create_missing=options.create_missing,
        created_by_user_id=user_id,
        created_by_name=user_name[:200],
    )
    session.add(restore)
    session.flush()
    _add_items(session, restore, chosen)
    session.flush()
    return restore


def _draft(session: Session, tenant_id: int, restore_id: int) -> RestoreRun:
    restore = get_restore(session, tenant_id=tenant_id, restore_id=restore_id)
    if restore.status != RestoreStatus.draft.value:
        raise RestoreStateError(
            "This restore was previewed: its items and options are fixed. Discard it and start "
            "a new restore to change them."
        )
    return restore


def set_selection(
    session: Session, *, tenant_id: int, restore_id: int, item_ids: list[int]
) -> RestoreRun:
    """Replace a draft's items with these backup items of its set."""
    restore = _draft(session, tenant_id, restore_id)
    if restore.backup_set_id is None:
        raise RestoreStateError("The backup set of this restore was deleted.")
    chosen = _set_items(session, restore.backup_set_id, item_ids)
    session.execute(sa.delete(RestoreItem).where(RestoreItem.restore_run_id == restore.id))
    _add_items(session, restore, chosen)
    restore.updated_at = utcnow()
    session.add(restore)
    session.flush()
    return restore


def set_options(
    session: Session, *, tenant_id: int, restore_id: int, options: Options
) -> RestoreRun:
    restore = _draft(session, tenant_id, restore_id)
    restore.restore_assignments = bool(options.restore_assignments)
    restore.restore_scope_tags = bool(options.restore_scope_tags)
    restore.create_missing = bool(options.create_missing)
    restore.updated_at = utcnow()
    session.add(restore)
    session.flush()
    return restore


def map_group(
    session: Session, *, tenant_id: int, restore_id: int, group_id: str, target: str | None
) -> RestoreRun:
    """Restore assignments of a missing group to `target` (an existing group's id), or skip
    them (None). Allowed until the restore runs."""
    restore = get_restore(session, tenant_id=tenant_id, restore_id=restore_id)
    if restore.status not in (RestoreStatus.draft.value, RestoreStatus.previewed.value):
        raise RestoreStateError("This restore already ran; its group mapping is fixed.")
    if not isinstance(group_id, str) or not group_id.strip() or len(group_id) > 128:
        raise RestoreInputError("Unknown group.", field="group")
    if target is not None and (not isinstance(target, str) or not 0 < len(target) <= 128):
        raise RestoreInputError("Pick an existing group or skip.", field="group")
    restore.group_map = {**(restore.group_map or {}), group_id: target}
    restore.updated_at = utcnow()
    session.add(restore)
    session.flush()
    return restore


def discard(session: Session, *, tenant_id: int, restore_id: int) -> str:
    """A draft is deleted; a previewed restore ends as cancelled with its held run (so it leaves
    Monitoring's active list). A running or completed restore cannot be discarded."""
    restore = get_restore(session, tenant_id=tenant_id, restore_id=restore_id)
    if restore.status == RestoreStatus.draft.value:
        session.delete(restore)
        session.flush()
        return "deleted"
    if restore.status != RestoreStatus.previewed.value:
        raise RestoreStateError("Only a draft or a previewed restore can be discarded.")
    if restore.operation_run_id is not None:
        run = session.get(OperationRun, restore.operation_run_id)
        if run is not None and run.dispatched_at is not None:
            raise RestoreStateError("This restore is being executed; it cannot be discarded.")
        _cancel_held_run(session, restore.operation_run_id)
    restore.status, restore.outcome = RestoreStatus.completed.value, RunOutcome.cancelled.value
    restore.completed_at = restore.updated_at = utcnow()
    session.add(restore)
    session.flush()
    return "cancelled"


def _cancel_held_run(session: Session, run_id: int) -> None:
    """Complete a held, never dispatched run as cancelled (through the guarded transition)."""
    runs = OperationRun.__table__
    session.flush()
    lifecycle.complete_where(
        session.connection(),
        runs.c.id == run_id,
        runs.c.dispatched_at.is_(None),
        outcome=RunOutcome.cancelled,
        summary_counts={},
        now=utcnow(),
        only_from=frozenset({RunStatus.queued}),
    )
