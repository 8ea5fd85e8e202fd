"""Backup set pages and the policy picker: handlers called as a browser's events would call
them — validation messages inline, a selection that survives paging, one run per add / remove
with normalised inputs, nothing created for an empty selection, a reader or a stranger."""

from __future__ import annotations

import pytest
from sqlmodel import select

from opsapp.db import session_scope
from opsapp.models import BackupItem, BackupSet, OperationRun, Policy, PolicyVersion
from opsapp.ui.state.backup_sets import BackupSetDetailState, BackupSetListState
from opsapp.ui.state.policy_picker import NO_SELECTION, PolicyPickerState
from tests.factories import make_user
from tests.integration.ui.conftest import describe, make_state, run_handler, token_for

LIST_ROUTE = "/t/[tenant_slug]/backup-sets"
DETAIL_ROUTE = "/t/[tenant_slug]/backup-sets/[backup_set_id]"


def _runs(engine) -> list[OperationRun]:
    with session_scope(engine) as session:
        return list(session.exec(select(OperationRun).order_by(OperationRun.id)))


def _sets(engine) -> list[BackupSet]:
    with session_scope(engine) as session:
        return list(session.exec(select(BackupSet).order_by(BackupSet.id)))


def _list(token: str, slug: str = "contoso", query: str = ""):
    params = dict(p.split("=", 1) for p in query.split("&") if p)
    return make_state(
        BackupSetListState,
        route=LIST_ROUTE,
        path=f"/t/{slug}/backup-sets" + (f"?{query}" if query else ""),
        params={"tenant_slug": slug, **params},
        token=token,
    )


def _detail_route(cls, token: str, set_id, slug: str = "contoso"):
    return make_state(
        cls,
        route=DETAIL_ROUTE,
        path=f"/t/{slug}/backup-sets/{set_id}",
        params={"tenant_slug": slug, "backup_set_id": str(set_id)},
        token=token,
    )


def _add_policies(engine, tenant, count: int, policy_type: str, prefix: str) -> list[int]:
    ids = []
    with session_scope(engine) as session:
        for n in range(count):
            policy = Policy(
                tenant_id=tenant.id,
                policy_type=policy_type,
                graph_id=f"{prefix}-{n}",
                display_name=f"{prefix} {n:03d}",
            )
            session.add(policy)
            session.flush()
            version = PolicyVersion(
                policy_id=policy.id,
                tenant_id=tenant.id,
                version_number=1,
                content_hash=f"{prefix}{n:060d}"[:64],
            )
            session.add(version)
            session.flush()
            policy.current_version_id = version.id
            ids.append(policy.id)
    return ids


def _make_set(engine, tenant, name="Baseline", policy_ids=()) -> tuple[int, list[int]]:
    with session_scope(engine) as session:
        backup_set = BackupSet(tenant_id=tenant.id, name=name)
        session.add(backup_set)
        session.flush()
        item_ids = []
        for policy_id in policy_ids:
            policy = session.get(Policy, policy_id)
            item = BackupItem(
                backup_set_id=backup_set.id,
                tenant_id=tenant.id,
                policy_id=policy_id,
                policy_version_id=policy.current_version_id,
                policy_type=policy.policy_type,
                display_name=policy.display_name,
            )
            session.add(item)
            session.flush()
            item_ids.append(item.id)
        return backup_set.id, item_ids


# --- the list: create, rename, delete ---------------------------------------------------------


async def test_create_shows_the_services_message_inline_and_creates_nothing(app_db, contoso, users):
    state = _list(token_for(app_db, users["operator"]))
    await run_handler(state.load())
    await run_handler(state.open_create())
    assert state.dialog == "create"

    for bad, expected in (
        ("   ", "Name is required."),
        ("x" * 10_000, "Name is too long"),
        ("tab\there", "control or invisible characters"),
    ):
        events = await run_handler(state.create_set({"name": bad}))
        assert expected in state.form_error and events == []
        assert state.dialog == "create"  # the dialog stays open with the message
    assert _sets(app_db) == []


async def test_create_then_duplicate_name_is_refused(app_db, contoso, users):
    state = _list(token_for(app_db, users["manager"]))
    await run_handler(state.load())

    events = describe(await run_handler(state.create_set({"name": "  Before rollout "})))

    created = _sets(app_db)
    assert [s.name for s in created] == ["Before rollout"]
    assert f"/t/contoso/backup-sets/{created[0].id}" in events and state.dialog == ""

    await run_handler(state.open_create())
    await run_handler(state.create_set({"name": "before ROLLOUT"}))
    assert "already exists" in state.form_error and len(_sets(app_db)) == 1


