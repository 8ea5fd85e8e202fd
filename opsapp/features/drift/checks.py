"""The drift.generate precheck (see OperationType.precheck): a baseline the tenant does not have
is refused before a run exists ("Baseline backup set not found")."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from opsapp.features.drift.queries import get_baseline
from opsapp.operations.access import NotFound


def check_baseline(session: Session, tenant_id: int, inputs: dict[str, Any]) -> None:
    if get_baseline(session, tenant_id=tenant_id, baseline_id=inputs["baseline_id"]) is None:
        raise NotFound("Baseline backup set not found")
