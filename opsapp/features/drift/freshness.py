"""Are a baseline's findings up to date? They are stale when no generation of the baseline has
completed yet, or the newest one started before the newest policy sync completed or before the
baseline's items last changed. A generation that is queued or running is not stale: it is the
one to follow (so the Drift page opened by ten admins starts one run, not ten).

Read from the database only (the run table and the backup set): no Graph call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from opsapp.models import BackupSet, OperationRun
from opsapp.operations.catalog import get_type
from opsapp.operations.identity import identity_hash
from opsapp.operations.status import ACTIVE_STATUSES, RunOutcome, RunStatus

GENERATE = "drift.generate"
POLICY_SYNC = "policy.sync"
_R = OperationRun.__table__
_USABLE = (RunOutcome.succeeded.value, RunOutcome.partially_succeeded.value)
_ACTIVE = [s.value for s in ACTIVE_STATUSES]


@dataclass(frozen=True)
class Freshness:
    stale: bool
    reason: str  # why stale, for the notice; "" when fresh
    generated_at: datetime | None  # when the newest usable generation started
    active_run_id: int | None  # a generation queued or running now


def generation_inputs(baseline_id: int) -> dict:
    """The canonical inputs of the page's generation: the baseline, every supported type."""
    return get_type(GENERATE).identity.normalise({"baseline_id": baseline_id})


def freshness(session: Session, *, tenant_id: int, baseline: BackupSet) -> Freshness:
    digest = identity_hash(
        tenant_id=tenant_id, run_type=GENERATE, normalised_inputs=generation_inputs(baseline.id)
    )
    mine = sa.and_(
        _R.c.tenant_id == tenant_id, _R.c.type == GENERATE, _R.c.run_identity_hash == digest
    )
    active = session.execute(
        sa.select(_R.c.id).where(mine, _R.c.status.in_(_ACTIVE)).order_by(_R.c.id.desc()).limit(1)
    ).scalar()
    generated = session.execute(
        sa.select(sa.func.max(sa.func.coalesce(_R.c.started_at, _R.c.created_at))).where(
            mine, _R.c.status == RunStatus.completed.value, _R.c.outcome.in_(_USABLE)
        )
    ).scalar()
    synced = session.execute(
        sa.select(sa.func.max(_R.c.completed_at)).where(
            _R.c.tenant_id == tenant_id,
            _R.c.type == POLICY_SYNC,
            _R.c.status == RunStatus.completed.value,
            _R.c.outcome.in_(_USABLE),
        )
    ).scalar()
    if active is not None:
        return Freshness(False, "", generated, active)
    if generated is None:
        return Freshness(True, "No drift has been generated for this baseline yet.", None, None)
    if synced is not None and synced > generated:
        return Freshness(True, "Policies were synced after the findings were generated.",
                         generated, None)  # fmt: skip
    if baseline.updated_at > generated:
        return Freshness(True, "The baseline changed after the findings were generated.",
                         generated, None)  # fmt: skip
    return Freshness(False, "", generated, None)
