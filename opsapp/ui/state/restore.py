"""Restore pages: the list (`RestoreListState`: restores with status and outcome, "New restore"
from a backup set) and one restore (`RestoreDetailState`: a draft's items and options, Preview,
the plan with its conflicts and group mapping, Execute behind a confirmation, the results while
and after it runs).

Everyone who may see the tenant may look; owners and managers act (execute_restore). Every
handler authorizes on the server first, so a crafted event from anyone else changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from opsapp.db import session_scope
from opsapp.features.backups.queries import list_backup_sets
from opsapp.features.restore import adapter, drafts, queries
from opsapp.features.restore.errors import RestoreInputError, RestoreStateError
from opsapp.features.restore.service import preview_restore
from opsapp.graph import GraphError
from opsapp.models import ItemAction, RestoreStatus, Role
from opsapp.operations.access import Capability, NotFound, can
from opsapp.operations.status import RunStatus
from opsapp.paging import MAX_PAGE_SIZE
from opsapp.ui import toasts
from opsapp.ui.routes import tenant_href
from opsapp.ui.state.backup_sets import route_set_id
from opsapp.ui.state.tenant import START_REFUSALS, TenantContext, TenantState, start_refused
from opsapp.worker.embedded import get_dispatcher

RUN_TYPE = adapter.RUN_TYPE
SKIP = "__skip__"  # the mapping select's "skip these assignments" choice


class RestoreAccess(rx.State, mixin=True):
    @rx.var
    def can_restore(self) -> bool:
        return bool(self.role) and can(Role(self.role), Capability.execute_restore)


def _restores(tenant_id: int, page: int) -> dict:
    with session_scope() as session:
        return queries.list_restores(session, tenant_id=tenant_id, page=page).to_dict()


def _sets(tenant_id: int) -> list[dict[str, Any]]:
    with session_scope() as session:
        page = list_backup_sets(session, tenant_id=tenant_id, page_size=MAX_PAGE_SIZE)
    return [
        {"value": str(r["id"]), "label": f"{r['name']} · {r['item_count']} items"}
        for r in page.rows
        if r["item_count"]
    ]


def _create(tenant_id: int, user, set_id: int) -> int:
    with session_scope() as session:
        return drafts.create_draft(
            session,
            tenant_id=tenant_id,
            backup_set_id=set_id,
            user_id=user.id,
            user_name=user.display_name or user.email,
        ).id


class RestoreListState(RestoreAccess, TenantState):
    """`/t/<slug>/restore`"""

    restores: list[dict[str, Any]] = []
    loaded: bool = False
    set_choices: list[dict[str, str]] = []
    dialog_open: bool = False
    chosen_set: str = ""
    form_error: str = ""

    @rx.event
    async def load(self):
        self.dialog_open = False
        ctx = await self._guard()
        if not isinstance(ctx, TenantContext):
            return ctx
        data = await asyncio.to_thread(_restores, ctx.tenant_id, 1)
        self.restores, self.loaded = data["rows"], True
        return None

    @rx.event
    async def open_new(self):
        ctx = await self._guard(Capability.execute_restore, page=False)
        if not isinstance(ctx, TenantContext):
            return ctx
        self.set_choices = await asyncio.to_thread(_sets, ctx.tenant_id)
        self.chosen_set = self.set_choices[0]["value"] if self.set_choices else ""
        self.form_error, self.dialog_open = "", True
        return None

    @rx.event
    def set_dialog_open(self, is_open: bool):
        self.dialog_open = bool(is_open)

    @rx.event
    def choose_set(self, value: str):
        self.chosen_set = value

    @rx.event
    async def create(self):
        ctx = await self._guard(Capability.execute_restore, page=False)
        if not isinstance(ctx, TenantContext):
            self.dialog_open = False
            return ctx
        set_id = route_set_id(self.chosen_set)
        if set_id is None:
            self.form_error = "Pick a backup set."
            return None
        try:
            restore_id = await asyncio.to_thread(_create, ctx.tenant_id, ctx.user, set_id)
        except NotFound:
            self.form_error = "That backup set no longer exists."
            return None
        except RestoreInputError as exc:
            self.form_error = str(exc)
            return None
        self.dialog_open = False
        return rx.redirect(tenant_href(ctx.slug, f"restore/{restore_id}"))


def _detail(tenant_id: int, restore_id: int) -> tuple[dict | None, list, list]:
    with session_scope() as session:
        detail = queries.get_restore_detail(session, tenant_id=tenant_id, restore_id=restore_id)
        if detail is None:
            return None, [], []
        choices = (
            queries.set_item_choices(session, backup_set_id=detail["backup_set_id"])
            if detail["status"] == RestoreStatus.draft.value and detail["backup_set_id"]
            else []
        )
        # The mapping select is only offered for a missing group: read the groups only then.
        missing_group = any(
            c.get("kind") == "group_missing" for i in detail["items"] for c in i["conflicts"]
        )
        groups = queries.group_choices(session, tenant_id=tenant_id) if missing_group else []
        return detail, choices, groups


def _change(tenant_id: int, restore_id: int, action: str, **kwargs: Any) -> None:
    with session_scope() as session:
        getattr(drafts, action)(session, tenant_id=tenant_id, restore_id=restore_id, **kwargs)


class RestoreDetailState(RestoreAccess, TenantState):
    """`/t/<slug>/restore/<restore_run_id>`"""

    restore: dict[str, Any] = {}
    items: list[dict[str, Any]] = []
    choices: list[dict[str, Any]] = []  # a draft's selectable backup items
    group_choices: list[dict[str, str]] = []
    busy: str = ""  # "" | "preview" | "execute"
    confirm_open: bool = False

    @rx.var
    def selected_ids(self) -> list[int]:
        return [int(i["backup_item_id"]) for i in self.items if i.get("backup_item_id")]

    @rx.var
    def choice_rows(self) -> list[dict[str, Any]]:
        chosen = set(self.selected_ids)
        return [{**c, "selected": c["id"] in chosen} for c in self.choices]

    @rx.var
    def type_options(self) -> list[dict[str, str]]:
        seen: dict[str, str] = {}
        for c in self.choices:
            seen.setdefault(c["policy_type"], c["policy_type_label"])
        return [{"value": k, "label": v} for k, v in sorted(seen.items(), key=lambda p: p[1])]

    @rx.var
    def planned_writes(self) -> int:
        counts = self.restore.get("preview_counts") or {}
        return int(counts.get(ItemAction.create.value, 0)) + int(
            counts.get(ItemAction.update.value, 0)
        )

    @rx.var
    def conflicts(self) -> list[dict[str, Any]]:
        """Missing groups once (mapping is per group), then the other conflicts per item."""
        seen, out = set(), []
        for item in self.items:
            for c in item.get("conflicts") or []:
                key = (c["kind"], c["ref"]) if c["kind"] == "group_missing" else None
                if key in seen:
                    continue
                if key:
                    seen.add(key)
                mapped = (self.restore.get("group_map") or {}).get(c["ref"])
                out.append({**c, "item": item["display_name"], "mapped": mapped or SKIP})
        return out

    def _restore_id(self) -> int | None:
        return route_set_id(self.restore_run_id)

    async def _reload(self, ctx: TenantContext) -> bool:
        restore_id = self._restore_id()
        detail, choices, groups = (
            await asyncio.to_thread(_detail, ctx.tenant_id, restore_id)
            if restore_id
            else (None, [], [])
        )
        if detail is None:
            self.access, self.restore, self.items = "not_found", {}, []
            return False
        self.items = detail.pop("items")
        self.restore, self.choices, self.group_choices = detail, choices, groups
        run_id = detail.get("operation_run_id") or 0
        active = (
            detail["status"] == RestoreStatus.running.value
            or detail.get("run_status") == RunStatus.running.value
        )
        self.watch_run_id, self.watch_type = (run_id, RUN_TYPE) if active and run_id else (0, "")
        return True

    @rx.event
    async def load(self):
        self.confirm_open, self.busy = False, ""
        ctx = await self._guard()
        if not isinstance(ctx, TenantContext):
            self.restore, self.items = {}, []
            return ctx
        await self._reload(ctx)
        return None

    @rx.event
    async def watch_tick(self, _tick: str = ""):
        finished = await self._watched_run_finished()
        if finished is not True:
            return finished or None
        ctx = await self._guard(page=False)
        if isinstance(ctx, TenantContext):
            await self._reload(ctx)
        return None

    async def _act(self, action: str, **kwargs: Any):
        """Run a drafts.<action> for this restore as an owner / manager, then reload."""
        ctx = await self._guard(Capability.execute_restore, page=False)
        if not isinstance(ctx, TenantContext):
            return ctx
        try:
            await asyncio.to_thread(
                _change, ctx.tenant_id, self._restore_id() or 0, action, **kwargs
            )
        except NotFound:
            self.access = "not_found"
            return None
        except (RestoreInputError, RestoreStateError) as exc:
            await self._reload(ctx)
            return toasts.refused("Not changed", str(exc))
        await self._reload(ctx)
        return None

    @rx.event
    async def toggle_item(self, item_id: int, checked: bool):
        ids = [i for i in self.selected_ids if i != int(item_id)]
        ids = [*ids, int(item_id)] if checked else ids
        if not ids:
            return rx.toast.error("No items selected", description="Keep at least one item.")
        return await self._act("set_selection", item_ids=ids)

    @rx.event
    async def select_all(self):
        return await self._act("set_selection", item_ids=[c["id"] for c in self.choices])

    @rx.event
    async def select_type(self, policy_type: str):
        ids = [c["id"] for c in self.choices if c["policy_type"] == policy_type]
        return await self._act("set_selection", item_ids=ids)

    @rx.event
    async def set_option(self, name: str, value: bool):
        current = {
            k: bool(self.restore.get(k))
            for k in ("restore_assignments", "restore_scope_tags", "create_missing")
        }
        if name not in current:
            return None
        current[name] = bool(value)
        return await self._act("set_options", options=drafts.Options(**current))

    @rx.event
    async def set_update_only(self, value: str):
        return await self.set_option("create_missing", value != "update_only")

    @rx.event
    async def map_group(self, group_id: str, target: str):
        return await self._act(
            "map_group", group_id=group_id, target=None if target == SKIP else target
        )

    @rx.event
    async def preview(self):
        ctx = await self._guard(Capability.execute_restore, page=False)
        if not isinstance(ctx, TenantContext):
            yield ctx
            return
        self.busy = "preview"
        yield
        try:
            counts = await preview_restore(
                tenant_id=ctx.tenant_id,
                restore_id=self._restore_id() or 0,
                user_id=ctx.user.id,
                user_name=ctx.user.display_name or ctx.user.email,
            )
        except GraphError as exc:
            yield toasts.refused("Preview failed", exc.message)
            return
        except NotFound:
            self.access = "not_found"
            return
        except RestoreStateError as exc:
            yield toasts.refused("Not previewed", str(exc))
            return
        finally:
            self.busy = ""
        await self._reload(ctx)
        yield rx.toast.success("Preview ready", description=_plan_text(counts))

    @rx.event
    async def open_confirm(self):
        ctx = await self._guard(Capability.execute_restore, page=False)
        if not isinstance(ctx, TenantContext):
            return ctx
        self.confirm_open = True
        return None

    @rx.event
    def set_confirm_open(self, is_open: bool):
        self.confirm_open = bool(is_open)

    @rx.event
    async def execute(self):
        self.confirm_open = False
        ctx = await self._guard(Capability.execute_restore, page=False)
        if not isinstance(ctx, TenantContext):
            yield ctx
            return
        self.busy = "execute"
        yield
        try:
            done = await adapter.execute(
                tenant_id=ctx.tenant_id,
                restore_id=self._restore_id() or 0,
                dispatcher=get_dispatcher(),
            )
        except START_REFUSALS as exc:
            yield start_refused("Restore", exc)
            return
        except RestoreStateError as exc:
            yield toasts.refused("Restore was not started", str(exc))
            return
        finally:
            self.busy = ""
        await self._reload(ctx)
        self.watch_run_id, self.watch_type = done.run.id, RUN_TYPE
        yield toasts.run_started("Restore", created=done.dispatched, view_path=done.view_path)

    @rx.event
    async def discard(self):
        ctx = await self._guard(Capability.execute_restore, page=False)
        if not isinstance(ctx, TenantContext):
            return ctx
        restore_id = self._restore_id() or 0
        try:
            what = await asyncio.to_thread(_discard, ctx.tenant_id, restore_id)
        except RestoreStateError as exc:
            return toasts.refused("Not discarded", str(exc))
        except NotFound:
            self.access = "not_found"
            return None
        return [
            rx.toast.success("Restore discarded" if what == "cancelled" else "Draft deleted"),
            rx.redirect(tenant_href(ctx.slug, "restore")),
        ]


def _discard(tenant_id: int, restore_id: int) -> str:
    with session_scope() as session:
        return drafts.discard(session, tenant_id=tenant_id, restore_id=restore_id)


def _plan_text(counts: dict[str, int]) -> str:
    parts = [
        f"{counts.get(ItemAction.create.value, 0)} to create",
        f"{counts.get(ItemAction.update.value, 0)} to update",
        f"{counts.get(ItemAction.unchanged.value, 0)} unchanged",
    ]
    if counts.get(ItemAction.skip.value):
        parts.append(f"{counts[ItemAction.skip.value]} skipped")
    if counts.get("conflicts"):
        parts.append(f"{counts['conflicts']} conflict(s) to review")
    return ", ".join(parts) + "."
