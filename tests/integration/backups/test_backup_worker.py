"""Each backup operation end to end: started like the UI does (`start_operation` with
`get_dispatcher()`, i.e. Redis), executed by a REAL `taskiq worker` process, talking real HTTP to
the demo Graph (whose faults the tests switch), recorded in PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from opsapp.db import session_scope
from opsapp.features.backups.schedules import ScheduleInput, create_schedule
from opsapp.features.backups.sets import create_backup_set, delete_backup_set
from opsapp.graph.demo import CONTOSO
from opsapp.operations.service import start_operation, start_system_operation
from opsapp.worker.embedded import get_dispatcher
from tests.fakes import RecordingDispatcher

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]

TYPES = ("deviceCompliancePolicy", "roleScopeTag")


async def _synced(e2e) -> int:
    run = await e2e.run("policy.sync")
    assert run["outcome"] == "succeeded", run
    return e2e.tenant_id("contoso")


def _new_set(e2e, tenant_id: int, name: str = "Manual") -> int:
    with session_scope(e2e.engine) as s:
        return create_backup_set(s, tenant_id=tenant_id, name=name).id


def _new_schedule(e2e, tenant_id: int, **fields) -> int:
    data = ScheduleInput(
        name=fields.pop("name", "Nightly"),
        timezone="Europe/Berlin",
        policy_types=list(fields.pop("policy_types", TYPES)),
        keep_last=fields.pop("keep_last", 2),
    )
    with session_scope(e2e.engine) as s:
        return create_schedule(s, tenant_id=tenant_id, data=data).id


def _policy_ids(e2e, policy_type: str, n: int) -> list[int]:
    with e2e.engine.connect() as conn:
        return list(
            conn.execute(
                sa.text("SELECT id FROM policies WHERE policy_type = :p ORDER BY id LIMIT :n"),
                {"p": policy_type, "n": n},
            ).scalars()
        )


def _executed_by_worker(e2e, run_type: str) -> bool:
    return f"({run_type}) claimed" in e2e.worker.log_tail(200_000)


async def test_add_then_remove_policies_through_the_worker(e2e):
    tenant_id = await _synced(e2e)
    set_id = _new_set(e2e, tenant_id)
    ids = _policy_ids(e2e, "settingsCatalogPolicy", 25) + _policy_ids(
        e2e, "deviceConfiguration", 25
    )
    versions = e2e.count("policy_versions")

    added = await e2e.run("backup_set.add_policies", backup_set_id=set_id, policy_ids=ids)

    assert (added["outcome"], added["failures"]) == ("succeeded", []), added
    assert added["summary_counts"] == {
        "total": 50,
        "processed": 50,
        "created": 50,
        "skipped": 0,
        "failed": 0,
    }
    assert e2e.count("backup_items", "backup_set_id = :s", s=set_id) == 50
    assert e2e.count("policy_versions") == versions  # unchanged policies: versions reused
    titles = [n["title"] for n in e2e.final_notifications(added["id"])]
    assert titles[-1].endswith("succeeded")
    assert _executed_by_worker(e2e, "backup_set.add_policies")

    with e2e.engine.connect() as conn:
        item_ids = list(
            conn.execute(
                sa.text("SELECT id FROM backup_items WHERE backup_set_id = :s ORDER BY id LIMIT 3"),
                {"s": set_id},
            ).scalars()
        )
    removed = await e2e.run(
        "backup_set.remove_policies", backup_set_id=set_id, item_ids=[*item_ids, 10**9]
    )
    assert removed["outcome"] == "succeeded", removed
    assert (removed["summary_counts"]["removed"], removed["summary_counts"]["skipped"]) == (3, 1)
    assert e2e.count("backup_items", "backup_set_id = :s", s=set_id) == 47
    assert _executed_by_worker(e2e, "backup_set.remove_policies")


async def test_a_set_deleted_while_its_run_is_queued_fails_with_a_clear_code(e2e):
    tenant_id = await _synced(e2e)
    set_id = _new_set(e2e, tenant_id)
    started = await start_operation(
        run_type="backup_set.add_policies",
        tenant_id=tenant_id,
        user_id=e2e.user_id("operator@opsapp.demo"),
        inputs={"backup_set_id": set_id, "policy_ids": _policy_ids(e2e, "roleScopeTag", 3)},
        dispatcher=RecordingDispatcher(),  # queued; the worker gets it below
        engine=e2e.engine,
    )
    with session_scope(e2e.engine) as s:
        delete_backup_set(s, tenant_id=tenant_id, set_id=set_id)
    await get_dispatcher().dispatch(started.run)

    row = await e2e.wait_completed(started.run.id)

    assert row["outcome"] == "failed"
    assert [f["code"] for f in row["failures"]] == ["backup_set.not_found"]
    assert e2e.count("backup_items") == 0


async def test_schedule_run_now_retry_and_scheduled_through_the_worker(e2e):
    tenant_id = await _synced(e2e)
    schedule_id = _new_schedule(e2e, tenant_id, keep_last=2)
    listed = sum(e2e.object_count("contoso", t) for t in TYPES)
    e2e.demo.set_faults("contoso", forbidden=[TYPES[0]], leak_secrets=True)

    partial = await e2e.run("backup_schedule.run_now", schedule_id=schedule_id)

    assert partial["outcome"] == "partially_succeeded", partial
    assert [(f["code"], f["item"]) for f in partial["failures"]] == [("graph.forbidden", TYPES[0])]
    assert CONTOSO.client_secret not in str(partial["failures"])
    tags = e2e.object_count("contoso", TYPES[1])
    assert partial["summary_counts"]["created"] == tags
    assert _executed_by_worker(e2e, "backup_schedule.run_now")

    e2e.demo.clear_faults("contoso")
    retry = await e2e.run(
        "backup_schedule.retry", schedule_id=schedule_id, retried_run_id=partial["id"]
    )
    assert retry["outcome"] == "succeeded", retry
    assert retry["summary_counts"]["created"] == listed
    assert retry["summary_counts"]["unchanged"] == listed  # synced before: nothing new stored

    slot = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    started = await start_system_operation(
        run_type="backup_schedule.scheduled",
        tenant_id=tenant_id,
        inputs={"schedule_id": schedule_id, "scheduled_for": slot.isoformat()},
        dispatcher=get_dispatcher(),
        engine=e2e.engine,
    )
    scheduled = await e2e.wait_completed(started.run.id)
    assert (scheduled["outcome"], scheduled["initiator_name"]) == ("succeeded", "System")
    assert scheduled["summary_counts"]["removed"] == 1  # keep_last 2: the partial run's set
    with e2e.engine.connect() as conn:
        names = list(
            conn.execute(
                sa.text("SELECT name FROM backup_sets WHERE schedule_id = :s ORDER BY id"),
                {"s": schedule_id},
            ).scalars()
        )
        last_run = conn.execute(
            sa.text("SELECT last_run_id FROM backup_schedules WHERE id = :s"), {"s": schedule_id}
        ).scalar()
    assert len(names) == 2 and names[-1] == "Nightly · 2026-11-30 02:00 CET"
    assert last_run == scheduled["id"]
    assert _executed_by_worker(e2e, "backup_schedule.scheduled")
