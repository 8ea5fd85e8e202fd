"""Backup set pages: the list (create / rename / delete) and one set's items (row and bulk
remove, each a `backup_set.remove_policies` run). Every handler authorizes on the server first;
the page shows the controls only to roles that may use them, the handlers refuse everyone else."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import reflex as rx

from opsapp.db import session_scope
from opsapp.features.backups import queries
from opsapp.features.backups.errors import BackupInputError
from opsapp.features.backups.sets import create_backup_set, delete_backup_set, rename_backup_set
from opsapp.features.inventory.queries import inventory_type_choices
from opsapp.operations.access import Capability, NotFound
from opsapp.ui.routes import tenant_href
from opsapp.ui.state.lists import ALL, ListState
from opsapp.ui.state.tenant import TenantContext, TenantState

ADD = "backup_set.add_policies"
REMOVE = "backup_set.remove_policies"
MAX_NAME_INPUT = 10_000  # what a form may send; the service says what is wrong beyond its limit


def route_set_id(raw: Any) -> int | None:
    """The set id of the route (`/t/<slug>/backup-sets/<id>`), or None for anything else."""
    try:
        value = int(str(raw))
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def _sets_page(tenant_id: int, args: dict):
    with session_scope() as session:
        return queries.list_backup_sets(session, tenant_id=tenant_id, **args)


def _set_detail(tenant_id: int, set_id: int) -> dict | None:
    with session_scope() as session:
        return queries.get_backup_set_detail(session, tenant_id=tenant_id, set_id=set_id)


def _create(tenant_id: int, user_id: int, name: str) -> int:
    with session_scope() as session:
        return create_backup_set(session, tenant_id=tenant_id, name=name, user_id=user_id).id


def _rename(tenant_id: int, set_id: int, name: str) -> str:
    with session_scope() as session:
        return rename_backup_set(session, tenant_id=tenant_id, set_id=set_id, name=name).name


def _delete(tenant_id: int, set_id: int) -> dict:
    with session_scope() as session:
        return delete_backup_set(session, tenant_id=tenant_id, set_id=set_id)


def _items_page(tenant_id: int, set_id: int, type_value: str | None, args: dict):
    with session_scope() as session:
        return queries.list_backup_items(
            session, tenant_id=tenant_id, set_id=set_id, policy_type=type_value, **args
        )


def _active_run(tenant_id: int, set_id: int) -> tuple[int, str] | None:
    with session_scope() as session:
        return queries.active_set_run(session, tenant_id=tenant_id, set_id=set_id)


def _items_label(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count:,} items"


async def start_followed(state: TenantState, run_type: str, inputs: dict, started: list[bool]):
    """`state._start(...)`, noting in `started` whether a run now exists for this start (the
    page then follows it); a refused start keeps following whatever it followed before."""
    before = (state.watch_run_id, state.watch_type)
    state.watch_run_id, state.watch_type = 0, ""
    async for update in state._start(run_type, inputs):
        yield update
    if state.watch_run_id:
        started.append(True)
    else:
        state.watch_run_id, state.watch_type = before


class BackupSetListState(ListState, TenantState):
    """`/t/<slug>/backup-sets`: newest first by default; the dialogs of create, rename, delete."""

    default_sort: ClassVar[str] = "created_at"
    sort_keys: ClassVar[tuple[str, ...]] = queries.SET_SORT_KEYS
    dialog: str = ""  # "" | "create" | "rename" | "delete"
    target_id: int = 0
    target_name: str = ""
    target_items: int = 0
    form_error: str = ""

    # Newest first unless the URL says otherwise: `dir` is written only when it differs.
    def _default_descending(self, sort: str) -> bool:
        return sort == "created_at"

    def _read_query(self) -> None:
        super()._read_query()
        direction = self.router.url.query_parameters.get("dir")
        self.descending = (
            direction == "desc"
            if direction in ("asc", "desc")
            else self._default_descending(self.sort)
        )

    def _dir(self, sort: str, descending: bool) -> str:
        if descending == self._default_descending(sort):
            return ""
        return "desc" if descending else "asc"

    def _url(self, **changes: Any) -> str:
        changes.setdefault("dir", self._dir(self.sort, self.descending))
        return super()._url(**changes)

    @rx.event
    def sort_by(self, key: str):
        if key not in self.sort_keys:
            return None
        descending = not self.descending if key == self.sort else self._default_descending(key)
        return rx.redirect(
            self._url(
                sort="" if key == self.default_sort else key,
                dir=self._dir(key, descending),
                page="",
            )
        )

    @rx.event
    async def load(self):
        self.dialog = ""
        ctx = await self._guard()
        if not isinstance(ctx, TenantContext):
            return ctx
        self._read_query()
        await self._reload(ctx)

    async def _reload(self, ctx: TenantContext) -> None:
        self._show(await asyncio.to_thread(_sets_page, ctx.tenant_id, self._list_args()))

    async def _manager(self) -> TenantContext | rx.event.EventSpec | None:
        """The caller's context if they may change sets, else the refusal toast (dialog shut)."""
        ctx = await self._guard(Capability.start_operations, page=False)
        if not isinstance(ctx, TenantContext):
            self.dialog = ""
        return ctx

    @rx.event
    def set_dialog_open(self, is_open: bool):
        if not is_open:
            self.dialog, self.form_error = "", ""

    @rx.event
    async def open_create(self):
        ctx = await self._manager()
        if not isinstance(ctx, TenantContext):
            return ctx
        self.dialog, self.form_error, self.target_id, self.target_name = "create", "", 0, ""

    @rx.event
    async def create_set(self, form_data: dict[str, Any]):
        ctx = await self._manager()
        if not isinstance(ctx, TenantContext):
            return ctx
        name = str(form_data.get("name", ""))[:MAX_NAME_INPUT]
        try:
            set_id = await asyncio.to_thread(_create, ctx.tenant_id, ctx.user.id, name)
        except BackupInputError as exc:
            self.form_error = str(exc)
            return None
        self.dialog, self.form_error = "", ""
        return [
            rx.toast.success("Backup set created", description=name.strip()[:200]),
            rx.redirect(tenant_href(ctx.slug, f"backup-sets/{set_id}")),
        ]

    async def _open_target(self, set_id: int, dialog: str):
        ctx = await self._manager()
        if not isinstance(ctx, TenantContext):
            return ctx
        detail = await asyncio.to_thread(_set_detail, ctx.tenant_id, int(set_id))
        if detail is None:
            await self._reload(ctx)
            return rx.toast.error("Not found", description="That backup set no longer exists.")
        self.target_id, self.target_name = detail["id"], detail["name"]
        self.target_items, self.form_error, self.dialog = detail["item_count"], "", dialog
        return None

    @rx.event
    async def open_rename(self, set_id: int):
        return await self._open_target(set_id, "rename")

    @rx.event
    async def open_delete(self, set_id: int):
        return await self._open_target(set_id, "delete")

    @rx.event
    async def rename_set(self, form_data: dict[str, Any]):
        ctx = await self._manager()
        if not isinstance(ctx, TenantContext):
            return ctx
        name = str(form_data.get("name", ""))[:MAX_NAME_INPUT]
        try:
            new_name = await asyncio.to_thread(_rename, ctx.tenant_id, self.target_id, name)
        except BackupInputError as exc:
            self.form_error = str(exc)
            return None
        except NotFound:
            self.dialog = ""
            await self._reload(ctx)
            return rx.toast.error("Not found", description="That backup set no longer exists.")
        self.dialog, self.form_error = "", ""
        await self._reload(ctx)
        return rx.toast.success("Backup set renamed", description=new_name)

    @rx.event
    async def confirm_delete(self):
        ctx = await self._manager()
        if not isinstance(ctx, TenantContext):
            return ctx
        self.dialog = ""
        try:
            gone = await asyncio.to_thread(_delete, ctx.tenant_id, self.target_id)
        except NotFound:
            await self._reload(ctx)
            return rx.toast.error("Not found", description="That backup set no longer exists.")
        await self._reload(ctx)
        return rx.toast.success(
            "Backup set deleted", description=f"{gone['name']} ({_items_label(gone['items'])})"
        )