async def test_list_shows_sets_with_counts_newest_first(app_db, contoso, users):
    policies = _add_policies(app_db, contoso, 3, "deviceConfiguration", "Wifi")
    _make_set(app_db, contoso, "Old", policies[:1])
    _make_set(app_db, contoso, "New", policies)
    state = _list(token_for(app_db, users["readonly"]))

    await run_handler(state.load())

    assert [(r["name"], r["item_count"]) for r in state.rows] == [("New", 3), ("Old", 1)]
    assert state.descending is True and state.can_start is False
    events = describe(await run_handler(state.sort_by("created_at")))
    assert "dir=asc" in events  # the default is newest first; the other way is written out


async def test_rename_and_delete_name_what_goes(app_db, contoso, users):
    policies = _add_policies(app_db, contoso, 2, "deviceConfiguration", "Wifi")
    set_id, _ = _make_set(app_db, contoso, "Baseline", policies)
    _make_set(app_db, contoso, "Taken")
    state = _list(token_for(app_db, users["operator"]))
    await run_handler(state.load())

    await run_handler(state.open_rename(set_id))
    assert (state.dialog, state.target_name) == ("rename", "Baseline")
    await run_handler(state.rename_set({"name": "taken"}))
    assert "already exists" in state.form_error
    await run_handler(state.rename_set({"name": "Baseline 2026"}))
    assert state.dialog == "" and "Baseline 2026" in [r["name"] for r in state.rows]

    await run_handler(state.open_delete(set_id))
    assert (state.dialog, state.target_name, state.target_items) == ("delete", "Baseline 2026", 2)
    events = describe(await run_handler(state.confirm_delete()))
    assert "Baseline 2026 (2 items)" in events
    assert [s.name for s in _sets(app_db)] == ["Taken"]


async def test_readonly_is_refused_every_change(app_db, contoso, users):
    set_id, _ = _make_set(app_db, contoso, "Baseline")
    state = _list(token_for(app_db, users["readonly"]))
    await run_handler(state.load())
    assert state.access == "ok"

    for call in (
        state.open_create(),
        state.create_set({"name": "Sneaky"}),
        state.open_rename(set_id),
        state.open_delete(set_id),
    ):
        assert "Not allowed" in describe(await run_handler(call))
    state.target_id = set_id  # a crafted event naming the set
    assert "Not allowed" in describe(await run_handler(state.rename_set({"name": "Sneaky"})))
    assert "Not allowed" in describe(await run_handler(state.confirm_delete()))
    assert [s.name for s in _sets(app_db)] == ["Baseline"] and state.dialog == ""


async def test_non_member_gets_not_found_for_list_detail_and_actions(
    app_db, contoso, other_tenant, dispatcher
):
    set_id, _ = _make_set(app_db, contoso, "Baseline")
    token = token_for(app_db, make_user(app_db, tenant=other_tenant, role="owner"))

    listing = _list(token)
    await run_handler(listing.load())
    assert listing.access == "not_found" and listing.rows == []
    assert "Not found" in describe(await run_handler(listing.create_set({"name": "X"})))

    detail = _detail_route(BackupSetDetailState, token, set_id)
    await run_handler(detail.load())
    assert detail.access == "not_found" and detail.backup_set == {}

    picker = _detail_route(PolicyPickerState, token, set_id)
    assert "Not found" in describe(await run_handler(picker.open_picker()))
    assert picker.is_open is False
    assert [s.name for s in _sets(app_db)] == ["Baseline"] and _runs(app_db) == []


async def test_another_tenants_set_is_not_found_for_a_member(app_db, contoso, other_tenant, users):
    foreign_id, _ = _make_set(app_db, other_tenant, "Theirs")
    detail = _detail_route(BackupSetDetailState, token_for(app_db, users["owner"]), foreign_id)
    await run_handler(detail.load())
    assert detail.access == "not_found"

    garbage = _detail_route(BackupSetDetailState, token_for(app_db, users["owner"]), "abc")
    await run_handler(garbage.load())
    assert garbage.access == "not_found"


# --- the picker -------------------------------------------------------------------------------


async def _open_picker(app_db, contoso, users, role="operator"):
    wifi = _add_policies(app_db, contoso, 30, "deviceConfiguration", "Wifi")
    comp = _add_policies(app_db, contoso, 5, "deviceCompliancePolicy", "Compliance")
    set_id, _ = _make_set(app_db, contoso, "Baseline", wifi[:1])
    picker = _detail_route(PolicyPickerState, token_for(app_db, users[role]), set_id)
    await run_handler(picker.open_picker())
    return picker, set_id, wifi, comp


