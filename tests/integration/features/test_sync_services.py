"""The three sync services against the in-process demo Graph (same HTTP client code as live),
on both SQLite and PostgreSQL."""

from sqlmodel import Session, func, select

from opsapp.features.groups.service import sync_groups
from opsapp.features.inventory.service import sync_inventory
from opsapp.features.policies.service import sync_policies
from opsapp.graph.demo import CONTOSO
from opsapp.models import DirectoryGroup, InventoryItem, Policy, PolicyVersion
from opsapp.operations.catalog import get_type
from opsapp.operations.results import finalise
from tests.factories import make_tenant
from tests.integration.features.conftest import Progress


def _inputs(run_type, **inputs):
    return get_type(run_type).identity.normalise(inputs)


def _count(engine, model, *where):
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


async def test_inventory_sync_observes_every_object_then_reports_unchanged(engine, graph, demo_app):
    tenant = make_tenant(engine)
    progress = Progress()
    first = await sync_inventory(
        engine=engine,
        graph=graph,
        tenant_id=tenant.id,
        inputs=_inputs("inventory.sync"),
        report_progress=progress,
    )
    outcome, counts, failures = finalise("inventory.sync", first)
    assert outcome == "succeeded" and failures == []
    assert counts["created"] == counts["total"] == CONTOSO.size == _count(engine, InventoryItem)
    assert progress.reports and progress.reports[-1]["processed"] == CONTOSO.size

    second = await sync_inventory(
        engine=engine,
        graph=graph,
        tenant_id=tenant.id,
        inputs=_inputs("inventory.sync"),
        report_progress=Progress(),
    )
    assert second.counts["unchanged"] == CONTOSO.size
    assert second.counts["created"] == second.counts["updated"] == second.counts["removed"] == 0

    changes = demo_app.state.demo.mutate("contoso", modify=3, add=2, remove=4)
    third = await sync_inventory(
        engine=engine,
        graph=graph,
        tenant_id=tenant.id,
        inputs=_inputs("inventory.sync"),
        report_progress=Progress(),
    )
    assert (third.counts["updated"], third.counts["created"], third.counts["removed"]) == (
        len(changes["modified"]),
        2,
        4,
    )
    assert _count(engine, InventoryItem, InventoryItem.removed_at.is_not(None)) == 4


async def test_inventory_sync_without_foundations_skips_them(engine, graph):
    tenant = make_tenant(engine)
    await sync_inventory(
        engine=engine,
        graph=graph,
        tenant_id=tenant.id,
        inputs=_inputs("inventory.sync", include_foundations=False),
        report_progress=Progress(),
    )
    assert (
        _count(
            engine,
            InventoryItem,
            InventoryItem.policy_type.in_(["roleScopeTag", "assignmentFilter"]),
        )
        == 0
    )
    assert _count(engine, InventoryItem) > 0


async def test_a_forbidden_type_fails_alone_and_keeps_its_rows(engine, graph, demo_app):
    tenant = make_tenant(engine)
    inputs = _inputs("inventory.sync")
    await sync_inventory(
        engine=engine, graph=graph, tenant_id=tenant.id, inputs=inputs, report_progress=Progress()
    )
    before = _count(engine, InventoryItem, InventoryItem.policy_type == "deviceCompliancePolicy")
    demo_app.state.demo.set_faults(
        "contoso", forbidden=["deviceManagement/deviceCompliancePolicies"], leak_secrets=True
    )

    result = await sync_inventory(
        engine=engine, graph=graph, tenant_id=tenant.id, inputs=inputs, report_progress=Progress()
    )

    outcome, counts, failures = finalise("inventory.sync", result)
    assert outcome == "partially_succeeded"
    assert [(f["code"], f["item"]) for f in failures] == [
        ("graph.forbidden", "deviceCompliancePolicy")
    ]
    assert CONTOSO.client_secret not in str(failures)
    assert (
        _count(
            engine,
            InventoryItem,
            InventoryItem.policy_type == "deviceCompliancePolicy",
            InventoryItem.removed_at.is_(None),
        )
        == before
    )


async def test_policy_sync_captures_versions_once_and_reuses_identical_snapshots(
    engine, graph, demo_app
):
    tenant = make_tenant(engine)
    inputs = _inputs("policy.sync")
    first = await sync_policies(
        engine=engine,
        graph=graph,
        tenant_id=tenant.id,
        inputs=inputs,
        run_id=None,
        report_progress=Progress(),
    )
    assert finalise("policy.sync", first)[0] == "succeeded"
    policies, versions = _count(engine, Policy), _count(engine, PolicyVersion)
    assert policies == versions == first.counts["created"] == CONTOSO.size

    again = await sync_policies(
        engine=engine,
        graph=graph,
        tenant_id=tenant.id,
        inputs=inputs,
        run_id=None,
        report_progress=Progress(),
    )
    assert again.counts["unchanged"] == CONTOSO.size and _count(engine, PolicyVersion) == versions

    changes = demo_app.state.demo.mutate("contoso", policy_type="deviceConfiguration", modify=2)
    third = await sync_policies(
        engine=engine,
        graph=graph,
        tenant_id=tenant.id,
        inputs=inputs,
        run_id=None,
        report_progress=Progress(),
    )
    assert third.counts["updated"] == len(changes["modified"]) == 2
    assert _count(engine, PolicyVersion) == versions + 2
    with Session(engine) as s:
        settings_policy = s.exec(
            select(Policy).where(Policy.policy_type == "settingsCatalogPolicy")
        ).first()
        version = s.get(PolicyVersion, settings_policy.current_version_id)
        assert "settings" in version.payload and version.version_number == 1


async def test_policy_sync_item_failures_make_it_partial(engine, graph, demo_app):
    tenant = make_tenant(engine)
    demo_app.state.demo.set_faults("contoso", batch_item_throttle_first=1000)
    result = await sync_policies(
        engine=engine,
        graph=graph,
        tenant_id=tenant.id,
        inputs=_inputs("policy.sync", policy_types=["deviceConfiguration", "roleScopeTag"]),
        run_id=None,
        report_progress=Progress(),
    )
    outcome, counts, failures = finalise("policy.sync", result)
    assert outcome == "partially_succeeded"  # scope tags have no assignments and succeed
    assert counts["failed"] > 0 and {f["code"] for f in failures} == {"graph.throttled"}


async def test_groups_sync_and_a_failing_listing(engine, graph, demo_app):
    tenant = make_tenant(engine)
    result = await sync_groups(
        engine=engine, graph=graph, tenant_id=tenant.id, report_progress=Progress()
    )
    assert finalise("directory_groups.sync", result)[0] == "succeeded"
    total = _count(engine, DirectoryGroup)
    assert total == result.counts["created"] > 0

    demo_app.state.demo.set_faults("contoso", error_first=1000, error_status=503, retry_after_s=0)
    failed = await sync_groups(
        engine=engine, graph=graph, tenant_id=tenant.id, report_progress=Progress()
    )
    outcome, _, failures = finalise("directory_groups.sync", failed)
    assert outcome == "failed" and failures[0]["code"] == "graph.unavailable"
    assert _count(engine, DirectoryGroup, DirectoryGroup.removed_at.is_(None)) == total
