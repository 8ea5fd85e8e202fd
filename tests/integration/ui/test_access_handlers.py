"""Every page load and every start handler authorizes on the server: anonymous → sign-in,
non-member → 404, readonly → no start (the service refuses, nothing is created)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from opsapp.db import session_scope
from opsapp.models import OperationRun
from opsapp.ui.pages.groups import GroupListState
from opsapp.ui.pages.inventory import InventoryLandingState
from opsapp.ui.pages.policies import PolicyListState
from opsapp.ui.state import tenant as tenant_state
from tests.factories import make_user
from tests.fakes import BrokenDispatcher
from tests.integration.ui.conftest import describe, make_state, run_handler, token_for

INVENTORY = dict(route="/t/[tenant_slug]/inventory", path="/t/contoso/inventory")


def _runs(engine) -> list[OperationRun]:
    with session_scope(engine) as session:
        return list(session.exec(select(OperationRun).order_by(OperationRun.id)))


def _inventory(token: str, slug: str = "contoso"):
    return make_state(
        InventoryLandingState,
        route=INVENTORY["route"],
        path=f"/t/{slug}/inventory",
        params={"tenant_slug": slug},
        token=token,
    )


async def test_anonymous_page_load_redirects_to_sign_in_and_back(app_db, contoso):
    state = make_state(
        InventoryLandingState,
        route=INVENTORY["route"],
        path="/t/contoso/inventory?q=vpn",
        params={"tenant_slug": "contoso", "q": "vpn"},
    )

    events = await run_handler(state.load())

    assert "/login?next=%2Ft%2Fcontoso%2Finventory%3Fq%3Dvpn" in describe(events)
    assert state.rows == []


async def test_non_member_gets_not_found_and_no_rows(app_db, contoso, other_tenant):
    stranger = make_user(app_db, tenant=other_tenant, role="owner")
    state = _inventory(token_for(app_db, stranger))

    await run_handler(state.load())

    assert state.access == "not_found"
    assert state.tenant_name == "" and state.rows == []


async def test_unknown_tenant_looks_like_a_foreign_one(app_db, contoso, users):
    state = _inventory(token_for(app_db, users["owner"]), slug="no-such-tenant")

    await run_handler(state.load())

    assert state.access == "not_found"


async def test_member_sees_the_page_with_role(app_db, contoso, users):
    state = _inventory(token_for(app_db, users["readonly"]))

    await run_handler(state.load())

    assert state.access == "ok"
    assert (state.tenant_name, state.role_label) == ("Contoso", "Read-only")
    assert state.can_start is False
    assert state.loaded is True


async def test_operator_can_start(app_db, contoso, users):
    state = _inventory(token_for(app_db, users["operator"]))
    await run_handler(state.load())
    assert state.can_start is True


async def test_start_queues_a_run_and_toasts_view_run(app_db, contoso, users, dispatcher):
    state = _inventory(token_for(app_db, users["operator"]))

    events = await run_handler(state.sync_now())

    runs = _runs(app_db)
    assert len(runs) == 1 and runs[0].type == "inventory.sync"
    assert dispatcher.dispatched == [runs[0].id]
    text = describe(events)
    assert "Inventory sync queued" in text
    assert "View run" in text and f"/t/contoso/operations/{runs[0].id}" in text
    assert state.starting == ""  # the busy state is cleared again


async def test_double_click_starts_one_run(app_db, contoso, users, dispatcher):
    state = _inventory(token_for(app_db, users["operator"]))

    first = describe(await run_handler(state.sync_now()))
    second = describe(await run_handler(state.sync_now()))

    runs = _runs(app_db)
    assert len(runs) == 1
    assert "queued" in first and "already running" in second
    assert f"/t/contoso/operations/{runs[0].id}" in second


async def test_two_users_starting_the_same_sync_share_one_run(app_db, contoso, users, dispatcher):
    one = _inventory(token_for(app_db, users["operator"]))
    two = _inventory(token_for(app_db, users["manager"]))

    first = describe(await run_handler(one.sync_now()))
    second = describe(await run_handler(two.sync_now()))

    runs = _runs(app_db)
    assert len(runs) == 1
    link = f"/t/contoso/operations/{runs[0].id}"
    assert link in first and link in second
    assert "already running" in second
    assert runs[0].initiator_name == users["operator"].display_name  # reuse keeps the initiator


@pytest.mark.parametrize(
    ("state_cls", "handler", "path"),
    [
        (InventoryLandingState, "sync_now", "inventory"),
        (PolicyListState, "sync_now", "policies"),
        (GroupListState, "sync_now", "directory/groups"),
    ],
)
async def test_readonly_start_event_creates_nothing_and_is_refused(
    app_db, contoso, users, dispatcher, state_cls, handler, path
):
    state = make_state(
        state_cls,
        route=f"/t/[tenant_slug]/{path}",
        path=f"/t/contoso/{path}",
        params={"tenant_slug": "contoso"},
        token=token_for(app_db, users["readonly"]),
    )

    events = describe(await run_handler(getattr(state, handler)()))

    assert _runs(app_db) == [] and dispatcher.dispatched == []
    assert "Not allowed" in events


async def test_start_event_from_a_non_member_creates_nothing(
    app_db, contoso, other_tenant, dispatcher
):
    stranger = make_user(app_db, tenant=other_tenant, role="owner")
    state = _inventory(token_for(app_db, stranger))

    events = describe(await run_handler(state.sync_now()))

    assert _runs(app_db) == []
    assert "Not found" in events


async def test_start_event_without_a_session_redirects_and_creates_nothing(
    app_db, contoso, dispatcher
):
    state = _inventory("forged-or-expired-token")

    events = describe(await run_handler(state.sync_now()))

    assert _runs(app_db) == []
    assert "/login" in events


async def test_dispatch_failure_toasts_an_error_that_links_the_failed_run(
    app_db, contoso, users, monkeypatch
):
    monkeypatch.setattr(tenant_state, "get_dispatcher", lambda: BrokenDispatcher())
    state = _inventory(token_for(app_db, users["operator"]))

    events = describe(await run_handler(state.sync_now()))

    runs = _runs(app_db)
    assert len(runs) == 1 and runs[0].outcome == "failed"
    assert "could not be queued" in events
    assert f"/t/contoso/operations/{runs[0].id}" in events
    assert "hunter2" not in events


@pytest.mark.parametrize("state_cls", [InventoryLandingState, PolicyListState, GroupListState])
def test_page_handlers_run_on_the_page_state_not_a_parent(app_db, state_cls):
    # Reflex runs an inherited handler on the state that defined it; a page's own handlers must
    # be defined (or mixed in) on the page state, or `type(self)` is the wrong class there.
    for name in ("load", "sync_now", "watch_tick", "sort_by", "next_page"):
        assert getattr(state_cls, name).state_full_name == state_cls.get_full_name(), name


async def test_the_page_follows_its_sync_and_reloads_when_it_completes(
    app_db, contoso, users, dispatcher
):
    state = _inventory(token_for(app_db, users["operator"]))
    await run_handler(state.sync_now())
    run = _runs(app_db)[0]
    assert (state.watch_run_id, state.watch_type) == (run.id, "inventory.sync")

    assert await run_handler(state.watch_tick()) == []  # still queued: keep polling

    with session_scope(app_db) as session:
        row = session.get(OperationRun, run.id)
        row.status, row.outcome = "completed", "succeeded"
        session.add(row)
    events = await run_handler(state.watch_tick())

    assert state.watch_run_id == 0
    assert [getattr(e, "fn", e).__name__ for e in events] == ["load"]
