"""The drift.generate precheck (see OperationType.precheck): a baseline the tenant does not have
is refused before a run exists ("Baseline backup set not found")."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from opsapp.models import BackupSet
from opsapp.operations.access import NotFound


def check_baseline(session: Session, tenant_id: int, inputs: dict[str, Any]) -> None:
    baseline = session.get(BackupSet, inputs["baseline_id"])
    if baseline is None or baseline.tenant_id != tenant_id:
        raise NotFound("Baseline backup set not found")