async def test_picker_selection_survives_paging_search_and_filter(app_db, contoso, users):
    picker, _set_id, wifi, comp = await _open_picker(app_db, contoso, users)
    assert picker.is_open and picker.total == 35 and picker.page_size == 10
    first_page = [r["id"] for r in picker.rows]  # Compliance 000–004, Wifi 000–004
    assert [r["id"] for r in picker.rows if r["in_set"]] == [wifi[0]]

    await run_handler(picker.toggle_page(True))
    in_set = [r["id"] for r in picker.rows if r["in_set"]]
    assert picker.selected_count == len(first_page) - len(in_set)

    await run_handler(picker.next_page())
    assert picker.page_number == 2
    await run_handler(picker.toggle(picker.rows[0]["id"], True))
    await run_handler(picker.set_search("compliance 00"))
    assert picker.page_number == 1 and {r["id"] for r in picker.rows} == set(comp)
    await run_handler(picker.set_type_filter("deviceCompliancePolicy"))
    await run_handler(picker.toggle(comp[2], False))
    await run_handler(picker.toggle(comp[2], True))  # off and on again: counted once

    expected = len(first_page) - len(in_set) + 1
    assert picker.selected_count == expected
    await run_handler(picker.clear_filters())
    await run_handler(picker.prev_page())  # already on page 1: nothing happens
    assert sum(r["selected"] for r in picker.rows) == len(first_page) - len(in_set)

    await run_handler(picker.toggle(wifi[0], True))  # already in the set: cannot be picked
    assert picker.selected_count == expected

    await run_handler(picker.clear_selection())
    assert picker.selected_count == 0


async def test_picker_sorts_and_marks_policies_already_in_the_set(app_db, contoso, users):
    picker, _set_id, wifi, _comp = await _open_picker(app_db, contoso, users)
    assert picker.rows[0]["display_name"] == "Compliance 000"
    await run_handler(picker.sort_by("policy_type"))
    await run_handler(picker.sort_by("policy_type"))
    assert picker.descending is True
    await run_handler(picker.set_search("Wifi 000"))
    assert [(r["id"], r["in_set"]) for r in picker.rows] == [(wifi[0], True)]


async def test_empty_selection_says_so_and_creates_no_run(app_db, contoso, users, dispatcher):
    picker, *_ = await _open_picker(app_db, contoso, users)

    events = await run_handler(picker.add_selected())

    assert picker.message == NO_SELECTION and picker.is_open is True
    assert events == [] and _runs(app_db) == [] and dispatcher.dispatched == []


async def test_add_selected_starts_one_run_with_normalised_inputs(
    app_db, contoso, users, dispatcher
):
    picker, set_id, wifi, comp = await _open_picker(app_db, contoso, users)
    for policy_id in (comp[3], wifi[5], comp[1]):
        await run_handler(picker.toggle(policy_id, True))
    await run_handler(picker.set_include_scope_tags(False))

    events = describe(await run_handler(picker.add_selected()))

    runs = _runs(app_db)
    assert len(runs) == 1 and runs[0].type == "backup_set.add_policies"
    assert runs[0].context["inputs"] == {
        "backup_set_id": set_id,
        "policy_ids": sorted([comp[3], wifi[5], comp[1]]),
        "include_assignments": True,
        "include_scope_tags": False,
    }
    assert dispatcher.dispatched == [runs[0].id]
    assert "Add policies to backup set queued" in events
    assert f"View run /t/contoso/operations/{runs[0].id}" in events or "View run" in events
    assert f"/t/contoso/operations/{runs[0].id}" in events
    assert picker.is_open is False and picker.selected_count == 0
    assert (picker.watch_run_id, picker.watch_type) == (runs[0].id, "backup_set.add_policies")

    # The set page follows that run and reloads its items once it completes.
    detail = _detail_route(BackupSetDetailState, token_for(app_db, users["operator"]), set_id)
    await run_handler(detail.load())
    assert detail.watch_run_id == runs[0].id
    with session_scope(app_db) as session:
        row = session.get(OperationRun, runs[0].id)
        row.status, row.outcome = "completed", "succeeded"
        session.add(row)
    ticked = await run_handler(detail.watch_tick())
    assert [getattr(e, "fn", e).__name__ for e in ticked] == ["load"]


