"""Page handlers: URL ↔ filters for the lists, the run detail's 404s, sign-in, the bell."""

from __future__ import annotations

from datetime import timedelta

from opsapp.db import session_scope
from opsapp.models import Notification, OperationRun
from opsapp.models.types import utcnow
from opsapp.operations.service import ensure_run
from opsapp.ui.pages.inventory import InventoryLandingState
from opsapp.ui.pages.login import SignInState
from opsapp.ui.pages.operation_detail import OperationDetailState
from opsapp.ui.pages.operations import OperationsListState
from opsapp.ui.state.notifications import NotificationsState
from tests.factories import PASSWORD
from tests.integration.ui.conftest import describe, make_state, run_handler, token_for

OPS_ROUTE = "/t/[tenant_slug]/operations"


def _run(engine, tenant, user=None, run_type="inventory.sync", *, completed=True, outcome="failed"):
    with session_scope(engine) as session:
        run = ensure_run(
            session,
            tenant_id=tenant.id,
            run_type=run_type,
            inputs={"n": utcnow().timestamp()} if run_type == "test" else {},
            user_id=user.id if user else None,
            initiator_name=user.display_name if user else "System",
        ).run
    if completed:
        with session_scope(engine) as session:
            row = session.get(OperationRun, run.id)
            row.status, row.outcome, row.completed_at = "completed", outcome, utcnow()
            session.add(row)
    return run


def _ops(token: str, params: dict[str, str] | None = None, slug: str = "contoso"):
    query = "&".join(f"{k}={v}" for k, v in (params or {}).items())
    return make_state(
        OperationsListState,
        route=OPS_ROUTE,
        path=f"/t/{slug}/operations" + (f"?{query}" if query else ""),
        params={"tenant_slug": slug, **(params or {})},
        token=token,
    )


async def test_operations_filters_come_from_the_url(app_db, contoso, users):
    token = token_for(app_db, users["readonly"])
    failed = _run(app_db, contoso, users["operator"], outcome="failed")
    _run(app_db, contoso, users["operator"], "policy.sync", outcome="succeeded")

    state = _ops(token, {"type": "inventory.sync", "state": "failed", "range": "7d"})
    await run_handler(state.load())

    assert (state.type_filter, state.state_filter, state.range_filter) == (
        "inventory.sync",
        "failed",
        "7d",
    )
    assert [r["id"] for r in state.rows] == [failed.id]
    assert state.filtered is True


async def test_changing_a_filter_navigates_to_a_url_that_keeps_the_others(app_db, contoso, users):
    state = _ops(token_for(app_db, users["readonly"]), {"type": "policy.sync", "page": "3"})
    await run_handler(state.load())

    events = describe(await run_handler(state.set_filter("state", "active")))

    assert "/t/contoso/operations?type=policy.sync&state=active" in events
    assert "page=" not in events  # a new filter starts at page 1


async def test_garbage_filters_are_dropped_with_a_message(app_db, contoso, users):
    state = _ops(token_for(app_db, users["readonly"]), {"type": "bogus", "state": "nope"})

    await run_handler(state.load())

    assert (state.type_filter, state.state_filter) == ("all", "all")
    assert state.filter_errors  # said, not silently ignored


async def test_operations_list_never_shows_another_tenants_runs(
    app_db, contoso, other_tenant, users
):
    _run(app_db, other_tenant)
    mine = _run(app_db, contoso)

    state = _ops(token_for(app_db, users["readonly"]))
    await run_handler(state.load())

    assert [r["id"] for r in state.rows] == [mine.id]


async def test_inventory_list_reads_search_sort_and_page_from_the_url(app_db, contoso, users):
    state = make_state(
        InventoryLandingState,
        route="/t/[tenant_slug]/inventory",
        path="/t/contoso/inventory?q=vpn&sort=observed_at&dir=desc&page=2",
        params={
            "tenant_slug": "contoso",
            "q": "vpn",
            "sort": "observed_at",
            "dir": "desc",
            "page": "2",
        },
        token=token_for(app_db, users["readonly"]),
    )
    await run_handler(state.load())
    assert (state.search, state.sort, state.descending, state.page_number) == (
        "vpn",
        "observed_at",
        True,
        2,
    )

    events = describe(await run_handler(state.sort_by("observed_at")))
    assert "/t/contoso/inventory?q=vpn&sort=observed_at" in events and "desc" not in events

    events = describe(await run_handler(state.sort_by("password_hash")))
    assert events == ""  # not a sort key: nothing happens


def _detail(token: str, run_id, slug: str = "contoso"):
    return make_state(
        OperationDetailState,
        route="/t/[tenant_slug]/operations/[run_id]",
        path=f"/t/{slug}/operations/{run_id}",
        params={"tenant_slug": slug, "run_id": str(run_id)},
        token=token,
    )


