"""The backup objects the demo history points at: per demo tenant, the nightly schedule whose
runs the history shows (enabled for the small contoso tenant only, so a local demo does not
capture 50,000 woodgrove policies every night) and two backup sets (the first is also the drift
baseline). Found by name when they exist, so seeding stays idempotent."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from opsapp.features.backups.checks import SCHEDULE_RUN_TYPES
from opsapp.features.backups.schedules import ScheduleInput, create_schedule
from opsapp.features.backups.sets import create_backup_set
from opsapp.models import BackupSchedule, BackupSet, OperationRun

from .inputs import TenantIds

SCHEDULE_NAME = "Nightly policy backup"
SCHEDULE_TIME = "02:00"  # UTC, the time the history's scheduled runs carry
SET_NAMES = ("Baseline", "Before the Intune cleanup")
ENABLED_FOR = ("contoso",)


def ensure_demo_backups(conn: Connection, *, tenant_id: int, slug: str) -> TenantIds:
    with Session(bind=conn) as session:
        schedule = session.exec(
            select(BackupSchedule).where(
                BackupSchedule.tenant_id == tenant_id, BackupSchedule.name == SCHEDULE_NAME
            )
        ).first() or create_schedule(
            session,
            tenant_id=tenant_id,
            data=ScheduleInput(
                name=SCHEDULE_NAME,
                time_of_day=SCHEDULE_TIME,
                timezone="UTC",
                policy_types=["deviceCompliancePolicy", "deviceConfiguration"],
                keep_last=7,
                enabled=slug in ENABLED_FOR,
            ),
        )
        sets = []
        for name in SET_NAMES:
            existing = session.exec(
                select(BackupSet).where(BackupSet.tenant_id == tenant_id, BackupSet.name == name)
            ).first()
            sets.append(existing or create_backup_set(session, tenant_id=tenant_id, name=name))
        session.flush()
        return TenantIds(
            base=tenant_id * 10,
            schedule=schedule.id,
            backup_sets=tuple(s.id for s in sets),
            baseline=sets[0].id,
        )


def link_last_runs(conn: Connection, ids: TenantIds, *, tenant_id: int) -> None:
    """Point the demo schedule at its newest run, as the scheduler and the run bodies do."""
    runs = OperationRun.__table__
    newest = conn.execute(
        sa.select(runs.c.id)
        .where(runs.c.tenant_id == tenant_id, runs.c.type.in_(SCHEDULE_RUN_TYPES))
        .order_by(runs.c.created_at.desc())
        .limit(1)
    ).scalar()
    if newest is not None:
        table = BackupSchedule.__table__
        conn.execute(sa.update(table).where(table.c.id == ids.schedule).values(last_run_id=newest))
