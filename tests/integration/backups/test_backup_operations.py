"""The five backup run types in the embedded mode: started through `start_operation`, executed by
the in-process worker (InMemoryBroker) against the in-process demo Graph (the same HTTP client
code as live), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from opsapp.db import session_scope
from opsapp.features.backups import service as backup_service
from opsapp.features.backups.sets import delete_backup_set
from opsapp.graph.demo import CONTOSO
from opsapp.models import BackupItem, BackupSchedule, BackupSet, Policy
from opsapp.operations.identity import InvalidInputs
from opsapp.operations.service import ensure_run, start_operation, start_system_operation
from opsapp.worker.embedded import embedded_worker, get_dispatcher
from tests.factories import make_tenant
from tests.fakes import RecordingDispatcher

DC, SC, COMPLIANCE, TAGS = (
    "deviceConfiguration",
    "settingsCatalogPolicy",
    "deviceCompliancePolicy",
    "roleScopeTag",
)


def _items(ops, set_id):
    with session_scope(ops.engine) as s:
        rows = s.execute(sa.select(BackupItem).where(BackupItem.backup_set_id == set_id)).scalars()
        return {i.policy_id: i.model_dump() for i in rows}


def _versions(ops) -> int:
    return ops.scalar("SELECT count(*) FROM policy_versions")


def _set(ops, set_id):
    with session_scope(ops.engine) as s:
        found = s.get(BackupSet, set_id)
        return found.model_dump() if found else None


def _graph_id(ops, policy_id):
    return ops.scalar("SELECT graph_id FROM policies WHERE id = :i", i=policy_id)


def _codes(row):
    return sorted((f["code"], f.get("item", "")) for f in row["failures"])


async def test_add_policies_captures_them_reusing_the_synced_versions(ops):
    set_id = ops.new_set()
    before = _set(ops, set_id)["updated_at"]
    ids = ops.policy_ids(DC, 30) + ops.policy_ids(SC, 30) + ops.policy_ids(TAGS, 5)
    versions = _versions(ops)

    row = await ops.run(
        "backup_set.add_policies", backup_set_id=set_id, policy_ids=ids, include_scope_tags=False
    )

    assert (row["status"], row["outcome"], row["failures"]) == ("completed", "succeeded", [])
    assert row["summary_counts"] == {
        "total": 65,
        "processed": 65,
        "created": 65,
        "skipped": 0,
        "failed": 0,
    }
    assert _versions(ops) == versions  # identical snapshots: the synced versions are reused
    items = _items(ops, set_id)
    assert sorted(items) == sorted(ids)
    with session_scope(ops.engine) as s:
        current = {p.id: p.current_version_id for p in s.exec(sa.select(Policy)).scalars()}
    assert all(i["policy_version_id"] == current[pid] for pid, i in items.items())
    assert all(i["include_assignments"] and not i["include_scope_tags"] for i in items.values())
    assert all(i["operation_run_id"] == row["id"] for i in items.values())
    assert _set(ops, set_id)["updated_at"] > before

    again = await ops.run("backup_set.add_policies", backup_set_id=set_id, policy_ids=ids)
    assert again["id"] != row["id"] and again["outcome"] == "succeeded"
    assert again["summary_counts"]["skipped"] == 65 and again["summary_counts"]["created"] == 0
    assert _versions(ops) == versions


async def test_a_changed_policy_gets_a_new_version_and_an_unchanged_one_none(ops, demo):
    ids = ops.policy_ids(DC, 10)
    changed = demo.tenant("contoso").data.collection(DC)
    changed.update(_graph_id(ops, ids[0]), {"description": "edited"}, stamp="2026-11-29T10:00:00Z")
    versions = _versions(ops)

    first = await ops.run("backup_set.add_policies", backup_set_id=ops.new_set(), policy_ids=ids)
    assert first["outcome"] == "succeeded"
    assert _versions(ops) == versions + 1  # only the edited policy has new content

    second = await ops.run(
        "backup_set.add_policies", backup_set_id=ops.new_set("B"), policy_ids=ids
    )
    assert second["summary_counts"]["created"] == 10
    assert _versions(ops) == versions + 1  # re-adding unchanged policies creates no version


async def test_policies_not_in_the_tenant_or_removed_fail_alone(ops, engine):
    other = make_tenant(engine)
    with session_scope(engine) as s:
        foreign = Policy(tenant_id=other.id, policy_type=DC, graph_id="x-1", display_name="X")
        s.add(foreign)
        s.flush()
        foreign_id = foreign.id
    ids = ops.policy_ids(DC, 5)
    with engine.begin() as conn:
        conn.execute(
            sa.update(Policy.__table__)
            .where(Policy.__table__.c.id == ids[0])
            .values(removed_at=datetime.now(UTC))
        )
    set_id = ops.new_set()

    row = await ops.run(
        "backup_set.add_policies", backup_set_id=set_id, policy_ids=[*ids, foreign_id, 10**9]
    )

    assert row["outcome"] == "partially_succeeded"
    assert row["summary_counts"] == {
        "total": 7,
        "processed": 7,
        "created": 4,
        "skipped": 0,
        "failed": 3,
    }
    assert _codes(row) == sorted(
        [
            ("policy.not_found", f"policy/{foreign_id}"),
            ("policy.not_found", f"policy/{10**9}"),
            ("policy.removed", f"{DC}/{_graph_id(ops, ids[0])}"),
        ]
    )
    assert sorted(_items(ops, set_id)) == ids[1:]


async def test_graph_failures_of_single_policies_are_sanitized_item_failures(ops, demo):
    dc_ids, sc_ids = ops.policy_ids(DC, 6), ops.policy_ids(SC, 4)
    gone, odd = _graph_id(ops, dc_ids[0]), _graph_id(ops, dc_ids[1])
    demo.tenant("contoso").data.collection(DC).delete(gone)  # deleted in Intune since the sync
    demo.set_faults(
        "contoso",
        forbidden=[SC],  # 403 on a whole type, inside $batch too
        wrong_shape=[f"deviceManagement/deviceConfigurations/{odd}"],  # one unusable answer
        leak_secrets=True,
    )
    set_id = ops.new_set()

    row = await ops.run("backup_set.add_policies", backup_set_id=set_id, policy_ids=dc_ids + sc_ids)

    assert row["outcome"] == "partially_succeeded"
    counts = row["summary_counts"]
    assert (counts["created"], counts["failed"], counts["processed"]) == (4, 6, 10)
    codes = [f["code"] for f in row["failures"]]
    assert (
        codes.count("graph.forbidden") >= 1
        and sum(f["count"] for f in row["failures"] if f["code"] == "graph.forbidden") == 4
    )
    assert ("graph.not_found", f"{DC}/{gone}") in _codes(row)
    assert ("graph.bad_response", f"{DC}/{odd}") in _codes(row)
    assert CONTOSO.client_secret not in str(row["failures"]) and "Bearer" not in str(row)
    assert sorted(_items(ops, set_id)) == dc_ids[2:]


async def test_capture_batches_graph_requests(ops, demo):
    ids = ops.policy_ids(SC, 40) + ops.policy_ids(DC, 60)
    before = demo.stats("contoso")["graph_requests"]
    row = await ops.run("backup_set.add_policies", backup_set_id=ops.new_set(), policy_ids=ids)
    assert row["outcome"] == "succeeded"
    requests = demo.stats("contoso")["graph_requests"] - before
    # Per 20 policies: payloads + assignments (+ settings for the settings catalog).
    assert requests == 2 * 3 + 3 * 2
    assert requests / len(ids) <= 0.2


async def test_an_empty_selection_is_refused_and_creates_no_run(ops):
    set_id = ops.new_set()
    with pytest.raises(InvalidInputs, match="No policies selected"):
        await ops.start("backup_set.add_policies", backup_set_id=set_id, policy_ids=[])
    assert ops.scalar("SELECT count(*) FROM operation_runs") == 0


async def test_a_start_naming_a_deleted_set_is_refused(ops):
    from opsapp.operations.access import NotFound

    with pytest.raises(NotFound, match="Backup set not found"):
        await ops.start("backup_set.add_policies", backup_set_id=10**6, policy_ids=[1])
    assert ops.scalar("SELECT count(*) FROM operation_runs") == 0


async def _start_queued(ops, run_type, **inputs):
    """A queued run nobody executes yet (the dispatcher only records it)."""
    result = await start_operation(
        run_type=run_type,
        tenant_id=ops.tenant_id,
        user_id=ops.operator_id,
        inputs=inputs,
        dispatcher=RecordingDispatcher(),
        engine=ops.engine,
    )
    return result.run


async def _execute(ops, run):
    async with embedded_worker(engine=ops.engine, maintenance=False) as broker:
        await get_dispatcher().dispatch(run)
        await broker.wait_all()
    return ops.row(run.id)


@pytest.mark.parametrize("run_type", ["backup_set.add_policies", "backup_set.remove_policies"])
async def test_a_set_deleted_while_its_run_is_queued_fails_the_run_clearly(ops, run_type):
    set_id = ops.new_set()
    key = "policy_ids" if run_type.endswith("add_policies") else "item_ids"
    run = await _start_queued(ops, run_type, backup_set_id=set_id, **{key: [1, 2]})
    with session_scope(ops.engine) as s:
        delete_backup_set(s, tenant_id=ops.tenant_id, set_id=set_id)

    row = await _execute(ops, run)

    assert (row["outcome"], [f["code"] for f in row["failures"]]) == (
        "failed",
        ["backup_set.not_found"],
    )
    assert "no longer exists" in row["failures"][0]["message"]
    assert ops.scalar("SELECT count(*) FROM backup_items") == 0


async def test_a_set_deleted_mid_run_fails_the_run_and_leaves_nothing(ops, monkeypatch):
    set_id = ops.new_set()
    ids = ops.policy_ids(limit=400)
    real = backup_service.capture_policies
    calls = []

    async def capture_then_delete(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # groups 1 (and maybe 2) are written by now

            def delete():
                with session_scope(ops.engine) as s:
                    delete_backup_set(s, tenant_id=ops.tenant_id, set_id=set_id)

            await asyncio.to_thread(delete)
        return await real(*args, **kwargs)

    monkeypatch.setattr(backup_service, "capture_policies", capture_then_delete)
    row = await ops.run("backup_set.add_policies", backup_set_id=set_id, policy_ids=ids)

    assert row["outcome"] == "failed", row
    assert [f["code"] for f in row["failures"]] == ["backup_set.not_found"]
    assert row["summary_counts"]["created"] == 0
    assert ops.scalar("SELECT count(*) FROM backup_items") == 0
    assert _set(ops, set_id) is None


async def test_remove_policies_removes_the_sets_items_and_skips_the_rest(ops):
    set_id, other_set = ops.new_set(), ops.new_set("Other")
    ids = ops.policy_ids(DC, 5)
    await ops.run("backup_set.add_policies", backup_set_id=set_id, policy_ids=ids)
    await ops.run("backup_set.add_policies", backup_set_id=other_set, policy_ids=ids[:1])
    items = _items(ops, set_id)
    foreign_item = next(iter(_items(ops, other_set).values()))["id"]
    doomed = [items[ids[0]]["id"], items[ids[1]]["id"]]
    before = _set(ops, set_id)["updated_at"]

    row = await ops.run(
        "backup_set.remove_policies", backup_set_id=set_id, item_ids=[*doomed, foreign_item, 10**9]
    )

    assert (row["outcome"], row["failures"]) == ("succeeded", [])
    assert row["summary_counts"] == {
        "total": 4,
        "processed": 4,
        "removed": 2,
        "skipped": 2,
        "failed": 0,
    }
    assert sorted(_items(ops, set_id)) == ids[2:]
    assert len(_items(ops, other_set)) == 1  # another set's item is never touched
    assert _set(ops, set_id)["updated_at"] > before


def _schedule(ops, schedule_id):
    with session_scope(ops.engine) as s:
        return s.get(BackupSchedule, schedule_id).model_dump()


def _schedule_sets(ops, schedule_id):
    with session_scope(ops.engine) as s:
        rows = s.execute(
            sa.select(BackupSet).where(BackupSet.schedule_id == schedule_id).order_by(BackupSet.id)
        ).scalars()
        return [r.model_dump() for r in rows]


async def test_run_now_creates_a_named_set_with_every_policy_of_the_types(ops, demo):
    schedule_id = ops.new_schedule(name="Nightly", policy_types=[COMPLIANCE, TAGS, SC])
    listed = sum(
        demo.tenant("contoso").data.collection(t).live_count() for t in (COMPLIANCE, TAGS, SC)
    )
    versions = _versions(ops)

    row = await ops.run("backup_schedule.run_now", schedule_id=schedule_id)

    assert (row["outcome"], row["failures"]) == ("succeeded", []), row
    assert row["summary_counts"] == {
        "total": listed,
        "processed": listed,
        "created": listed,
        "unchanged": listed,  # synced just before: every version is reused
        "removed": 0,
        "skipped": 0,
        "failed": 0,
    }
    assert _versions(ops) == versions
    [made] = _schedule_sets(ops, schedule_id)
    assert made["name"].startswith("Nightly · ") and made["name"][-3:] in ("CET", "EST")
    assert made["writer_run_id"] == row["id"]
    assert row["context"]["produced"] == {"backup_set_id": made["id"]}  # the run page links it
    assert len(_items(ops, made["id"])) == listed
    assert _schedule(ops, schedule_id)["last_run_id"] == row["id"]


async def test_a_forbidden_type_fails_alone_and_the_run_partially_succeeds(ops, demo):
    schedule_id = ops.new_schedule(policy_types=[COMPLIANCE, TAGS])
    demo.set_faults("contoso", forbidden=[COMPLIANCE], leak_secrets=True)
    tags = demo.tenant("contoso").data.collection(TAGS).live_count()

    row = await ops.run("backup_schedule.run_now", schedule_id=schedule_id)

    assert row["outcome"] == "partially_succeeded"
    assert _codes(row) == [("graph.forbidden", COMPLIANCE)]
    counts = row["summary_counts"]
    assert (counts["created"], counts["failed"], counts["total"]) == (tags, 1, tags)
    assert CONTOSO.client_secret not in str(row["failures"])

    demo.clear_faults("contoso")
    retry = await ops.run(
        "backup_schedule.retry", schedule_id=schedule_id, retried_run_id=row["id"]
    )
    assert retry["outcome"] == "succeeded", retry
    assert retry["context"]["inputs"]["retried_run_id"] == row["id"]
    assert (
        retry["summary_counts"]["created"]
        == tags + demo.tenant("contoso").data.collection(COMPLIANCE).live_count()
    )
    assert _schedule(ops, schedule_id)["last_run_id"] == retry["id"]
    assert len(_schedule_sets(ops, schedule_id)) == 2


async def test_a_type_no_longer_supported_is_skipped_and_reported(ops):
    schedule_id = ops.new_schedule(policy_types=[TAGS])
    with ops.engine.begin() as conn:
        table = BackupSchedule.__table__
        conn.execute(
            sa.update(table)
            .where(table.c.id == schedule_id)
            .values(policy_types=["legacyWindowsPolicy", TAGS])
        )

    row = await ops.run("backup_schedule.run_now", schedule_id=schedule_id)

    assert row["outcome"] == "partially_succeeded"
    assert _codes(row) == [("policy_type.unsupported", "legacyWindowsPolicy")]
    assert "no longer supported" in row["failures"][0]["message"]
    assert row["summary_counts"]["skipped"] == 1 and row["summary_counts"]["created"] > 0


async def test_a_schedule_deleted_while_its_run_is_queued_fails_the_run(ops):
    from opsapp.features.backups.schedules import delete_schedule

    schedule_id = ops.new_schedule()
    run = await _start_queued(ops, "backup_schedule.run_now", schedule_id=schedule_id)
    with session_scope(ops.engine) as s:
        delete_schedule(s, tenant_id=ops.tenant_id, schedule_id=schedule_id)

    row = await _execute(ops, run)

    assert (row["outcome"], [f["code"] for f in row["failures"]]) == (
        "failed",
        ["backup_schedule.not_found"],
    )
    assert ops.scalar("SELECT count(*) FROM backup_sets") == 0


async def test_retention_keeps_exactly_n_sets_of_the_schedule(ops):
    schedule_id = ops.new_schedule(policy_types=[TAGS], keep_last=2)
    manual = ops.new_set("Manual, not the schedule's")
    runs = [await ops.run("backup_schedule.run_now", schedule_id=schedule_id) for _ in range(4)]

    sets = _schedule_sets(ops, schedule_id)
    assert [s["writer_run_id"] for s in sets] == [r["id"] for r in runs[-2:]]
    assert [r["summary_counts"]["removed"] for r in runs] == [0, 0, 1, 1]
    assert len({s["name"] for s in sets}) == 2  # same minute: the second name gets " (2)" …
    assert _set(ops, manual) is not None


async def test_retention_never_deletes_a_set_another_active_run_is_writing(ops):
    schedule_id = ops.new_schedule(policy_types=[TAGS], keep_last=1)
    first = await ops.run("backup_schedule.run_now", schedule_id=schedule_id)
    second = await ops.run("backup_schedule.run_now", schedule_id=schedule_id)
    assert second["summary_counts"]["removed"] == 1
    [kept] = _schedule_sets(ops, schedule_id)
    # Two older sets of the schedule, each busy: one is written by an active schedule run (a
    # retry that is still queued), one is named by an active add_policies run.
    with session_scope(ops.engine) as s:
        writing = ensure_run(
            s,
            tenant_id=ops.tenant_id,
            run_type="backup_schedule.retry",
            inputs={"schedule_id": schedule_id, "retried_run_id": first["id"]},
            user_id=None,
            initiator_name="test",
        ).run
        named_set = BackupSet(tenant_id=ops.tenant_id, name="Busy B", schedule_id=schedule_id)
        written_set = BackupSet(
            tenant_id=ops.tenant_id,
            name="Busy A",
            schedule_id=schedule_id,
            writer_run_id=writing.id,
        )
        s.add_all([written_set, named_set])
        s.flush()
        for busy in (written_set, named_set):
            busy.created_at = datetime(2020, 1, 1, tzinfo=UTC)
        busy_ids = {written_set.id, named_set.id}
        ensure_run(
            s,
            tenant_id=ops.tenant_id,
            run_type="backup_set.add_policies",
            inputs={
                "backup_set_id": named_set.id,
                "policy_ids": [1],
                "include_assignments": True,
                "include_scope_tags": True,
            },
            user_id=None,
            initiator_name="test",
        )

    third = await ops.run("backup_schedule.run_now", schedule_id=schedule_id)

    assert third["summary_counts"]["removed"] == 1  # only `kept`, now the second newest
    remaining = {s["id"] for s in _schedule_sets(ops, schedule_id)}
    assert busy_ids <= remaining and kept["id"] not in remaining
    [newest] = [
        s["id"] for s in _schedule_sets(ops, schedule_id) if s["writer_run_id"] == third["id"]
    ]
    assert remaining == busy_ids | {newest}


async def test_a_scheduled_run_is_started_by_the_system_and_named_after_its_slot(ops):
    schedule_id = ops.new_schedule(name="Weekly", policy_types=[TAGS], timezone="America/New_York")
    slot = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    async with embedded_worker(engine=ops.engine, maintenance=False) as broker:
        result = await start_system_operation(
            run_type="backup_schedule.scheduled",
            tenant_id=ops.tenant_id,
            inputs={"schedule_id": schedule_id, "scheduled_for": slot.isoformat()},
            dispatcher=get_dispatcher(),
            engine=ops.engine,
        )
        await broker.wait_all()
    row = ops.row(result.run.id)
    assert (row["outcome"], row["initiator_name"], row["user_id"]) == ("succeeded", "System", None)
    [made] = _schedule_sets(ops, schedule_id)
    assert made["name"] == "Weekly · 2026-11-30 02:00 EST"
