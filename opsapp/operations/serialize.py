"""A run as plain JSON-able data (CLI output, UI state vars): never an ORM object."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opsapp.models import OperationRun
from opsapp.operations.catalog import label_for
from opsapp.operations.links import absolute, view_run_path
from opsapp.operations.status import RunOutcome, RunStatus


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def run_to_dict(run: OperationRun, *, tenant_slug: str) -> dict[str, Any]:
    duration = None
    if run.started_at:
        end = run.completed_at or run.updated_at
        duration = round(max((end - run.started_at).total_seconds(), 0.0), 3)
    return {
        "id": run.id,
        "tenant": tenant_slug,
        "type": run.type,
        "type_label": label_for(run.type),
        "status": run.status,
        "status_label": RunStatus(run.status).label,
        "outcome": run.outcome,
        "outcome_label": RunOutcome(run.outcome).label,
        "initiator_name": run.initiator_name,
        "run_identity_hash": run.run_identity_hash,
        "summary_counts": dict(run.summary_counts or {}),
        "failures": list(run.failures or []),
        "context": dict(run.context or {}),
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "completed_at": _iso(run.completed_at),
        "duration_seconds": duration,
        "attempts": run.attempts,
        "view_url": absolute(view_run_path(tenant_slug, run.id)),
    }
