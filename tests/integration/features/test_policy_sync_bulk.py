"""policy.sync's set-based writes and pipelined reads: batch boundaries, one failing object
in a batch, repeats in a listing, version reuse, removals, and two syncs racing — on both
SQLite and PostgreSQL, against the in-process demo Graph."""

import asyncio

import pytest
from sqlmodel import Session, func, select

from opsapp.features.policies import service
from opsapp.features.policies.service import sync_policies
from opsapp.graph.demo import CONTOSO, make_demo_graph_client
from opsapp.models import Policy, PolicyVersion
from opsapp.operations.catalog import get_type
from opsapp.operations.results import finalise
from tests.factories import make_tenant
from tests.integration.features.conftest import Progress

DEVICE_CONFIGURATION = "deviceConfiguration"
SETTINGS_CATALOG = "settingsCatalogPolicy"


def _inputs(*types):
    return get_type("policy.sync").identity.normalise({"policy_types": list(types)})


def _count(engine, model, *where):
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


def _live(demo_app, key):
    return demo_app.state.demo.tenant("contoso").data.policies[key].live_count()


async def _sync(engine, graph, tenant, *types, progress=None):
    return await sync_policies(
        engine=engine,
        graph=graph,
        tenant_id=tenant.id,
        inputs=_inputs(*types),
        run_id=None,
        report_progress=progress or Progress(),
    )


def _assert_consistent(engine):
    """Every policy points at a version of its own with its current hash."""
    with Session(engine) as s:
        for policy in s.exec(select(Policy)).all():
            version = s.get(PolicyVersion, policy.current_version_id)
            assert version is not None and version.policy_id == policy.id
            assert version.content_hash == policy.content_hash


@pytest.mark.parametrize("shift", [0, -1, +1], ids=["one-batch", "batch-plus-one", "under"])
async def test_batch_boundaries_store_everything_once(engine, graph, demo_app, monkeypatch, shift):
    size = _live(demo_app, DEVICE_CONFIGURATION)
    monkeypatch.setattr(service, "BATCH", size + shift)
    tenant = make_tenant(engine)
    progress = Progress()
    first = await _sync(engine, graph, tenant, DEVICE_CONFIGURATION, progress=progress)
    outcome, counts, failures = finalise("policy.sync", first)
    assert outcome == "succeeded" and failures == []
    assert counts["total"] == counts["processed"] == counts["created"] == size
    assert _count(engine, Policy) == _count(engine, PolicyVersion) == size
    assert progress.reports[-1]["processed"] == size
    processed = [r["processed"] for r in progress.reports]
    assert processed == sorted(processed)  # progress only moves forward
    _assert_consistent(engine)

    again = await _sync(engine, graph, tenant, DEVICE_CONFIGURATION)
    assert again.counts["unchanged"] == again.counts["total"] == size
    assert again.counts["created"] == again.counts["updated"] == again.counts["removed"] == 0
    assert _count(engine, PolicyVersion) == size


async def test_settings_come_through_batch_as_they_read_one_by_one(engine, graph, monkeypatch):
    monkeypatch.setattr(service, "BATCH", 7)
    tenant = make_tenant(engine)
    await _sync(engine, graph, tenant, SETTINGS_CATALOG)
    with Session(engine) as s:
        policies = s.exec(select(Policy).order_by(Policy.id)).all()
        versions = {p.graph_id: s.get(PolicyVersion, p.current_version_id) for p in policies}
    assert versions
    for graph_id in list(versions)[:5]:
        settings = [x async for x in graph.iter_policy_settings(graph_id)]
        assert versions[graph_id].payload["settings"] == settings
        assert settings  # the demo's settings catalog policies have settings


