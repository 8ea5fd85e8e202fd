"""Identity of the five backup run types: the same effective inputs reuse the active run (ids
sorted and de-duplicated, defaults filled in, initiator never part of it); different inputs
start a new run. Runs stay queued here (the dispatcher only records them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from opsapp.db import session_scope
from opsapp.features.backups.schedules import ScheduleInput, create_schedule
from opsapp.features.backups.sets import create_backup_set
from opsapp.models import OperationRun, Role
from opsapp.operations.service import start_operation, start_system_operation
from tests.factories import make_tenant, make_user
from tests.fakes import RecordingDispatcher


@pytest.fixture
def world(engine):
    tenant = make_tenant(engine)
    users = [make_user(engine, tenant=tenant, role=Role.owner) for _ in range(2)]
    with session_scope(engine) as s:
        sets = [create_backup_set(s, tenant_id=tenant.id, name=f"Set {n}").id for n in (1, 2)]
        schedules = [
            create_schedule(
                s,
                tenant_id=tenant.id,
                data=ScheduleInput(name=f"S{n}", policy_types=["roleScopeTag"]),
            ).id
            for n in (1, 2)
        ]
        failed = []
        for schedule_id in schedules:
            run = OperationRun(
                tenant_id=tenant.id,
                type="backup_schedule.run_now",
                status="completed",
                outcome="failed",
                run_identity_hash=f"done-{schedule_id}",
                initiator_name="x",
                context={"inputs": {"schedule_id": schedule_id}},
            )
            s.add(run)
            s.flush()
            failed.append(run.id)
    return {
        "engine": engine,
        "tenant": tenant.id,
        "users": [u.id for u in users],
        "sets": sets,
        "schedules": schedules,
        "failed": failed,
    }


async def _start(world, run_type, inputs, *, user=0):
    common = dict(
        run_type=run_type,
        tenant_id=world["tenant"],
        inputs=inputs,
        dispatcher=RecordingDispatcher(),
        engine=world["engine"],
    )
    if run_type == "backup_schedule.scheduled":  # only the system starts it
        return await start_system_operation(**common)
    return await start_operation(**common, user_id=world["users"][user])


SLOT = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)

# (run type, inputs, the same inputs written differently, different inputs) — inputs are built
# from the world's ids (s = sets, h = schedules, f = failed runs of each schedule).
CASES = {
    "backup_set.add_policies": (
        lambda s, h, f: {"backup_set_id": s[0], "policy_ids": [3, 1, 2]},
        lambda s, h, f: {
            "backup_set_id": s[0],
            "policy_ids": [2, 2, 1, 3, 1],
            "include_assignments": True,
            "include_scope_tags": True,
        },
        [
            lambda s, h, f: {"backup_set_id": s[0], "policy_ids": [1, 2]},
            lambda s, h, f: {"backup_set_id": s[1], "policy_ids": [1, 2, 3]},
            lambda s, h, f: {
                "backup_set_id": s[0],
                "policy_ids": [1, 2, 3],
                "include_scope_tags": False,
            },
            lambda s, h, f: {
                "backup_set_id": s[0],
                "policy_ids": [1, 2, 3],
                "include_assignments": False,
            },
        ],
    ),
    "backup_set.remove_policies": (
        lambda s, h, f: {"backup_set_id": s[0], "item_ids": [9, 4]},
        lambda s, h, f: {"backup_set_id": s[0], "item_ids": [4, 9, 9]},
        [
            lambda s, h, f: {"backup_set_id": s[0], "item_ids": [4]},
            lambda s, h, f: {"backup_set_id": s[1], "item_ids": [4, 9]},
        ],
    ),
    "backup_schedule.run_now": (
        lambda s, h, f: {"schedule_id": h[0]},
        lambda s, h, f: {"schedule_id": str(h[0])},
        [lambda s, h, f: {"schedule_id": h[1]}],
    ),
    "backup_schedule.retry": (
        lambda s, h, f: {"schedule_id": h[0], "retried_run_id": f[0]},
        lambda s, h, f: {"retried_run_id": f[0], "schedule_id": h[0]},
        [lambda s, h, f: {"schedule_id": h[1], "retried_run_id": f[1]}],
    ),
    "backup_schedule.scheduled": (
        lambda s, h, f: {"schedule_id": h[0], "scheduled_for": SLOT.isoformat()},
        lambda s, h, f: {
            "schedule_id": h[0],
            "scheduled_for": SLOT.astimezone(timezone(timedelta(hours=1))).isoformat(),
        },
        [
            lambda s, h, f: {
                "schedule_id": h[0],
                "scheduled_for": (SLOT + timedelta(days=1)).isoformat(),
            },
            lambda s, h, f: {"schedule_id": h[1], "scheduled_for": SLOT.isoformat()},
        ],
    ),
}


@pytest.mark.parametrize("run_type", list(CASES))
async def test_same_effective_inputs_reuse_the_run_and_different_ones_start_another(
    world, run_type
):
    same, written_differently, others = CASES[run_type]
    ids = (world["sets"], world["schedules"], world["failed"])

    first = await _start(world, run_type, same(*ids))
    again = await _start(world, run_type, written_differently(*ids), user=1)

    assert first.created and not again.created
    assert again.run.id == first.run.id
    assert again.run.user_id == first.run.user_id  # the initiator is not replaced on reuse
    seen = {first.run.id}
    for other in others:
        started = await _start(world, run_type, other(*ids))
        assert started.created and started.run.id not in seen
        seen.add(started.run.id)
