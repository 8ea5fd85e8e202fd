"""The restore records the demo history's `restore.execute` runs belong to: one completed restore
per run (from the tenant's baseline set, its outcome the run's), and the run pointed at it, so a
demo run's "Restore run" link opens a restore instead of a 404."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsapp.models import OperationRun, RestoreRun, RestoreStatus
from opsapp.operations.identity import identity_hash

from .inputs import TenantIds

_RUNS = OperationRun.__table__
_RESTORES = RestoreRun.__table__


def _plan(counts) -> dict[str, int]:
    """The preview counts the demo run's own counts imply."""
    counts = json.loads(counts) if isinstance(counts, str) else dict(counts or {})
    return {
        "create": int(counts.get("created", 0)),
        "update": int(counts.get("updated", 0)) + int(counts.get("failed", 0)),
        "unchanged": int(counts.get("unchanged", 0)),
        "skip": int(counts.get("skipped", 0)),
        "conflicts": 0,
    }


def link_demo_restores(conn: Connection, ids: TenantIds, *, tenant_id: int) -> int:
    """Create the restores of the tenant's demo restore runs; returns how many."""
    runs = (
        conn.execute(
            sa.select(_RUNS)
            .where(_RUNS.c.tenant_id == tenant_id, _RUNS.c.type == "restore.execute")
            .order_by(_RUNS.c.id)
        )
        .mappings()
        .all()
    )
    baseline_name = conn.execute(
        sa.text("SELECT name FROM backup_sets WHERE id = :i"), {"i": ids.baseline}
    ).scalar()
    for run in runs:
        restore_id = conn.execute(
            sa.insert(_RESTORES)
            .values(
                tenant_id=tenant_id,
                backup_set_id=ids.baseline,
                backup_set_name=baseline_name or "",
                status=RestoreStatus.completed.value,
                outcome=str(run["outcome"]),
                restore_assignments=True,
                restore_scope_tags=True,
                create_missing=True,
                group_map={},
                preview_counts=_plan(run["summary_counts"]),
                operation_run_id=run["id"],
                created_by_user_id=run["user_id"],
                created_by_name=run["initiator_name"],
                created_at=run["created_at"],
                updated_at=run["completed_at"] or run["created_at"],
                previewed_at=run["created_at"],
                completed_at=run["completed_at"],
            )
            .returning(_RESTORES.c.id)
        ).scalar_one()
        context = run["context"]
        context = dict(json.loads(context) if isinstance(context, str) else context or {})
        inputs = {"restore_run_id": restore_id}
        context["inputs"] = inputs
        conn.execute(
            sa.update(_RUNS)
            .where(_RUNS.c.id == run["id"])
            .values(
                context=context,
                run_identity_hash=identity_hash(
                    tenant_id=tenant_id, run_type="restore.execute", normalised_inputs=inputs
                ),
            )
        )
    return len(runs)
