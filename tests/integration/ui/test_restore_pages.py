"""Restore pages: handlers called as a browser's events would call them — an owner creates a
draft, narrows it, previews it against the (in-process) demo Graph and executes it once; an
operator or reader sees it but every crafted change is refused; a stranger gets 404."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from opsapp.db import session_scope
from opsapp.graph.demo import shared_demo_app
from opsapp.models import BackupSet, OperationRun, RestoreRun
from opsapp.ui.state.restore import RestoreDetailState, RestoreListState
from tests.factories import make_user
from tests.integration.backups.conftest import sync_contoso
from tests.integration.ui.conftest import describe, make_state, run_handler, token_for

LIST_ROUTE = "/t/[tenant_slug]/restore"
DETAIL_ROUTE = "/t/[tenant_slug]/restore/[restore_run_id]"


@pytest.fixture
def demo_graph():
    graph = shared_demo_app().state.demo
    graph.reset()
    yield graph
    graph.reset()


@pytest.fixture
def restore_dispatcher(dispatcher, monkeypatch):
    from opsapp.ui.state import restore as restore_state

    monkeypatch.setattr(restore_state, "get_dispatcher", lambda: dispatcher)
    return dispatcher


async def _backup(engine, tenant, per_type: int = 2) -> int:
    """Contoso synced, and a set of `per_type` policies of three types at their versions."""
    await sync_contoso(engine, tenant.id)
    with session_scope(engine) as session:
        backup_set = BackupSet(tenant_id=tenant.id, name="Source")
        session.add(backup_set)
        session.flush()
        set_id = backup_set.id
    with engine.begin() as conn:
        for policy_type in ("deviceConfiguration", "deviceCompliancePolicy", "roleScopeTag"):
            conn.execute(
                sa.text(
                    "INSERT INTO backup_items (backup_set_id, tenant_id, policy_id, "
                    "policy_version_id, policy_type, display_name, include_assignments, "
                    "include_scope_tags, added_at) SELECT :s, tenant_id, id, current_version_id,"
                    " policy_type, display_name, :yes, :yes, :now FROM policies "
                    "WHERE tenant_id = :t AND policy_type = :p ORDER BY id LIMIT :n"
                ),
                {
                    "s": set_id,
                    "t": tenant.id,
                    "p": policy_type,
                    "n": per_type,
                    "yes": True,
                    "now": "2026-01-01 00:00:00",
                },
            )
    return set_id


def _list(token: str, slug: str = "contoso"):
    return make_state(
        RestoreListState,
        route=LIST_ROUTE,
        path=f"/t/{slug}/restore",
        params={"tenant_slug": slug},
        token=token,
    )


def _detail(token: str, restore_id, slug: str = "contoso"):
    return make_state(
        RestoreDetailState,
        route=DETAIL_ROUTE,
        path=f"/t/{slug}/restore/{restore_id}",
        params={"tenant_slug": slug, "restore_run_id": str(restore_id)},
        token=token,
    )


def _scalar(engine, sql: str):
    with engine.connect() as conn:  # closed at once: an open one would block the next TRUNCATE
        return conn.execute(sa.text(sql)).scalar()


def _runs(engine) -> list[dict]:
    t = OperationRun.__table__
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(sa.select(t).where(t.c.type == "restore.execute")).mappings()
        ]


async def test_owner_drafts_narrows_previews_and_executes_once(
    app_db, contoso, users, demo_graph, restore_dispatcher
):
    set_id = await _backup(app_db, contoso)
    owner = token_for(app_db, users["owner"])
    listing = _list(owner)
    await run_handler(listing.load())
    assert listing.can_restore and listing.restores == []
    await run_handler(listing.open_new())
    assert listing.chosen_set == str(set_id)
    said = describe(await run_handler(listing.create()))
    restore_id = _scalar(app_db, "SELECT max(id) FROM restore_runs")
    assert f"/t/contoso/restore/{restore_id}" in said

    page = _detail(owner, restore_id)
    await run_handler(page.load())
    assert page.restore["status"] == "draft" and len(page.items) == 6 and len(page.choices) == 6
    await run_handler(page.toggle_item(page.choices[0]["id"], False))
    assert len(page.items) == 5
    await run_handler(page.select_type("roleScopeTag"))
    assert {i["policy_type"] for i in page.items} == {"roleScopeTag"}
    await run_handler(page.select_all())
    await run_handler(page.set_option("restore_scope_tags", False))
    assert page.restore["restore_scope_tags"] is False
    assert _runs(app_db) == []

    said = describe(await run_handler(page.preview()))
    assert "Preview ready" in said and "6 unchanged" in said
    assert page.restore["status"] == "previewed"
    [run] = _runs(app_db)
    assert run["status"] == "queued" and run["dispatched_at"] is None
    await run_handler(page.open_confirm())
    assert page.confirm_open
    said = describe(await run_handler(page.execute()))
    assert "Restore queued" in said and "View run" in said
    again = describe(await run_handler(page.execute()))
    assert "already running" in again
    assert restore_dispatcher.dispatched == [run["id"]]


@pytest.mark.parametrize("role", ["operator", "readonly"])
async def test_others_see_the_restore_but_every_change_is_refused(
    app_db, contoso, users, demo_graph, restore_dispatcher, role
):
    set_id = await _backup(app_db, contoso, per_type=1)
    owner_page = _list(token_for(app_db, users["owner"]))
    await run_handler(owner_page.load())
    await run_handler(owner_page.open_new())
    owner_page.chosen_set = str(set_id)
    await run_handler(owner_page.create())
    restore_id = _scalar(app_db, "SELECT max(id) FROM restore_runs")

    token = token_for(app_db, users[role])
    page = _detail(token, restore_id)
    await run_handler(page.load())
    assert page.access == "ok" and not page.can_restore
    for event in (
        page.preview(),
        page.execute(),
        page.discard(),
        page.select_all(),
        page.toggle_item(page.choices[0]["id"], False),
        page.open_confirm(),
        page.set_option("restore_assignments", False),
    ):
        assert "Not allowed" in describe(await run_handler(event))
    listing = _list(token)
    await run_handler(listing.load())
    assert "Not allowed" in describe(await run_handler(listing.create()))
    with session_scope(app_db) as session:
        restore = session.get(RestoreRun, restore_id)
        assert (restore.status, restore.restore_assignments) == ("draft", True)
    assert _runs(app_db) == [] and restore_dispatcher.dispatched == []
    assert _scalar(app_db, "SELECT count(*) FROM restore_runs") == 1


async def test_strangers_and_unknown_ids_get_404(app_db, contoso, other_tenant, users, demo_graph):
    set_id = await _backup(app_db, contoso, per_type=1)
    listing = _list(token_for(app_db, users["owner"]))
    await run_handler(listing.load())
    await run_handler(listing.open_new())
    listing.chosen_set = str(set_id)
    await run_handler(listing.create())
    restore_id = _scalar(app_db, "SELECT max(id) FROM restore_runs")
    stranger = token_for(app_db, make_user(app_db, tenant=other_tenant, role="owner"))
    for page in (_detail(stranger, restore_id), _detail(stranger, restore_id, slug="fabrikam")):
        await run_handler(page.load())
        assert page.access == "not_found" and page.restore == {}
    for raw in ("999999", "x", "-3"):
        page = _detail(token_for(app_db, users["owner"]), raw)
        await run_handler(page.load())
        assert page.access == "not_found"
