"""Prechecks of the backup run types (see OperationType.precheck): refuse a start that names a
set or schedule the tenant does not have, or retries a run that did not fail — before a run
exists."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from opsapp.features.backups.schedules import get_schedule
from opsapp.features.backups.sets import get_backup_set
from opsapp.models import OperationRun
from opsapp.operations.identity import InvalidInputs
from opsapp.operations.status import RunOutcome, RunStatus

SET_RUN_TYPES = ("backup_set.add_policies", "backup_set.remove_policies")
SCHEDULE_RUN_TYPES = (
    "backup_schedule.run_now",
    "backup_schedule.retry",
    "backup_schedule.scheduled",
)
RETRYABLE = (RunOutcome.failed.value, RunOutcome.partially_succeeded.value)


def check_backup_set(session: Session, tenant_id: int, inputs: dict[str, Any]) -> None:
    get_backup_set(session, tenant_id=tenant_id, set_id=inputs["backup_set_id"])


def check_schedule(session: Session, tenant_id: int, inputs: dict[str, Any]) -> None:
    get_schedule(session, tenant_id=tenant_id, schedule_id=inputs["schedule_id"])


def is_retryable(run: OperationRun | None, *, tenant_id: int, schedule_id: int) -> bool:
    """A completed failed / partially succeeded run of this schedule."""
    return (
        run is not None
        and run.tenant_id == tenant_id
        and run.type in SCHEDULE_RUN_TYPES
        and ((run.context or {}).get("inputs") or {}).get("schedule_id") == schedule_id
        and run.status == RunStatus.completed.value
        and run.outcome in RETRYABLE
    )


def check_retry(session: Session, tenant_id: int, inputs: dict[str, Any]) -> None:
    check_schedule(session, tenant_id, inputs)
    run = session.get(OperationRun, inputs["retried_run_id"])
    if not is_retryable(run, tenant_id=tenant_id, schedule_id=inputs["schedule_id"]):
        raise InvalidInputs(
            "Retry is offered only for a failed or partially succeeded run of this schedule."
        )
