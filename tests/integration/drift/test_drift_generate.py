"""drift.generate end to end in the embedded mode (SQLite and PostgreSQL): back up contoso,
change it precisely through the demo Graph's control API, policy-sync, generate, and check the
findings and their lifecycle (kept, acknowledged, resolved, replaced)."""

from __future__ import annotations

import asyncio

import pytest

from opsapp.db import session_scope
from opsapp.features.backups.sets import delete_backup_set
from opsapp.features.drift import queries
from opsapp.features.drift.auto import start_if_stale
from opsapp.features.drift.findings import DriftInputError, acknowledge
from opsapp.features.drift.freshness import freshness
from opsapp.features.drift.generate import generate_drift
from opsapp.models import BackupSet, Tenant
from opsapp.operations.access import Forbidden, NotFound
from opsapp.operations.catalog import get_type
from opsapp.worker.embedded import embedded_worker, get_dispatcher
from tests.factories import make_tenant, make_user
from tests.fakes import RecordingDispatcher
from tests.integration.drift.conftest import COMPLIANCE, DC, SC

GRAPH = "contoso"


def _by_policy(findings):
    return {f["policy_id"]: f for f in findings}


async def _change_four(drift):
    """One setting, one assignment, one deletion, one new policy; returns their graph ids."""
    setting, assigned, deleted = (
        drift.graph_id(DC, 0),
        drift.graph_id(COMPLIANCE, 0),
        drift.graph_id(SC, 0),
    )
    drift.demo.update_policy(GRAPH, DC, setting, {"passwordMinimumLength": 15})
    group = drift.demo.tenant(GRAPH).data.groups.id_at(7)
    drift.demo.set_assignments(
        GRAPH,
        COMPLIANCE,
        assigned,
        [{"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group}}],
    )
    drift.demo.delete_policy(GRAPH, SC, deleted)
    template = drift.demo.get_policy(GRAPH, COMPLIANCE, assigned)
    body = {
        k: v
        for k, v in template.items()
        if k not in ("id", "createdDateTime", "lastModifiedDateTime")
    }
    body["displayName"] = "Windows compliance - Contractors"
    added = drift.demo.create_policy(GRAPH, COMPLIANCE, body)["id"]
    await drift.sync()
    return setting, assigned, deleted, added


async def test_no_change_no_findings(drift):
    baseline = await drift.baseline()
    row = await drift.generate(baseline)
    total = drift.ops.scalar("SELECT count(*) FROM policies")
    assert row["summary_counts"] == {
        "total": total,
        "processed": total,
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
        "failed": 0,
    }
    assert drift.findings(baseline) == []


async def test_four_changes_make_exactly_four_findings_with_a_full_lifecycle(drift):
    baseline = await drift.baseline()
    setting, assigned, deleted, added = await _change_four(drift)

    first = await drift.generate(baseline)
    found = _by_policy(drift.findings(baseline))
    ids = {g: drift.policy_id(g) for g in (setting, assigned, deleted, added)}
    assert set(found) == set(ids.values())
    assert first["summary_counts"]["created"] == 4
    modified = found[ids[setting]]
    assert (modified["kind"], modified["state"]) == ("modified", "new")
    assert [c["path"] for c in modified["changes"]] == ["passwordMinimumLength"]
    assert modified["changes"][0]["new"] == 15 and modified["changes"][0]["old"] != 15
    paths = [c["path"] for c in found[ids[assigned]]["changes"]]
    assert paths and all(p.startswith("assignments[") for p in paths), paths
    assert found[ids[deleted]]["kind"] == "removed"
    assert found[ids[added]]["kind"] == "added"
    assert found[ids[added]]["display_name"] == "Windows compliance - Contractors"

    with session_scope(drift.ops.engine) as session:
        ack = acknowledge(
            session,
            tenant_id=drift.ops.tenant_id,
            finding_ids=[modified["id"]],
            user_id=drift.ops.operator_id,
            user_name="Olivia Operator",
            note="Approved: CHG-1042",
        )
    assert ack.acknowledged == [modified["id"]]

    # Nothing changed: the same four findings, the acknowledgement kept.
    again = await drift.generate(baseline)
    assert again["summary_counts"]["unchanged"] == 4
    assert again["summary_counts"]["created"] == 0
    kept = _by_policy(drift.findings(baseline))
    assert {f["id"] for f in kept.values()} == {f["id"] for f in found.values()}
    assert kept[ids[setting]]["state"] == "acknowledged"
    assert kept[ids[setting]]["acknowledgement_note"] == "Approved: CHG-1042"
    assert kept[ids[setting]]["acknowledged_by_name"] == "Olivia Operator"

    # Reverting the setting resolves its finding; the other three stay open.
    old_value = modified["changes"][0]["old"]
    drift.demo.update_policy(GRAPH, DC, setting, {"passwordMinimumLength": old_value})
    await drift.sync()
    third = await drift.generate(baseline)
    assert third["summary_counts"]["removed"] == 1
    open_now = _by_policy(drift.findings(baseline))
    assert set(open_now) == {ids[assigned], ids[deleted], ids[added]}
    history = _by_policy(drift.findings(baseline, open_only=False))
    assert history[ids[setting]]["state"] == "resolved"
    assert history[ids[setting]]["resolved_at"] is not None


async def test_a_drift_that_changes_again_replaces_its_finding(drift):
    baseline = await drift.baseline()
    policy = drift.graph_id(DC, 1)
    drift.demo.update_policy(GRAPH, DC, policy, {"passwordMinimumLength": 15})
    await drift.sync()
    await drift.generate(baseline)
    [first] = drift.findings(baseline)
    with session_scope(drift.ops.engine) as session:
        acknowledge(
            session,
            tenant_id=drift.ops.tenant_id,
            finding_ids=[first["id"]],
            user_id=None,
            user_name="x",
        )
    drift.demo.update_policy(GRAPH, DC, policy, {"passwordMinimumLength": 16})
    await drift.sync()
    row = await drift.generate(baseline)
    assert row["summary_counts"]["updated"] == 1
    [second] = drift.findings(baseline)
    assert second["id"] != first["id"] and second["state"] == "new"
    assert second["changes"][0]["new"] == 16
    history = drift.findings(baseline, open_only=False)
    assert [f["state"] for f in history] == ["resolved", "new"]


async def test_volatile_only_changes_make_no_finding(drift):
    baseline = await drift.baseline()
    policy = drift.graph_id(DC, 2)
    drift.demo.update_policy(GRAPH, DC, policy, {"version": 99})  # and a new lastModified
    await drift.sync()
    versions = drift.ops.scalar(
        "SELECT count(*) FROM policy_versions WHERE policy_id = :p", p=drift.policy_id(policy)
    )
    assert versions == 2  # the sync did capture a new version …
    row = await drift.generate(baseline)
    assert drift.findings(baseline) == []  # … which is no drift
    assert row["summary_counts"]["created"] == 0


async def test_scope_limits_the_findings_touched(drift):
    baseline = await drift.baseline()
    await _change_four(drift)
    await drift.generate(baseline, policy_types=[DC])
    assert [f["policy_type"] for f in drift.findings(baseline)] == [DC]
    await drift.generate(baseline)
    # A compliance-only generation later must not resolve the device configuration finding.
    await drift.generate(baseline, policy_types=[COMPLIANCE])
    assert sorted({f["policy_type"] for f in drift.findings(baseline)}) == [COMPLIANCE, DC, SC]


async def test_a_missing_baseline_is_refused_before_a_run_exists(drift):
    with pytest.raises(NotFound, match="Baseline backup set not found"):
        await drift.ops.start("drift.generate", baseline_id=987654)
    assert (
        drift.ops.scalar("SELECT count(*) FROM operation_runs WHERE type = 'drift.generate'") == 0
    )


async def test_another_tenants_baseline_is_not_found(drift):
    other = make_tenant(drift.ops.engine, slug="other")
    with session_scope(drift.ops.engine) as session:
        foreign = BackupSet(tenant_id=other.id, name="Theirs")
        session.add(foreign)
        session.flush()
        foreign_id = foreign.id
    with pytest.raises(NotFound):
        await drift.ops.start("drift.generate", baseline_id=foreign_id)


async def test_a_baseline_deleted_before_the_body_runs_fails_the_run_cleanly(drift):
    baseline = await drift.baseline()
    with session_scope(drift.ops.engine) as session:
        delete_backup_set(session, tenant_id=drift.ops.tenant_id, set_id=baseline)
    inputs = get_type("drift.generate").identity.normalise({"baseline_id": baseline})
    result = generate_drift(
        drift.ops.engine, tenant_id=drift.ops.tenant_id, inputs=inputs, run_id=None
    )
    assert result.fatal["code"] == "backup_set.not_found"
    assert drift.ops.scalar("SELECT count(*) FROM drift_findings") == 0


async def test_readonly_cannot_start_drift(drift):
    baseline = await drift.baseline()
    with pytest.raises(Forbidden):
        await drift.ops.start("drift.generate", user_id=drift.ops.reader_id, baseline_id=baseline)


async def test_acknowledge_validates_and_isolates_tenants(drift):
    baseline = await drift.baseline()
    await _change_four(drift)
    await drift.generate(baseline)
    ids = [f["id"] for f in drift.findings(baseline)]
    other = make_tenant(drift.ops.engine, slug="other")
    with session_scope(drift.ops.engine) as session:
        foreign = acknowledge(
            session, tenant_id=other.id, finding_ids=ids, user_id=None, user_name="intruder"
        )
    assert foreign.acknowledged == [] and foreign.not_found == ids
    for bad, message in (([], "No findings selected"), ([0], "positive"), ([True], "positive")):
        with pytest.raises(DriftInputError, match=message), session_scope(drift.ops.engine) as s:
            acknowledge(
                s, tenant_id=drift.ops.tenant_id, finding_ids=bad, user_id=None, user_name="x"
            )
    for note in ("x" * 1001, "bell\x07"):
        with pytest.raises(DriftInputError), session_scope(drift.ops.engine) as s:
            acknowledge(
                s,
                tenant_id=drift.ops.tenant_id,
                finding_ids=ids,
                user_id=None,
                user_name="x",
                note=note,
            )
    assert all(f["state"] == "new" for f in drift.findings(baseline))  # nothing was written
    with session_scope(drift.ops.engine) as s:
        done = acknowledge(
            s,
            tenant_id=drift.ops.tenant_id,
            finding_ids=ids,
            user_id=None,
            user_name="x",
            note="line one\nline two",
        )
    assert done.acknowledged == ids
    with session_scope(drift.ops.engine) as s:
        twice = acknowledge(
            s, tenant_id=drift.ops.tenant_id, finding_ids=ids, user_id=None, user_name="y"
        )
    assert twice.already == ids and twice.acknowledged == []


async def test_findings_read_models_filter_and_summarise(drift):
    baseline = await drift.baseline()
    await _change_four(drift)
    await drift.generate(baseline)
    tenant = drift.ops.tenant_id
    with session_scope(drift.ops.engine) as s:
        summary = queries.summary(s, tenant_id=tenant, baseline_id=baseline)
        assert summary["by_kind"] == {"added": 1, "removed": 1, "modified": 2}
        assert summary["by_state"] == {"new": 4, "acknowledged": 0, "resolved": 0}
        page = queries.list_findings(s, tenant_id=tenant, baseline_id=baseline, kind="modified")
        assert [r["kind"] for r in page.rows] == ["modified", "modified"]
        page = queries.list_findings(s, tenant_id=tenant, baseline_id=baseline, state="resolved")
        assert page.rows == []
        page = queries.list_findings(
            s, tenant_id=tenant, baseline_id=baseline, search="contractors"
        )
        assert [r["kind"] for r in page.rows] == ["added"]
        detail = queries.get_finding(
            s,
            tenant_id=tenant,
            finding_id=next(
                r["id"]
                for r in queries.list_findings(
                    s, tenant_id=tenant, baseline_id=baseline, kind="modified", sort="changed_paths"
                ).rows
            ),
        )
        assert detail["rows"] and any(r["changed"] for r in detail["rows"])
        assert queries.get_finding(s, tenant_id=tenant + 999, finding_id=detail["id"]) is None


async def test_freshness_follows_generation_policy_sync_and_baseline_changes(drift):
    baseline = await drift.baseline()

    def fresh():
        with session_scope(drift.ops.engine) as s:
            return freshness(s, tenant_id=drift.ops.tenant_id, baseline=s.get(BackupSet, baseline))

    assert fresh().stale and "No drift" in fresh().reason
    await drift.generate(baseline)
    assert not fresh().stale
    sync = await drift.ops.run("policy.sync")
    assert sync["outcome"] == "succeeded"
    assert fresh().stale and "synced" in fresh().reason
    await drift.generate(baseline)
    assert not fresh().stale
    await drift.ops.run(
        "backup_set.add_policies",
        backup_set_id=baseline,
        policy_ids=drift.ops.policy_ids()[:1],
        include_scope_tags=False,
    )
    # The item already is in the set (nothing added): the set's last change stays put.
    assert not fresh().stale


async def test_ten_admins_opening_a_stale_page_start_one_run(drift):
    baseline = await drift.baseline()
    with session_scope(drift.ops.engine) as session:
        tenant = session.get(Tenant, drift.ops.tenant_id)
    users = [make_user(drift.ops.engine, tenant=tenant) for _ in range(3)]
    async with embedded_worker(engine=drift.ops.engine, maintenance=False) as broker:
        results = await asyncio.gather(
            *[
                start_if_stale(
                    tenant_id=drift.ops.tenant_id,
                    user_id=users[i % 3].id,
                    baseline_id=baseline,
                    dispatcher=get_dispatcher(),
                    engine=drift.ops.engine,
                )
                for i in range(10)
            ]
        )
        await broker.wait_all()
    started = {r.started.run.id for r in results if r.started is not None}
    runs = drift.ops.scalar("SELECT count(*) FROM operation_runs WHERE type = 'drift.generate'")
    assert runs == 1 and len(started) == 1
    # Fresh now: opening the page again starts nothing.
    again = await start_if_stale(
        tenant_id=drift.ops.tenant_id,
        user_id=users[0].id,
        baseline_id=baseline,
        dispatcher=RecordingDispatcher(),
        engine=drift.ops.engine,
    )
    assert again.started is None and not again.freshness.stale


async def test_a_generation_never_calls_graph(drift):
    baseline = await drift.baseline()
    before = drift.demo.stats(GRAPH)["graph_requests"]
    await drift.generate(baseline)
    assert drift.demo.stats(GRAPH)["graph_requests"] == before


def test_run_links_point_at_the_findings_of_the_baseline():
    from opsapp.operations.links import related_links

    links = related_links(
        tenant_slug="contoso", run_type="drift.generate", context={"inputs": {"baseline_id": 12}}
    )
    assert links[0] == {"label": "Drift findings", "url": "/t/contoso/drift?baseline=12"}


async def test_the_pages_scope_is_the_baselines_policy_types(drift):
    from opsapp.features.drift.freshness import baseline_scope

    picked = drift.ops.new_set("Picked")
    ids = drift.ops.policy_ids(DC, 2) + drift.ops.policy_ids(COMPLIANCE, 2)
    await drift.ops.run("backup_set.add_policies", backup_set_id=picked, policy_ids=ids)
    schedule = drift.ops.new_schedule(policy_types=[SC, "roleScopeTag"])
    empty = drift.ops.new_set("Empty")
    with session_scope(drift.ops.engine) as s:
        made = BackupSet(tenant_id=drift.ops.tenant_id, name="Nightly 1", schedule_id=schedule)
        s.add(made)
        s.flush()
        assert baseline_scope(s, s.get(BackupSet, picked)) == [COMPLIANCE, DC]
        assert baseline_scope(s, made) == ["roleScopeTag", SC]  # even before it has items
        assert baseline_scope(s, s.get(BackupSet, empty)) == []
    # A picked set's generation reports nothing of the types it does not cover as "added".
    await drift.generate(picked, policy_types=[COMPLIANCE, DC])
    assert drift.findings(picked) == []