async def test_run_detail_shows_the_run(app_db, contoso, users):
    run = _run(app_db, contoso, users["operator"], completed=False)
    state = _detail(token_for(app_db, users["readonly"]), run.id)

    await run_handler(state.load())

    assert state.access == "ok"
    assert state.run["id"] == run.id and state.is_active is True


async def test_run_detail_of_another_tenants_run_is_not_found(app_db, contoso, other_tenant, users):
    foreign = _run(app_db, other_tenant)
    state = _detail(token_for(app_db, users["owner"]), foreign.id)

    await run_handler(state.load())

    assert state.access == "not_found" and state.run == {}


async def test_run_detail_of_a_missing_or_malformed_id_is_not_found(app_db, contoso, users):
    token = token_for(app_db, users["owner"])
    for run_id in (999_999, "abc"):
        state = _detail(token, run_id)
        await run_handler(state.load())
        assert state.access == "not_found"


async def test_sign_in_refuses_a_wrong_password_with_the_generic_message(app_db, users):
    state = make_state(SignInState, route="/login", path="/login")

    await run_handler(state.submit({"email": users["owner"].email, "password": "wrong-password"}))

    assert state.error == "Invalid e-mail or password."
    assert state.session_token == ""


async def test_sign_in_keeps_a_token_and_goes_back_to_next(app_db, users):
    state = make_state(
        SignInState,
        route="/login",
        path="/login?next=/t/contoso/operations",
        params={"next": "/t/contoso/operations"},
    )

    events = describe(
        await run_handler(state.submit({"email": users["owner"].email, "password": PASSWORD}))
    )

    assert state.session_token and state.error == ""
    assert "/t/contoso/operations" in events
    assert [t["slug"] for t in state.tenants] == ["contoso"]


async def test_sign_in_never_redirects_off_site(app_db, users):
    state = make_state(
        SignInState,
        route="/login",
        path="/login?next=//evil.test/x",
        params={"next": "//evil.test/x"},
    )

    events = describe(
        await run_handler(state.submit({"email": users["owner"].email, "password": PASSWORD}))
    )

    assert "evil.test" not in events


async def test_sign_out_revokes_the_session(app_db, contoso, users):
    token = token_for(app_db, users["owner"])
    state = _ops(token)
    await run_handler(state.sign_out())

    again = _ops(token)
    events = describe(await run_handler(again.load()))
    assert "/login" in events


def _notify(engine, user, tenant, *, level="success", title="Inventory sync succeeded"):
    with session_scope(engine) as session:
        note = Notification(
            user_id=user.id,
            tenant_id=tenant.id,
            level=level,
            title=title,
            body="done",
            link="/t/contoso/operations/1",
            created_at=utcnow() - timedelta(seconds=1),
        )
        session.add(note)
        session.flush()
        return note.id


def _bell(token: str):
    return make_state(
        NotificationsState,
        route="/t/[tenant_slug]",
        path="/t/contoso",
        params={"tenant_slug": "contoso"},
        token=token,
    )


async def test_bell_pops_new_terminal_notifications_once_and_never_old_ones(app_db, contoso, users):
    owner = users["owner"]
    _notify(app_db, owner, contoso, title="Old news")
    state = _bell(token_for(app_db, owner))

    first = describe(await run_handler(state.poll()))
    assert "Old news" not in first and state.unread == 1

    _notify(app_db, owner, contoso, title="Policy sync failed", level="error")
    _notify(app_db, owner, contoso, title="Policy sync queued", level="info")
    _notify(app_db, users["operator"], contoso, title="Someone else's run")
    second = describe(await run_handler(state.poll()))
    assert "Policy sync failed" in second and "View run" in second
    assert "queued" not in second and "Someone else" not in second

    third = describe(await run_handler(state.poll()))
    assert third == ""


async def test_bell_marks_only_own_notifications_read(app_db, contoso, users):
    owner, operator = users["owner"], users["operator"]
    mine = _notify(app_db, owner, contoso)
    theirs = _notify(app_db, operator, contoso)
    state = _bell(token_for(app_db, owner))

    await run_handler(state.mark_read(theirs))
    await run_handler(state.mark_read(mine))

    with session_scope(app_db) as session:
        assert session.get(Notification, mine).read_at is not None
        assert session.get(Notification, theirs).read_at is None
    assert state.unread == 0


async def test_repeated_wrong_passwords_are_throttled_with_a_clear_message(app_db, users):
    email = users["owner"].email
    for _ in range(5):
        state = make_state(SignInState, route="/login", path="/login")
        await run_handler(state.submit({"email": email, "password": "wrong-password"}))

    state = make_state(SignInState, route="/login", path="/login")
    await run_handler(state.submit({"email": email, "password": PASSWORD}))

    assert state.error.startswith("Too many sign-in attempts. Try again in ")
    assert state.session_token == ""