async def test_one_failing_object_fails_alone_in_its_batch(engine, graph, demo_app, monkeypatch):
    size = _live(demo_app, DEVICE_CONFIGURATION)
    monkeypatch.setattr(service, "BATCH", size // 2)
    coll = demo_app.state.demo.tenant("contoso").data.policies[DEVICE_CONFIGURATION]
    broken = coll.id_at(3)
    demo_app.state.demo.set_faults(
        "contoso", forbidden=[f"deviceManagement/deviceConfigurations/{broken}/assignments"]
    )
    tenant = make_tenant(engine)
    result = await _sync(engine, graph, tenant, DEVICE_CONFIGURATION)
    outcome, counts, failures = finalise("policy.sync", result)
    assert outcome == "partially_succeeded"
    assert [(f["code"], f["item"]) for f in failures] == [
        ("graph.forbidden", f"{DEVICE_CONFIGURATION}/{broken}")
    ]
    assert (counts["failed"], counts["created"], counts["total"]) == (1, size - 1, size)
    assert _count(engine, Policy) == _count(engine, PolicyVersion) == size - 1
    assert _count(engine, Policy, Policy.graph_id == broken) == 0

    demo_app.state.demo.clear_faults("contoso")
    healed = await _sync(engine, graph, tenant, DEVICE_CONFIGURATION)
    assert (healed.counts["created"], healed.counts["unchanged"]) == (1, size - 1)
    assert healed.counts["removed"] == healed.counts["failed"] == 0


async def test_a_failing_object_that_is_stored_is_kept(engine, graph, demo_app):
    tenant = make_tenant(engine)
    await _sync(engine, graph, tenant, DEVICE_CONFIGURATION)
    coll = demo_app.state.demo.tenant("contoso").data.policies[DEVICE_CONFIGURATION]
    broken = coll.id_at(0)
    demo_app.state.demo.set_faults(
        "contoso", forbidden=[f"deviceManagement/deviceConfigurations/{broken}/assignments"]
    )
    result = await _sync(engine, graph, tenant, DEVICE_CONFIGURATION)
    assert (result.counts["failed"], result.counts["removed"]) == (1, 0)
    assert _count(engine, Policy, Policy.removed_at.is_not(None)) == 0


async def test_repeats_in_a_listing_count_once(engine, graph, demo_app, monkeypatch):
    size = _live(demo_app, DEVICE_CONFIGURATION)
    monkeypatch.setattr(service, "BATCH", 4)
    listing = graph.list_policies

    async def repeating(policy_type, **kw):
        met = []
        async for item in listing(policy_type, **kw):
            met.append(item)
            yield item
            if len(met) % 3 == 0:
                yield dict(met[0])  # an early one again, across batch boundaries
                yield dict(item)  # and the one just given
        yield dict(met[-1])

    monkeypatch.setattr(graph, "list_policies", repeating)
    tenant = make_tenant(engine)
    first = await _sync(engine, graph, tenant, DEVICE_CONFIGURATION)
    assert first.counts["total"] == first.counts["created"] == size
    second = await _sync(engine, graph, tenant, DEVICE_CONFIGURATION)
    assert second.counts["total"] == second.counts["unchanged"] == size
    assert _count(engine, Policy) == _count(engine, PolicyVersion) == size


async def test_changes_removals_and_content_coming_back(engine, graph, demo_app, monkeypatch):
    monkeypatch.setattr(service, "BATCH", 9)
    tenant = make_tenant(engine)
    await _sync(engine, graph, tenant, DEVICE_CONFIGURATION)
    versions = _count(engine, PolicyVersion)
    data = demo_app.state.demo.tenant("contoso").data
    coll = data.policies[DEVICE_CONFIGURATION]
    changed = data.mutate(policy_type=DEVICE_CONFIGURATION, modify=1)["modified"][0]["id"]
    removed = data.mutate(policy_type=DEVICE_CONFIGURATION, remove=2)["removed"]

    third = await _sync(engine, graph, tenant, DEVICE_CONFIGURATION)
    assert (third.counts["updated"], third.counts["removed"]) == (1, len(removed))
    assert _count(engine, PolicyVersion) == versions + 1
    with Session(engine) as s:
        policy = s.exec(select(Policy).where(Policy.graph_id == changed)).one()
        assert s.get(PolicyVersion, policy.current_version_id).version_number == 2
    assert _count(engine, Policy, Policy.removed_at.is_not(None)) == len(removed)

    coll.overrides.pop(changed)  # back to the content first captured
    for gone in removed:
        coll.deleted.discard(gone["id"])  # and the removed ones are back, unchanged
    fourth = await _sync(engine, graph, tenant, DEVICE_CONFIGURATION)
    assert (fourth.counts["updated"], fourth.counts["removed"]) == (1 + len(removed), 0)
    assert _count(engine, PolicyVersion) == versions + 1  # every version was reused
    with Session(engine) as s:
        policy = s.exec(select(Policy).where(Policy.graph_id == changed)).one()
        assert s.get(PolicyVersion, policy.current_version_id).version_number == 1
    assert _count(engine, Policy, Policy.removed_at.is_not(None)) == 0
    _assert_consistent(engine)


async def test_two_syncs_racing_store_each_policy_once(engine, demo_app, monkeypatch):
    monkeypatch.setattr(service, "BATCH", 6)
    tenant = make_tenant(engine)
    clients = [
        make_demo_graph_client(CONTOSO, app=demo_app, max_sleep=0.01, backoff_base=0.001)
        for _ in range(2)
    ]
    try:
        results = await asyncio.gather(
            *(_sync(engine, c, tenant, DEVICE_CONFIGURATION, SETTINGS_CATALOG) for c in clients)
        )
    finally:
        for c in clients:
            await c.aclose()
    size = _live(demo_app, DEVICE_CONFIGURATION) + _live(demo_app, SETTINGS_CATALOG)
    for result in results:
        outcome, counts, failures = finalise("policy.sync", result)
        assert outcome == "succeeded" and failures == []
        assert counts["total"] == size
        assert counts["created"] + counts["unchanged"] + counts["updated"] == size
    assert sum(r.counts["created"] for r in results) == size
    assert _count(engine, Policy) == _count(engine, PolicyVersion) == size
    _assert_consistent(engine)


async def test_policy_types_are_kept_apart(engine, graph, demo_app):
    tenant = make_tenant(engine)
    await _sync(engine, graph, tenant, DEVICE_CONFIGURATION)
    other = await _sync(engine, graph, tenant, SETTINGS_CATALOG)
    assert other.counts["removed"] == 0  # another type's rows are outside the sweep
    assert _count(engine, Policy, Policy.removed_at.is_not(None)) == 0
    assert _count(engine, Policy) == _live(demo_app, DEVICE_CONFIGURATION) + _live(
        demo_app, SETTINGS_CATALOG
    )


async def test_a_write_that_loses_the_race_adopts_the_winners_rows(engine, graph):
    """The lookup said "new" but another sync inserted the rows before this write: the INSERT
    skips them (ON CONFLICT DO NOTHING) and they are compared like stored rows."""
    from opsapp.features.policies.service import _complete_all
    from opsapp.features.policies.snapshots import Snapshot, store_snapshots
    from opsapp.models.types import utcnow

    tenant = make_tenant(engine)
    items = [item async for item in graph.list_policies(DEVICE_CONFIGURATION)][:8]
    snaps = await _complete_all(graph, DEVICE_CONFIGURATION, items, [])
    winner = store_snapshots(
        engine, tenant_id=tenant.id, snapshots=snaps[:5], known={}, now=utcnow(), run_id=None
    )
    assert winner.counts == {"created": 5}
    first = snaps[0]
    snaps[0] = Snapshot(
        first.policy_type,
        first.graph_id,
        {**first.payload, "description": "changed meanwhile"},
        first.assignments,
    )
    loser = store_snapshots(
        engine, tenant_id=tenant.id, snapshots=snaps, known={}, now=utcnow(), run_id=None
    )
    assert loser.counts == {"created": 3, "unchanged": 4, "updated": 1}
    assert set(loser.row_ids) == {s.graph_id for s in snaps}
    assert _count(engine, Policy) == 8 and _count(engine, PolicyVersion) == 9
    _assert_consistent(engine)


async def test_a_listing_failing_part_way_keeps_what_it_read_and_removes_nothing(
    engine, graph, demo_app, monkeypatch
):
    from opsapp.graph.errors import bad_response

    monkeypatch.setattr(service, "BATCH", 5)
    tenant = make_tenant(engine)
    await _sync(engine, graph, tenant, DEVICE_CONFIGURATION)
    listing = graph.list_policies

    async def failing(policy_type, **kw):
        n = 0
        async for item in listing(policy_type, **kw):
            n += 1
            if n > 12:
                raise bad_response(path="deviceManagement/deviceConfigurations", detail="broken")
            yield item

    monkeypatch.setattr(graph, "list_policies", failing)
    result = await _sync(engine, graph, tenant, DEVICE_CONFIGURATION)
    outcome, counts, failures = finalise("policy.sync", result)
    assert outcome == "partially_succeeded"
    assert [f["item"] for f in failures] == [DEVICE_CONFIGURATION]
    assert (counts["unchanged"], counts["failed"], counts["removed"]) == (12, 1, 0)
    assert _count(engine, Policy, Policy.removed_at.is_not(None)) == 0


async def test_a_database_error_while_reading_ahead_ends_the_sync(engine, graph, monkeypatch):
    monkeypatch.setattr(service, "BATCH", 5)
    tenant = make_tenant(engine)
    await _sync(engine, graph, tenant, DEVICE_CONFIGURATION)  # stored rows: lookups needed

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(service, "lookup_known", broken)
    with pytest.raises(RuntimeError, match="went away"):
        await asyncio.wait_for(_sync(engine, graph, tenant, DEVICE_CONFIGURATION), timeout=30)


async def test_a_first_sync_looks_up_only_what_it_may_have_written(engine, graph, monkeypatch):
    """An empty scope needs no lookups, except for a repeat of an object already written."""
    monkeypatch.setattr(service, "BATCH", 4)
    looked_up = []
    real = service.lookup_known

    def counting(*args, **kwargs):
        looked_up.append(list(kwargs["graph_ids"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "lookup_known", counting)
    listing = graph.list_policies

    async def repeating(policy_type, **kw):
        met = []
        async for item in listing(policy_type, **kw):
            met.append(item)
            yield item
        yield dict(met[0])  # long written by now

    monkeypatch.setattr(graph, "list_policies", repeating)
    tenant = make_tenant(engine)
    first = await _sync(engine, graph, tenant, DEVICE_CONFIGURATION)
    assert first.counts["total"] == first.counts["created"] == _count(engine, Policy)
    first_id = (await anext(aiter(listing(DEVICE_CONFIGURATION))))["id"]
    assert [first_id] in looked_up and all(len(ids) <= 4 for ids in looked_up)
    assert len(looked_up) <= 2  # the repeat (and a rare false positive of the filter)


async def test_settings_failures_fail_their_policies_only(engine, graph, demo_app, monkeypatch):
    monkeypatch.setattr(service, "BATCH", 30)
    coll = demo_app.state.demo.tenant("contoso").data.policies[SETTINGS_CATALOG]
    broken = coll.id_at(1)
    demo_app.state.demo.set_faults(
        "contoso", forbidden=[f"deviceManagement/configurationPolicies/{broken}/settings"]
    )
    tenant = make_tenant(engine)
    size = _live(demo_app, SETTINGS_CATALOG)
    result = await _sync(engine, graph, tenant, SETTINGS_CATALOG)
    assert [f["item"] for f in result.item_failures] == [f"{SETTINGS_CATALOG}/{broken}"]
    assert (result.counts["failed"], result.counts["created"]) == (1, size - 1)

    demo_app.state.demo.clear_faults("contoso")
    real = graph.list_policy_settings_many
    calls = []

    async def first_batch_fails(ids):
        calls.append(ids)
        if len(calls) == 1:
            from opsapp.graph.errors import bad_response

            raise bad_response(path="$batch", detail="the whole $batch failed")
        return await real(ids)

    monkeypatch.setattr(graph, "list_policy_settings_many", first_batch_fails)
    again = await _sync(engine, graph, tenant, SETTINGS_CATALOG)
    assert again.counts["failed"] == len(calls[0])  # the policies of that $batch only
    assert again.counts["created"] == int(broken not in calls[0])
    assert again.counts["total"] == size
    assert {f["item"] for f in again.item_failures} == {
        f"{SETTINGS_CATALOG}/{gid}" for gid in calls[0]
    }


async def test_new_policies_and_their_versions_are_one_statement_on_postgresql(engine, graph):
    """PostgreSQL writes a batch of new policies with their versions in one statement (one
    round trip per batch); the rows are the same as on SQLite: each policy points at its one
    version, numbered 1, holding what was read."""
    import sqlalchemy as sa

    from opsapp.features.policies.service import _complete_all
    from opsapp.features.policies.snapshots import store_snapshots
    from opsapp.models.types import utcnow

    tenant = make_tenant(engine)
    items = [item async for item in graph.list_policies(SETTINGS_CATALOG)][:30]
    snaps = await _complete_all(graph, SETTINGS_CATALOG, items, [])
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        stored = store_snapshots(
            engine, tenant_id=tenant.id, snapshots=snaps, known={}, now=utcnow(), run_id=None
        )
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert stored.counts == {"created": 30}
    if engine.dialect.name == "postgresql":
        assert len(statements) == 1
    assert _count(engine, Policy) == _count(engine, PolicyVersion) == 30
    _assert_consistent(engine)
    with Session(engine) as s:
        versions = {v.policy_id: v for v in s.exec(select(PolicyVersion)).all()}
    for snap in snaps:
        version = versions[stored.row_ids[snap.graph_id]]
        assert version.version_number == 1 and version.content_hash == snap.digest
        assert version.payload == snap.stored_payload
        assert version.assignments == snap.assignments and version.scope_tags == snap.scope_tags