class BackupSetDetailState(ListState, TenantState):
    """`/t/<slug>/backup-sets/<id>`: the set's facts and items; row and bulk remove."""

    sort_keys: ClassVar[tuple[str, ...]] = queries.ITEM_SORT_KEYS
    type_choices: list[dict[str, str]] = inventory_type_choices()
    backup_set: dict[str, Any] = {}
    selected_item_ids: list[int] = []
    _shown_set_id: int = 0

    @rx.var
    def selected_count(self) -> int:
        return len(self.selected_item_ids)

    @rx.var
    def page_all_selected(self) -> bool:
        return bool(self.rows) and all(r.get("selected") for r in self.rows)

    def _mark(self) -> None:
        chosen = set(self.selected_item_ids)
        self.rows = [{**r, "selected": r["id"] in chosen} for r in self.rows]

    async def _context(self, capability: Capability = Capability.view_runs):
        """(ctx, set id) for an action on this page, or (answer, None)."""
        ctx = await self._guard(capability, page=False)
        set_id = route_set_id(self.backup_set_id)
        if not isinstance(ctx, TenantContext):
            return ctx, None
        if set_id is None:
            return rx.toast.error("Not found", description="That backup set does not exist."), None
        return ctx, set_id

    @rx.event
    async def load(self):
        ctx = await self._guard()
        if not isinstance(ctx, TenantContext):
            self.backup_set, self.rows = {}, []
            return ctx
        set_id = route_set_id(self.backup_set_id)
        detail = await asyncio.to_thread(_set_detail, ctx.tenant_id, set_id) if set_id else None
        if detail is None:
            self.access, self.backup_set, self.rows = "not_found", {}, []
            return None
        if set_id != self._shown_set_id:
            self.selected_item_ids, self._shown_set_id = [], set_id
        self.backup_set = detail
        active = await asyncio.to_thread(_active_run, ctx.tenant_id, set_id)
        if active:
            self.watch_run_id, self.watch_type = active
        elif self.watch_type in (ADD, REMOVE):
            self.watch_run_id, self.watch_type = 0, ""
        self._read_query()
        if self.type_filter not in {c["value"] for c in self.type_choices}:
            self.type_filter = ALL
        type_value = None if self.type_filter == ALL else self.type_filter
        page = await asyncio.to_thread(
            _items_page, ctx.tenant_id, set_id, type_value, self._list_args()
        )
        self._show(page)
        self._mark()
        return None

    @rx.event
    async def watch_tick(self, _tick: str = ""):
        """While an add / remove run of this set is followed: reload once it completed."""
        finished = await self._watched_run_finished()
        if finished is True:
            return BackupSetDetailState.load
        return finished or None

    @rx.event
    def toggle_item(self, item_id: int, checked: bool):
        chosen = [i for i in self.selected_item_ids if i != int(item_id)]
        self.selected_item_ids = [*chosen, int(item_id)] if checked else chosen
        self._mark()

    @rx.event
    def toggle_page(self, checked: bool):
        page_ids = {r["id"] for r in self.rows}
        kept = [i for i in self.selected_item_ids if i not in page_ids]
        self.selected_item_ids = kept + sorted(page_ids) if checked else kept
        self._mark()

    @rx.event
    def clear_selection(self):
        self.selected_item_ids = []
        self._mark()

    async def _remove(self, item_ids: list[int]):
        ctx, set_id = await self._context(Capability.start_operations)
        if set_id is None:
            yield ctx
            return
        inputs = {"backup_set_id": set_id, "item_ids": sorted({int(i) for i in item_ids})}
        started: list[bool] = []
        async for update in start_followed(self, REMOVE, inputs, started):
            yield update
        if started:
            gone = set(inputs["item_ids"])
            self.selected_item_ids = [i for i in self.selected_item_ids if i not in gone]
            self._mark()

    @rx.event
    async def remove_item(self, item_id: int):
        async for update in self._remove([item_id]):
            yield update

    @rx.event
    async def remove_selected(self):
        if not self.selected_item_ids:
            yield rx.toast.error("No items selected", description="Tick the items to remove.")
            return
        async for update in self._remove(self.selected_item_ids):
            yield update
