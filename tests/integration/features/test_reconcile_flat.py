"""The shared reconcile writer without an up-front load of the stored rows (inventory and
groups sync): chunk boundaries, repeats across chunks, removals, on SQLite and PostgreSQL."""

import pytest
from sqlmodel import Session, func, select

from opsapp.features import reconcile
from opsapp.features.groups.service import sync_groups
from opsapp.features.inventory.service import sync_inventory
from opsapp.features.reconcile import Reconciler, Tally
from opsapp.graph.demo import CONTOSO
from opsapp.models import DirectoryGroup, InventoryItem
from opsapp.models.types import utcnow
from opsapp.operations.catalog import get_type
from tests.factories import make_tenant


async def _no_progress(counts, final=False):
    return None


def _count(engine, model, *where):
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


def _reconciler(engine, tenant_id, tally):
    t = InventoryItem.__table__
    return Reconciler(
        engine,
        InventoryItem,
        scope={"tenant_id": tenant_id, "policy_type": "deviceConfiguration"},
        where=[t.c.tenant_id == tenant_id, t.c.policy_type == "deviceConfiguration"],
        now=utcnow(),
        tally=tally,
    )


@pytest.mark.parametrize("chunk", [4, 5, 6])
async def test_chunks_repeats_and_removals(engine, monkeypatch, chunk):
    monkeypatch.setattr(reconcile, "CHUNK", chunk)
    tenant = make_tenant(engine)
    ids = [f"id-{n}" for n in range(10)]
    first = Tally()
    rec = _reconciler(engine, tenant.id, first)
    for n, gid in enumerate(ids):
        await rec.observe(gid, {"display_name": gid}, f"h{n}")
        if n % 3 == 2:
            await rec.observe(ids[0], {"display_name": ids[0]}, "h0")  # a repeat
    assert await rec.finish() == 0
    assert (first.counts["total"], first.counts["processed"], first.counts["created"]) == (10,) * 3
    assert _count(engine, InventoryItem) == 10

    second = Tally()
    rec = _reconciler(engine, tenant.id, second)
    for n, gid in enumerate(ids[:8]):  # two are gone, one changed
        await rec.observe(gid, {"display_name": gid}, "changed" if n == 3 else f"h{n}")
        await rec.observe(ids[1], {"display_name": ids[1]}, "h1")
    assert await rec.finish() == 2
    c = second.counts
    assert (c["total"], c["processed"], c["unchanged"], c["updated"], c["removed"]) == (
        8,
        8,
        7,
        1,
        2,
    )
    assert _count(engine, InventoryItem, InventoryItem.removed_at.is_not(None)) == 2

    back = Tally()
    rec = _reconciler(engine, tenant.id, back)
    for n, gid in enumerate(ids):
        await rec.observe(gid, {"display_name": gid}, "changed" if n == 3 else f"h{n}")
    await rec.finish()
    assert (back.counts["updated"], back.counts["unchanged"], back.counts["removed"]) == (2, 8, 0)


async def test_inventory_and_groups_sync_in_small_chunks(engine, graph, demo_app, monkeypatch):
    monkeypatch.setattr(reconcile, "CHUNK", 7)
    tenant = make_tenant(engine)
    inputs = get_type("inventory.sync").identity.normalise({})
    first = await sync_inventory(
        engine=engine, graph=graph, tenant_id=tenant.id, inputs=inputs, report_progress=_no_progress
    )
    assert first.counts["created"] == first.counts["total"] == CONTOSO.size
    demo_app.state.demo.mutate("contoso", remove=3)
    second = await sync_inventory(
        engine=engine, graph=graph, tenant_id=tenant.id, inputs=inputs, report_progress=_no_progress
    )
    assert (second.counts["removed"], second.counts["unchanged"]) == (3, CONTOSO.size - 3)

    groups = await sync_groups(
        engine=engine, graph=graph, tenant_id=tenant.id, report_progress=_no_progress
    )
    assert groups.counts["created"] == _count(engine, DirectoryGroup) > 7
    again = await sync_groups(
        engine=engine, graph=graph, tenant_id=tenant.id, report_progress=_no_progress
    )
    assert again.counts["unchanged"] == groups.counts["created"]
