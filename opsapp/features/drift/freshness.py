"""Are a baseline's findings up to date? They are stale when no generation of the baseline has
completed yet, or the newest one started before the newest policy sync completed or before the
baseline's items last changed. A generation that is queued or running is not stale: it is the
one to follow (so the Drift page opened by ten admins starts one run, not ten).

The page's generation covers the baseline's scope: the policy types its schedule captures, or
the types of the policies in it. A set of compliance policies does not report every settings
catalog policy of the tenant as "added". An empty baseline has no scope: nothing to generate.

Read from the database only (the run table and the backup set): no Graph call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from opsapp.models import BackupItem, BackupSchedule, BackupSet, OperationRun
from opsapp.operations.catalog import get_type
from opsapp.operations.identity import identity_hash
from opsapp.operations.status import ACTIVE_STATUSES, RunOutcome, RunStatus
from opsapp.policy_types import SUPPORTED_POLICY_TYPE_KEYS

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
    inputs: dict | None = None  # the page's generation inputs; None: an empty baseline


def baseline_scope(session: Session, baseline: BackupSet) -> list[str]:
    """The policy types the baseline covers (sorted; supported types only)."""
    types: set[str] = set()
    if baseline.schedule_id is not None:
        schedule = session.get(BackupSchedule, baseline.schedule_id)
        types = set(schedule.policy_types or []) if schedule is not None else set()
    if not types:
        types = set(
            session.execute(
                sa.select(BackupItem.policy_type)
                .where(BackupItem.backup_set_id == baseline.id)
                .distinct()
            ).scalars()
        )
    return sorted(types & set(SUPPORTED_POLICY_TYPE_KEYS))


def generation_inputs(session: Session, baseline: BackupSet) -> dict | None:
    """The canonical inputs of the page's generation, or None for an empty baseline."""
    scope = baseline_scope(session, baseline)
    if not scope:
        return None
    return get_type(GENERATE).identity.normalise(
        {"baseline_id": baseline.id, "policy_types": scope}
    )


def freshness(session: Session, *, tenant_id: int, baseline: BackupSet) -> Freshness:
    inputs = generation_inputs(session, baseline)
    if inputs is None:
        return Freshness(False, "", None, None, None)
    digest = identity_hash(tenant_id=tenant_id, run_type=GENERATE, normalised_inputs=inputs)
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
        return Freshness(False, "", generated, active, inputs)
    if generated is None:
        reason = "No drift has been generated for this baseline yet."
    elif synced is not None and synced > generated:
        reason = "Policies were synced after the findings were generated."
    elif baseline.updated_at > generated:
        reason = "The baseline changed after the findings were generated."
    else:
        return Freshness(False, "", generated, None, inputs)
    return Freshness(True, reason, generated, None, inputs)
