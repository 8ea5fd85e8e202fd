"""The demo owner's bell: terminal notifications for their newest seeded runs, built by the
same build_completed the live notifier uses; all read but the newest two, so the demo opens on
a couple of unread ones."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsapp.models import Notification, OperationRun, Tenant, User
from opsapp.operations.notifications import build_completed

from .model import PlannedRun, TenantHistory

OWNER_EMAIL = "owner@opsapp.demo"
UNREAD_NOTIFICATIONS = 2
NOTIFIED_RUNS = 6

_NOTIFICATIONS = Notification.__table__


def notify_owner(conn: Connection, planned: list[TenantHistory], now: datetime) -> None:
    """Terminal notifications for the owner's newest runs; all read but the newest two."""
    owner_id = conn.execute(sa.select(User.id).where(User.email == OWNER_EMAIL)).scalar()
    if owner_id is None:
        return
    mine = [(run, tenant) for tenant, runs in planned for run in runs if run.user_id == owner_id]
    mine.sort(key=lambda pair: pair[0].row["completed_at"], reverse=True)
    rows = [
        _notification_row(run, tenant, index, now)
        for index, (run, tenant) in enumerate(mine[:NOTIFIED_RUNS])
    ]
    if rows:
        conn.execute(sa.insert(_NOTIFICATIONS), rows)


def _notification_row(run: PlannedRun, tenant: Any, index: int, now: datetime) -> dict[str, Any]:
    """The notification of the owner's `index`-th newest run, sent when it completed and (past
    the unread ones) read a little later, older ones later still."""
    record = OperationRun(**run.row)
    note = build_completed(record, Tenant(id=tenant.id, slug=tenant.slug, name=tenant.name))
    created_at = run.row["completed_at"]
    read_at = None
    if index >= UNREAD_NOTIFICATIONS:
        read_at = min(created_at + timedelta(minutes=5 + 7 * index), now)
    return {
        "user_id": note.user_id,
        "tenant_id": note.tenant_id,
        "operation_run_id": note.operation_run_id,
        "level": note.level,
        "title": note.title,
        "body": note.body,
        "link": note.link,
        "created_at": created_at,
        "read_at": read_at,
    }
