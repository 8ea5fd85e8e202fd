"""operation_runs rows for the planned runs, built the way the primitive builds them (normalised
identity inputs and their hash, catalog count keys, COMPLETED status) and marked
`context.demo_history`; then inserted in bulk, retries after the runs they retry."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsapp.graph.demo.tenants import DemoTenant
from opsapp.models import OperationRun
from opsapp.operations.catalog import OPERATION_TYPES
from opsapp.operations.identity import identity_hash
from opsapp.operations.status import RunStatus

from .model import PlannedRun, TenantHistory, TenantState
from .outcomes import counts_and_failures
from .timeline import run_timeline

_RUNS = OperationRun.__table__
# A retry's identity names the retried run's id, known only after the insert (_point_retry_at).
_RETRIED_RUN_PLACEHOLDER = 1


def build_rows(
    rng: random.Random, runs: list[PlannedRun], demo: DemoTenant, tenant_id: int, now: datetime
) -> None:
    """Set `row` on each run, oldest first, so counts follow what earlier runs left behind."""
    state = TenantState(demo)
    for run in runs:
        run.row = _build_row(rng, run, tenant_id, state, now)


def _build_row(
    rng: random.Random, run: PlannedRun, tenant_id: int, state: TenantState, now: datetime
) -> dict[str, Any]:
    if run.retry_of is not None:
        run.inputs = {**run.inputs, "retried_run_id": _RETRIED_RUN_PLACEHOLDER}
    normalised = OPERATION_TYPES[run.type].identity.normalise(run.inputs)
    counts, failures, fatal = counts_and_failures(rng, run, state)
    timeline = run_timeline(rng, run, state, fatal, now)
    return {
        "tenant_id": tenant_id,
        "user_id": run.user_id,
        "initiator_name": run.initiator_name,
        "type": run.type,
        "status": RunStatus.completed.value,
        "outcome": run.outcome.value,
        "run_identity_hash": identity_hash(
            tenant_id=tenant_id, run_type=run.type, normalised_inputs=normalised
        ),
        "summary_counts": counts,
        "failures": failures,
        "context": {"inputs": normalised, "demo_history": True},
        "created_at": run.created_at,
        "started_at": timeline.started_at,
        "completed_at": timeline.completed_at,
        "updated_at": timeline.completed_at,
        "heartbeat_at": timeline.heartbeat_at,
        "attempts": timeline.attempts,
    }


def insert_runs(conn: Connection, planned: list[TenantHistory]) -> int:
    """One executemany per tenant (plus a tiny one for its retries, which name a run id); sets
    each row's "id". Returns how many runs were inserted."""
    created = 0
    for tenant, runs in planned:
        first = [r for r in runs if r.retry_of is None]
        retries = [r for r in runs if r.retry_of is not None]
        _insert(conn, first, [r.row for r in first])
        if retries:
            for retry in retries:
                _point_retry_at(retry, tenant.id)
            _insert(conn, retries, [{k: v for k, v in r.row.items() if k != "id"} for r in retries])
        created += len(runs)
    return created


def _insert(conn: Connection, runs: list[PlannedRun], rows: list[dict[str, Any]]) -> None:
    insert = sa.insert(_RUNS).returning(_RUNS.c.id, sort_by_parameter_order=True)
    ids = conn.execute(insert, rows).scalars().all()
    for run, run_id in zip(runs, ids, strict=True):
        run.row["id"] = run_id


def _point_retry_at(retry: PlannedRun, tenant_id: int) -> None:
    """Replace the placeholder with the retried run's id, and rehash the identity."""
    assert retry.retry_of is not None
    inputs = {**retry.row["context"]["inputs"], "retried_run_id": retry.retry_of.row["id"]}
    normalised = OPERATION_TYPES[retry.type].identity.normalise(inputs)
    retry.row["context"] = {"inputs": normalised, "demo_history": True}
    retry.row["run_identity_hash"] = identity_hash(
        tenant_id=tenant_id, run_type=retry.type, normalised_inputs=normalised
    )
