"""Read models of the backup pages and commands: sets, a set's items, schedules. Database only."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from opsapp.features.backups.checks import RETRYABLE, SET_RUN_TYPES
from opsapp.features.backups.slots import WEEKDAY_TOKENS
from opsapp.features.inventory.queries import policy_type_label, policy_type_label_sql
from opsapp.models import BackupItem, BackupSchedule, BackupSet, OperationRun, Policy, PolicyVersion
from opsapp.models.operations import ACTIVE_PREDICATE
from opsapp.models.types import iso
from opsapp.operations.status import RunStatus
from opsapp.paging import Page, contains_text, ordered_by, paginate

SET_SORT_KEYS = ("name", "item_count", "created_at", "updated_at")
ITEM_SORT_KEYS = ("display_name", "policy_type", "captured_at", "added_at")


def _item_count():
    return (
        select(sa.func.count())
        .select_from(BackupItem)
        .where(BackupItem.backup_set_id == BackupSet.id)
        .correlate(BackupSet)
        .scalar_subquery()
        .label("item_count")
    )


def _set_row(result: Any) -> dict:
    backup_set, count, schedule_name = result
    return {
        "id": backup_set.id,
        "name": backup_set.name,
        "item_count": int(count or 0),
        "created_at": iso(backup_set.created_at),
        "updated_at": iso(backup_set.updated_at),
        "schedule_id": backup_set.schedule_id,
        "schedule_name": schedule_name or "",
    }


def _sets_query(tenant_id: int):
    return (
        select(BackupSet, _item_count(), BackupSchedule.name)
        .outerjoin(BackupSchedule, BackupSchedule.id == BackupSet.schedule_id)
        .where(BackupSet.tenant_id == tenant_id)
    )


def list_backup_sets(
    session: Session,
    *,
    tenant_id: int,
    search: str = "",
    sort: str = "created_at",
    descending: bool = True,
    page: int = 1,
    page_size: int = 25,
) -> Page:
    """The tenant's sets (newest first by default) with their item counts."""
    query = _sets_query(tenant_id)
    matches = contains_text(BackupSet.name, search)
    if matches is not None:
        query = query.where(matches)
    sort = sort if sort in SET_SORT_KEYS else "created_at"
    column = _item_count() if sort == "item_count" else getattr(BackupSet, sort)
    query = query.order_by(
        *ordered_by(column, BackupSet.id, descending=descending, text=sort == "name")
    )
    return paginate(session, query, page=page, page_size=page_size, row=_set_row)


def get_backup_set_detail(session: Session, *, tenant_id: int, set_id: int) -> dict | None:
    """One set (None for an unknown id and for another tenant's set alike)."""
    result = session.exec(_sets_query(tenant_id).where(BackupSet.id == set_id)).first()
    return _set_row(result) if result is not None else None


def _item_row(result: Any) -> dict:
    item, version_number, captured_at, policy_removed_at = result
    return {
        "id": item.id,
        "policy_id": item.policy_id,
        "display_name": item.display_name,
        "policy_type": item.policy_type,
        "policy_type_label": policy_type_label(item.policy_type),
        "policy_version_id": item.policy_version_id,
        "version_number": version_number,
        "captured_at": iso(captured_at),
        "include_assignments": item.include_assignments,
        "include_scope_tags": item.include_scope_tags,
        "added_at": iso(item.added_at),
        "policy_removed": policy_removed_at is not None,
    }


def list_backup_items(
    session: Session,
    *,
    tenant_id: int,
    set_id: int,
    search: str = "",
    policy_type: str | None = None,
    sort: str = "display_name",
    descending: bool = False,
    page: int = 1,
    page_size: int = 25,
) -> Page:
    i, v = BackupItem, PolicyVersion
    query = (
        select(i, v.version_number, v.captured_at, Policy.removed_at)
        .join(v, v.id == i.policy_version_id)
        .join(Policy, Policy.id == i.policy_id)
        .where(i.tenant_id == tenant_id, i.backup_set_id == set_id)
    )
    if policy_type:
        query = query.where(i.policy_type == policy_type)
    matches = contains_text(i.display_name, search)
    if matches is not None:
        query = query.where(matches)
    sort = sort if sort in ITEM_SORT_KEYS else "display_name"
    if sort == "policy_type":
        column = policy_type_label_sql(i.policy_type)
    elif sort == "captured_at":
        column = v.captured_at
    else:
        column = getattr(i, sort)
    text = sort in ("display_name", "policy_type")
    query = query.order_by(*ordered_by(column, i.id, descending=descending, text=text))
    return paginate(session, query, page=page, page_size=page_size, row=_item_row)


