"""The tenant dashboard: counts of present objects, the last finished run and the active run of
each sync, active runs, and the past week's failures, all confined to the tenant."""

import itertools
import json
from datetime import UTC, datetime, timedelta

from opsapp.db import session_scope
from opsapp.models import DirectoryGroup, InventoryItem, OperationRun, Policy
from opsapp.operations.dashboard import tenant_dashboard
from tests.factories import make_tenant

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
_hashes = itertools.count(1)


def run(tenant, run_type, *, ago, outcome=None, status=None):
    status = status or ("completed" if outcome else "running")
    created = NOW - ago
    return OperationRun(
        tenant_id=tenant.id,
        initiator_name="Ada",
        type=run_type,
        status=status,
        outcome=outcome or "pending",
        run_identity_hash=f"hash-{next(_hashes)}",
        summary_counts={"total": 4, "processed": 1},
        created_at=created,
        updated_at=created,
        completed_at=created + timedelta(minutes=1) if status == "completed" else None,
    )


def _add(engine, *rows):
    with session_scope(engine) as s:
        s.add_all(rows)
    return rows


def _ids(runs):
    return [r["id"] if r else None for r in runs]


def test_dashboard_of_a_busy_tenant(engine):
    tenant, other = make_tenant(engine), make_tenant(engine)
    h = timedelta(hours=1)
    old_ok = run(tenant, "inventory.sync", ago=3 * h, outcome="succeeded")
    new_failed = run(tenant, "inventory.sync", ago=1 * h, outcome="failed")
    inv_running = run(tenant, "inventory.sync", ago=0.5 * h)
    policy_queued = run(tenant, "policy.sync", ago=0.2 * h, status="queued")
    groups_partial = run(tenant, "directory_groups.sync", ago=48 * h, outcome="partially_succeeded")
    too_old_failure = run(tenant, "drift.generate", ago=10 * 24 * h, outcome="failed")
    cancelled = run(tenant, "policy.sync", ago=2 * h, outcome="cancelled")
    foreign = [
        run(other, "inventory.sync", ago=0.1 * h),
        run(other, "policy.sync", ago=0.1 * h, outcome="failed"),
    ]
    _add(engine, old_ok, new_failed, inv_running, policy_queued, groups_partial)
    _add(engine, too_old_failure, cancelled, *foreign)
    _add(
        engine,
        InventoryItem(tenant_id=tenant.id, policy_type="x", graph_id="1", content_hash="h"),
        InventoryItem(tenant_id=tenant.id, policy_type="x", graph_id="2", content_hash="h"),
        InventoryItem(
            tenant_id=tenant.id, policy_type="x", graph_id="3", content_hash="h", removed_at=NOW
        ),
        InventoryItem(tenant_id=other.id, policy_type="x", graph_id="1", content_hash="h"),
        Policy(tenant_id=tenant.id, policy_type="x", graph_id="1"),
        Policy(tenant_id=tenant.id, policy_type="x", graph_id="2", removed_at=NOW),
        DirectoryGroup(tenant_id=other.id, graph_id="g"),
    )

    with session_scope(engine) as s:
        board = tenant_dashboard(s, tenant_id=tenant.id, tenant_slug=tenant.slug, now=NOW)

    json.dumps(board)
    assert board["counts"] == {"inventory_items": 2, "policies": 1, "groups": 0}
    syncs = board["last_syncs"]
    assert [(x["type"], x["label"]) for x in syncs] == [
        ("inventory.sync", "Inventory sync"),
        ("policy.sync", "Policy sync"),
        ("directory_groups.sync", "Directory groups sync"),
    ]
    assert _ids(x["run"] for x in syncs) == [new_failed.id, cancelled.id, groups_partial.id]
    assert _ids(x["active"] for x in syncs) == [inv_running.id, policy_queued.id, None]
    assert _ids(board["active_runs"]) == [policy_queued.id, inv_running.id]
    assert _ids(board["recent_failures"]) == [new_failed.id, groups_partial.id]
    assert board["has_active"] is True
    first = board["active_runs"][0]
    assert first["tenant"] == tenant.slug and first["view_url"].endswith(
        f"/operations/{first['id']}"
    )
    assert (first["state_bucket"], first["progress_percent"]) == ("active", 25)


def test_dashboard_of_an_empty_tenant_and_the_caps(engine):
    tenant = make_tenant(engine)
    with session_scope(engine) as s:
        empty = tenant_dashboard(s, tenant_id=tenant.id, tenant_slug=tenant.slug, now=NOW)
    assert empty["counts"] == {"inventory_items": 0, "policies": 0, "groups": 0}
    assert [(x["run"], x["active"]) for x in empty["last_syncs"]] == [(None, None)] * 3
    assert (empty["active_runs"], empty["recent_failures"], empty["has_active"]) == ([], [], False)

    m = timedelta(minutes=1)
    _add(engine, *(run(tenant, "drift.generate", ago=i * m) for i in range(12)))
    _add(engine, *(run(tenant, "drift.generate", ago=i * m, outcome="failed") for i in range(7)))
    with session_scope(engine) as s:
        busy = tenant_dashboard(s, tenant_id=tenant.id, tenant_slug=tenant.slug, now=NOW)
    assert len(busy["active_runs"]) == 10 and len(busy["recent_failures"]) == 5
    created = [r["created_at"] for r in busy["active_runs"]]
    assert created == sorted(created, reverse=True)
