"""Restore end to end in the embedded mode (SQLite and PostgreSQL, in-process demo Graph over the
real HTTP client code): draft → preview (exact plan) → execute through the worker → the demo
tenant equals the backup; the adapter's run from `previewed` on; faults and bad input."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from opsapp.db import session_scope
from opsapp.features.drift.generate import generate_drift
from opsapp.features.restore.drafts import discard, map_group, set_selection
from opsapp.features.restore.errors import RestoreInputError, RestoreStateError
from opsapp.models import PolicyVersion
from opsapp.models.types import utcnow
from opsapp.operations.access import NotFound
from opsapp.operations.catalog import get_type
from opsapp.operations.reaper import reap_lost_runs
from tests.integration.restore.conftest import COMPLIANCE, DC, GRAPH, SC


async def _change(restores):
    """One setting changed, one compliance policy deleted, one set of assignments changed."""
    changed, deleted, reassigned = (
        restores.graph_id(DC, 0),
        restores.graph_id(COMPLIANCE, 0),
        restores.graph_id(DC, 1),
    )
    restores.demo.update_policy(GRAPH, DC, changed, {"passwordMinimumLength": 15})
    restores.demo.delete_policy(GRAPH, COMPLIANCE, deleted)
    group = restores.demo.tenant(GRAPH).data.groups.id_at(5)
    restores.demo.set_assignments(
        GRAPH,
        DC,
        reassigned,
        [{"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group}}],
    )
    return changed, deleted, reassigned


async def test_preview_then_execute_makes_the_tenant_equal_the_backup(restores):
    set_id = await restores.backup()
    before = {
        gid: restores.demo.get_policy(GRAPH, DC, gid)
        for gid in (restores.graph_id(DC, 0), restores.graph_id(DC, 1))
    }
    assignments_before = restores.demo.get_assignments(GRAPH, DC, restores.graph_id(DC, 1))
    changed, deleted, reassigned = await _change(restores)
    restore_id = restores.draft(set_id)
    assert restores.runs() == []  # a draft has no run

    counts = await restores.preview(restore_id)
    assert counts == {"create": 1, "update": 2, "unchanged": 6, "skip": 0, "conflicts": 0}
    items = restores.items(restore_id)
    assert items[changed]["action"] == "update"
    assert [c["path"] for c in items[changed]["changes"]] == ["passwordMinimumLength"]
    assert items[changed]["changes"][0] == {
        "path": "passwordMinimumLength",
        "old": 15,
        "new": before[changed]["passwordMinimumLength"],
        "kind": "changed",
    }
    assert items[deleted]["action"] == "create"
    assert items[reassigned]["action"] == "update"
    assert all(c["path"].startswith("assignments[") for c in items[reassigned]["changes"])
    [run] = restores.runs()
    assert (run["status"], run["outcome"], run["dispatched_at"]) == ("queued", "pending", None)
    detail = restores.detail(restore_id)
    assert (detail["status"], detail["operation_run_id"]) == ("previewed", run["id"])

    # Held: the reaper leaves a previewed restore's run alone however old it is.
    with restores.ops.engine.begin() as conn:
        assert reap_lost_runs(conn, now=utcnow() + timedelta(days=3)) == []
    await restores.preview(restore_id)  # previewing again keeps the same run
    assert [r["id"] for r in restores.runs()] == [run["id"]]

    done = await restores.execute(restore_id)
    assert done.dispatched and done.run.id == run["id"]
    [finished] = restores.runs()
    assert (finished["status"], finished["outcome"]) == ("completed", "succeeded"), finished
    assert finished["summary_counts"] == {
        "total": 9,
        "processed": 9,
        "created": 1,
        "updated": 2,
        "unchanged": 6,
        "skipped": 0,
        "failed": 0,
    }
    detail = restores.detail(restore_id)
    assert (detail["status"], detail["outcome"]) == ("completed", "succeeded")
    after = restores.demo.get_policy(GRAPH, DC, changed)
    assert after["passwordMinimumLength"] == before[changed]["passwordMinimumLength"]
    restored = restores.demo.get_assignments(GRAPH, DC, reassigned)
    assert [a["target"] for a in restored] == [a["target"] for a in assignments_before]
    created = restores.items(restore_id)[deleted]
    assert created["result"] == "created" and created["target_graph_id"] != deleted
    restores.demo.get_policy(GRAPH, COMPLIANCE, created["target_graph_id"])  # exists

    # A sync and drift against the backup: the restored items show no drift.
    from tests.integration.restore.conftest import sync_contoso

    await sync_contoso(restores.ops.engine, restores.ops.tenant_id)
    inputs = get_type("drift.generate").identity.normalise(
        {"baseline_id": set_id, "policy_types": [COMPLIANCE, DC, SC]}
    )
    generate_drift(
        restores.ops.engine, tenant_id=restores.ops.tenant_id, inputs=inputs, run_id=None
    )
    open_findings = restores.ops.scalar(
        "SELECT count(*) FROM drift_findings WHERE baseline_set_id = :s AND state != 'resolved'",
        s=set_id,
    )
    assert open_findings == 0

    with pytest.raises(RestoreStateError, match="has completed"):
        await restores.execute(restore_id)


async def test_executing_twice_reuses_the_run_and_a_draft_cannot_execute(restores):
    set_id = await restores.backup(per_type=1)
    restore_id = restores.draft(set_id)
    with pytest.raises(RestoreStateError, match="Preview the restore"):
        await restores.execute(restore_id)
    await restores.preview(restore_id)
    from opsapp.features.restore import adapter
    from tests.fakes import RecordingDispatcher

    dispatcher = RecordingDispatcher()
    first = await adapter.execute(
        tenant_id=restores.ops.tenant_id,
        restore_id=restore_id,
        dispatcher=dispatcher,
        engine=restores.ops.engine,
    )
    second = await adapter.execute(
        tenant_id=restores.ops.tenant_id,
        restore_id=restore_id,
        dispatcher=dispatcher,
        engine=restores.ops.engine,
    )
    assert first.dispatched and not second.dispatched and first.run.id == second.run.id
    assert dispatcher.dispatched == [first.run.id]
    assert restores.detail(restore_id)["status"] == "running"
    with (
        pytest.raises(RestoreStateError, match="Only a draft or a previewed"),
        session_scope(restores.ops.engine) as s,
    ):
        discard(s, tenant_id=restores.ops.tenant_id, restore_id=restore_id)


async def test_discarding_a_previewed_restore_cancels_its_run(restores):
    set_id = await restores.backup(per_type=1)
    restore_id = restores.draft(set_id)
    await restores.preview(restore_id)
    with session_scope(restores.ops.engine) as s:
        assert discard(s, tenant_id=restores.ops.tenant_id, restore_id=restore_id) == "cancelled"
    [run] = restores.runs()
    assert (run["status"], run["outcome"]) == ("completed", "cancelled")
    detail = restores.detail(restore_id)
    assert (detail["status"], detail["outcome_label"]) == ("completed", "Discarded")
    draft = restores.draft(set_id)
    with session_scope(restores.ops.engine) as s:
        assert discard(s, tenant_id=restores.ops.tenant_id, restore_id=draft) == "deleted"
    assert restores.detail(draft) is None


async def test_update_only_skips_missing_policies(restores):
    set_id = await restores.backup(per_type=1, types=(COMPLIANCE,))
    restores.demo.delete_policy(GRAPH, COMPLIANCE, restores.graph_id(COMPLIANCE, 0))
    restore_id = restores.draft(set_id, create_missing=False)
    counts = await restores.preview(restore_id)
    assert (counts["skip"], counts["create"]) == (1, 0)
    await restores.execute(restore_id)
    [item] = restores.detail(restore_id)["items"]
    assert item["result"] == "skipped"


async def test_a_missing_group_is_a_conflict_that_can_be_mapped(restores):
    policy = restores.graph_id(DC, 3)
    ghost = "0badc0de-0000-4000-8000-000000000001"
    restores.demo.set_assignments(
        GRAPH,
        DC,
        policy,
        [{"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": ghost}}],
    )
    await restores.ops.start("policy.sync")
    set_id = restores.ops.new_set("With a ghost group")
    pid = restores.ops.scalar("SELECT id FROM policies WHERE graph_id = :g", g=policy)
    await restores.ops.run("backup_set.add_policies", backup_set_id=set_id, policy_ids=[pid])
    restores.demo.set_assignments(GRAPH, DC, policy, [])
    restore_id = restores.draft(set_id)
    counts = await restores.preview(restore_id)
    assert counts["conflicts"] == 1
    [item] = restores.detail(restore_id)["items"]
    assert [(c["kind"], c["ref"]) for c in item["conflicts"]] == [("group_missing", ghost)]
    existing = restores.demo.tenant(GRAPH).data.groups.id_at(2)
    with session_scope(restores.ops.engine) as s:
        map_group(
            s,
            tenant_id=restores.ops.tenant_id,
            restore_id=restore_id,
            group_id=ghost,
            target=existing,
        )
    await restores.execute(restore_id)
    assert [a["target"]["groupId"] for a in restores.demo.get_assignments(GRAPH, DC, policy)] == [
        existing
    ]


async def test_without_write_permission_every_item_fails_and_says_which_permission(restores):
    set_id = await restores.backup(per_type=1, types=(DC,))
    restores.demo.update_policy(GRAPH, DC, restores.graph_id(DC, 0), {"passwordMinimumLength": 15})
    restore_id = restores.draft(set_id)
    await restores.preview(restore_id)
    restores.demo.set_faults(GRAPH, read_only=True)
    await restores.execute(restore_id)
    [run] = restores.runs()
    assert (run["status"], run["outcome"]) == ("completed", "failed")
    [failure] = run["failures"]
    assert failure["code"] == "graph.forbidden"
    assert "DeviceManagementConfiguration.ReadWrite.All" in failure["message"]
    assert restores.detail(restore_id)["outcome"] == "failed"


async def test_bad_drafts_are_refused_and_create_nothing(restores):
    set_id = await restores.backup(per_type=1, types=(DC,))
    with pytest.raises(RestoreInputError, match="No items selected"):
        restores.draft(set_id, item_ids=[])
    with pytest.raises(RestoreInputError, match="not in this backup set"):
        restores.draft(set_id, item_ids=[10**9])
    with pytest.raises(NotFound):
        restores.draft(10**9)
    assert restores.ops.scalar("SELECT count(*) FROM restore_runs") == 0
    restore_id = restores.draft(set_id)
    await restores.preview(restore_id)
    with pytest.raises(RestoreStateError, match="fixed"), session_scope(restores.ops.engine) as s:
        set_selection(s, tenant_id=restores.ops.tenant_id, restore_id=restore_id, item_ids=[1])


async def test_a_dispatched_restore_whose_message_was_lost_is_reaped(restores):
    from opsapp.features.restore import adapter
    from tests.fakes import RecordingDispatcher

    set_id = await restores.backup(per_type=1)
    restore_id = restores.draft(set_id)
    await restores.preview(restore_id)
    with restores.ops.engine.begin() as conn:
        assert reap_lost_runs(conn, now=utcnow() + timedelta(days=1)) == []  # held: waits
    done = await adapter.execute(
        tenant_id=restores.ops.tenant_id,
        restore_id=restore_id,
        dispatcher=RecordingDispatcher(),
        engine=restores.ops.engine,
    )
    with restores.ops.engine.begin() as conn:  # dispatched, never picked up: lost
        assert reap_lost_runs(conn, now=utcnow() + timedelta(days=1)) == [done.run.id]
    detail = restores.detail(restore_id)
    assert (detail["status"], detail["outcome"]) == ("completed", "failed")


async def test_one_item_failing_leaves_the_others_written_and_the_run_partial(restores):
    set_id = await restores.backup(per_type=3, types=(DC,))
    ids = [restores.graph_id(DC, n) for n in range(3)]
    for gid in ids:
        restores.demo.update_policy(GRAPH, DC, gid, {"passwordMinimumLength": 15})
    # One item's captured payload is broken (no @odata.type); another is refused by Graph.
    with restores.ops.engine.begin() as conn:
        version = conn.execute(
            sa.text("SELECT current_version_id FROM policies WHERE graph_id = :g"), {"g": ids[0]}
        ).scalar()
        payload = conn.execute(
            sa.text("SELECT payload FROM policy_versions WHERE id = :v"), {"v": version}
        ).scalar()
        payload = json.loads(payload) if isinstance(payload, str) else dict(payload)
        payload.pop("@odata.type")
        conn.execute(
            sa.update(PolicyVersion.__table__)
            .where(PolicyVersion.id == version)
            .values(payload=payload)
        )
    restore_id = restores.draft(set_id)
    await restores.preview(restore_id)
    restores.demo.set_faults(GRAPH, forbidden=[f"deviceManagement/deviceConfigurations/{ids[1]}"])
    await restores.execute(restore_id)
    [run] = restores.runs()
    assert (run["status"], run["outcome"]) == ("completed", "partially_succeeded"), run
    assert run["summary_counts"]["updated"] == 1 and run["summary_counts"]["failed"] == 2
    codes = sorted(f["code"] for f in run["failures"])
    assert codes == ["graph.forbidden", "restore.payload_invalid"]
    items = restores.items(restore_id)
    assert items[ids[0]]["result"] == "failed" and "@odata.type" in items[ids[0]]["result_message"]
    assert (
        items[ids[1]]["result"] == "failed" and "ReadWrite.All" in items[ids[1]]["result_message"]
    )
    assert items[ids[2]]["result"] == "updated"
    assert restores.demo.get_policy(GRAPH, DC, ids[2])["passwordMinimumLength"] != 15
    assert restores.detail(restore_id)["outcome"] == "partially_succeeded"


async def test_server_errors_are_retried_then_fail_only_that_item(restores):
    set_id = await restores.backup(per_type=1, types=(DC,))
    gid = restores.graph_id(DC, 0)
    restores.demo.update_policy(GRAPH, DC, gid, {"passwordMinimumLength": 15})
    restore_id = restores.draft(set_id)
    await restores.preview(restore_id)
    restores.demo.set_faults(GRAPH, error_first=2, error_status=500)  # fewer than the retries
    await restores.execute(restore_id)
    [run] = restores.runs()
    assert run["outcome"] == "succeeded", run  # PATCH is idempotent: retried, then written
    restores.demo.clear_faults(GRAPH)
    restores.demo.update_policy(GRAPH, DC, gid, {"passwordMinimumLength": 15})
    second = restores.draft(set_id)
    await restores.preview(second)
    restores.demo.set_faults(GRAPH, error_first=100, error_status=503)
    await restores.execute(second)
    last = restores.runs()[-1]
    assert last["outcome"] == "failed" and last["failures"][0]["code"] == "graph.unavailable"