async def test_readonly_cannot_open_the_picker_or_add(app_db, contoso, users, dispatcher):
    picker, set_id, wifi, _ = await _open_picker(app_db, contoso, users, role="readonly")
    assert picker.is_open is False

    picker.selected_ids, picker._set_id = [wifi[3]], set_id  # a crafted event after all
    events = describe(await run_handler(picker.add_selected()))

    assert "Not allowed" in events and _runs(app_db) == [] and dispatcher.dispatched == []


# --- the set's items: remove ------------------------------------------------------------------


async def _detail(app_db, contoso, users, role="operator", count=30):
    policies = _add_policies(app_db, contoso, count, "settingsCatalogPolicy", "Edge")
    set_id, item_ids = _make_set(app_db, contoso, "Baseline", policies)
    state = _detail_route(BackupSetDetailState, token_for(app_db, users[role]), set_id)
    await run_handler(state.load())
    return state, set_id, item_ids


async def test_detail_shows_facts_and_items(app_db, contoso, users):
    state, set_id, item_ids = await _detail(app_db, contoso, users, role="readonly")

    assert state.access == "ok" and state.backup_set["item_count"] == 30
    assert len(state.rows) == 25 and state.total == 30
    row = state.rows[0]
    assert (row["display_name"], row["version_number"], row["include_assignments"]) == (
        "Edge 000",
        1,
        True,
    )
    assert row["policy_type_label"] == "Settings catalog"


async def test_row_remove_starts_a_remove_run(app_db, contoso, users, dispatcher):
    state, set_id, item_ids = await _detail(app_db, contoso, users)

    events = describe(await run_handler(state.remove_item(item_ids[4])))

    runs = _runs(app_db)
    assert [r.type for r in runs] == ["backup_set.remove_policies"]
    assert runs[0].context["inputs"] == {"backup_set_id": set_id, "item_ids": [item_ids[4]]}
    assert "queued" in events and f"/t/contoso/operations/{runs[0].id}" in events
    assert state.watch_type == "backup_set.remove_policies"


async def test_bulk_remove_takes_the_selection_across_pages(app_db, contoso, users, dispatcher):
    state, set_id, item_ids = await _detail(app_db, contoso, users)
    assert "No items selected" in describe(await run_handler(state.remove_selected()))
    assert _runs(app_db) == []

    await run_handler(state.toggle_item(item_ids[2], True))
    await run_handler(state.toggle_item(item_ids[0], True))
    await run_handler(state.toggle_item(item_ids[2], False))
    await run_handler(state.toggle_item(item_ids[7], True))
    assert state.selected_count == 2
    assert [r["selected"] for r in state.rows][:3] == [True, False, False]

    await run_handler(state.remove_selected())

    runs = _runs(app_db)
    assert len(runs) == 1
    assert runs[0].context["inputs"]["item_ids"] == sorted([item_ids[0], item_ids[7]])
    assert state.selected_count == 0

    await run_handler(state.toggle_page(True))
    assert state.selected_count == 25 and state.page_all_selected is True
    await run_handler(state.clear_selection())
    assert state.selected_count == 0


async def test_readonly_remove_is_refused_and_creates_nothing(app_db, contoso, users, dispatcher):
    state, _set_id, item_ids = await _detail(app_db, contoso, users, role="readonly")
    assert state.can_start is False

    assert "Not allowed" in describe(await run_handler(state.remove_item(item_ids[0])))
    state.selected_item_ids = item_ids[:3]
    assert "Not allowed" in describe(await run_handler(state.remove_selected()))
    assert _runs(app_db) == [] and dispatcher.dispatched == []


async def test_remove_of_a_deleted_set_is_refused(app_db, contoso, users, dispatcher):
    state, set_id, item_ids = await _detail(app_db, contoso, users)
    with session_scope(app_db) as session:
        session.delete(session.get(BackupSet, set_id))

    events = describe(await run_handler(state.remove_item(item_ids[0])))

    assert "Backup set not found" in events and _runs(app_db) == []


# --- routing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state_cls", "names"),
    [
        (
            BackupSetListState,
            ("load", "sort_by", "next_page", "open_create", "create_set", "confirm_delete"),
        ),
        (
            BackupSetDetailState,
            ("load", "watch_tick", "sort_by", "next_page", "remove_item", "remove_selected"),
        ),
        (PolicyPickerState, ("open_picker", "set_search", "toggle", "add_selected", "sort_by")),
    ],
)
def test_page_handlers_run_on_the_page_state_not_a_parent(app_db, state_cls, names):
    for name in names:
        assert getattr(state_cls, name).state_full_name == state_cls.get_full_name(), name
