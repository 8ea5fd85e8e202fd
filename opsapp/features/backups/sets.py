"""Backup sets: create, rename, delete. Items are added and removed only by runs
(backup_set.add_policies / backup_set.remove_policies)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from opsapp.features.backups.errors import BackupInputError
from opsapp.features.backups.names import clean_name
from opsapp.models import BackupItem, BackupSet
from opsapp.models.backups import NAME_MAX
from opsapp.models.types import utcnow
from opsapp.operations.access import NotFound


def get_backup_set(session: Session, *, tenant_id: int, set_id: int) -> BackupSet:
    """The tenant's set, or NotFound (another tenant's set looks like a missing one)."""
    backup_set = session.get(BackupSet, set_id)
    if backup_set is None or backup_set.tenant_id != tenant_id:
        raise NotFound("Backup set not found")
    return backup_set


def _name_taken(session: Session, tenant_id: int, name: str, *, except_id: int | None) -> bool:
    query = select(BackupSet.id).where(
        BackupSet.tenant_id == tenant_id, sa.func.lower(BackupSet.name) == name.lower()
    )
    if except_id is not None:
        query = query.where(BackupSet.id != except_id)
    return session.exec(query).first() is not None


def free_set_name(session: Session, *, tenant_id: int, base: str) -> str:
    """`base`, or `base (2)`, `base (3)` … — the first name no set of the tenant uses."""
    base = base[: NAME_MAX - 8]
    name, n = base, 1
    while _name_taken(session, tenant_id, name, except_id=None):
        n += 1
        name = f"{base} ({n})"
    return name


def create_backup_set(
    session: Session,
    *,
    tenant_id: int,
    name: str,
    user_id: int | None = None,
    schedule_id: int | None = None,
    writer_run_id: int | None = None,
    now: datetime | None = None,
) -> BackupSet:
    name = clean_name(name)
    if _name_taken(session, tenant_id, name, except_id=None):
        raise BackupInputError(f'A backup set named "{name}" already exists.', field="name")
    now = now or utcnow()
    backup_set = BackupSet(
        tenant_id=tenant_id,
        name=name,
        schedule_id=schedule_id,
        writer_run_id=writer_run_id,
        created_by_user_id=user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(backup_set)
    try:
        session.flush()
    except sa.exc.IntegrityError:  # a concurrent create took the name between check and insert
        session.rollback()
        raise BackupInputError(
            f'A backup set named "{name}" already exists.', field="name"
        ) from None
    return backup_set


def rename_backup_set(session: Session, *, tenant_id: int, set_id: int, name: str) -> BackupSet:
    backup_set = get_backup_set(session, tenant_id=tenant_id, set_id=set_id)
    name = clean_name(name)
    if _name_taken(session, tenant_id, name, except_id=set_id):
        raise BackupInputError(f'A backup set named "{name}" already exists.', field="name")
    backup_set.name, backup_set.updated_at = name, utcnow()
    session.add(backup_set)
    session.flush()
    return backup_set


def item_count(session: Session, set_id: int) -> int:
    query = (
        sa.select(sa.func.count()).select_from(BackupItem).where(BackupItem.backup_set_id == set_id)
    )
    return int(session.execute(query).scalar() or 0)


def delete_backup_set(session: Session, *, tenant_id: int, set_id: int) -> dict:
    """Delete a set and its items (the captured versions stay: policies keep their history).
    Returns what went: {"name", "items"}. A run still queued for the set fails with
    backup_set.not_found when it starts."""
    backup_set = get_backup_set(session, tenant_id=tenant_id, set_id=set_id)
    gone = {"name": backup_set.name, "items": item_count(session, set_id)}
    session.execute(sa.delete(BackupItem).where(BackupItem.backup_set_id == set_id))
    session.delete(backup_set)
    session.flush()
    return gone