def set_policy_ids(session: Session, *, set_id: int) -> set[int]:
    """Policies already in a set (the picker marks them)."""
    query = select(BackupItem.policy_id).where(BackupItem.backup_set_id == set_id)
    return set(session.exec(query).all())


def _run_facts(run: OperationRun | None) -> dict | None:
    if run is None:
        return None
    return {
        "id": run.id,
        "type": run.type,
        "status": run.status,
        "outcome": run.outcome,
        "created_at": iso(run.created_at),
        "completed_at": iso(run.completed_at),
        "retryable": run.status == RunStatus.completed and run.outcome in RETRYABLE,
    }


def _schedules_query(tenant_id: int):
    """Schedules with their set count and last run: one query for a whole page."""
    set_count = (
        select(sa.func.count())
        .select_from(BackupSet)
        .where(BackupSet.schedule_id == BackupSchedule.id)
        .correlate(BackupSchedule)
        .scalar_subquery()
        .label("set_count")
    )
    return (
        select(BackupSchedule, set_count, OperationRun)
        .outerjoin(OperationRun, OperationRun.id == BackupSchedule.last_run_id)
        .where(BackupSchedule.tenant_id == tenant_id)
    )


def _schedule_row(result: Any) -> dict:
    schedule, set_count, last_run = result
    next_local = (
        schedule.next_run_at.astimezone(ZoneInfo(schedule.timezone))
        if schedule.next_run_at
        else None
    )
    return {
        "id": schedule.id,
        "name": schedule.name,
        "frequency": schedule.frequency,
        "weekdays": [WEEKDAY_TOKENS[d] for d in schedule.weekdays or []],
        "weekday_labels": [WEEKDAY_TOKENS[d].capitalize() for d in schedule.weekdays or []],
        "time_of_day": schedule.time_of_day,
        "timezone": schedule.timezone,
        "policy_types": list(schedule.policy_types or []),
        "policy_type_labels": [policy_type_label(t) for t in schedule.policy_types or []],
        "keep_last": schedule.keep_last,
        "enabled": schedule.enabled,
        "next_run_at": iso(schedule.next_run_at),
        # The slot in the schedule's own zone, e.g. "2026-11-30 02:00 CET".
        "next_run_local": f"{next_local:%Y-%m-%d %H:%M %Z}" if next_local else "",
        "last_scheduled_for": iso(schedule.last_scheduled_for),
        "last_run": _run_facts(last_run),
        "set_count": int(set_count or 0),
        "created_at": iso(schedule.created_at),
        "updated_at": iso(schedule.updated_at),
    }


def list_schedules(session: Session, *, tenant_id: int, page: int = 1, page_size: int = 25) -> Page:
    s = BackupSchedule
    query = _schedules_query(tenant_id).order_by(
        *ordered_by(s.name, s.id, descending=False, text=True)
    )
    return paginate(session, query, page=page, page_size=page_size, row=_schedule_row)


def get_schedule_detail(session: Session, *, tenant_id: int, schedule_id: int) -> dict | None:
    """One schedule (None for an unknown id and for another tenant's schedule alike)."""
    query = _schedules_query(tenant_id).where(BackupSchedule.id == schedule_id)
    result = session.exec(query).first()
    return _schedule_row(result) if result is not None else None


def schedule_row(session: Session, schedule: BackupSchedule) -> dict:
    """The read model of a schedule just written in this session (the CLI prints it)."""
    session.flush()
    return get_schedule_detail(session, tenant_id=schedule.tenant_id, schedule_id=schedule.id)


def active_set_run(session: Session, *, tenant_id: int, set_id: int) -> tuple[int, str] | None:
    """The newest queued or running add/remove run of this set: (run id, type), or None.

    Active runs are few (the partial index keeps one per identity), so the set id is matched in
    Python rather than with a dialect-specific JSON path."""
    r = OperationRun
    query = (
        select(r.id, r.type, r.context)
        .where(r.tenant_id == tenant_id, r.type.in_(SET_RUN_TYPES), ACTIVE_PREDICATE)
        .order_by(r.created_at.desc(), r.id.desc())
        .limit(200)
    )
    for run_id, run_type, context in session.exec(query):
        if ((context or {}).get("inputs") or {}).get("backup_set_id") == set_id:
            return run_id, run_type
    return None
