"""PolicyPickerState: the backup set's "Add policies" dialog — search, type filter, sort and
paging over the tenant's policies (database only), a selection that survives paging and
filtering, the capture options, and "Add selected" → one `backup_set.add_policies` run.

The dialog's view lives in this state, not in the URL: it is a transient tool over the set page
(whose URL keeps the items table's view). Policies already in the set are marked and cannot be
picked again."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import reflex as rx

from opsapp.db import session_scope
from opsapp.features.backups.queries import set_policy_ids
from opsapp.features.inventory.queries import inventory_type_choices
from opsapp.features.policies.queries import list_policies
from opsapp.operations.access import Capability
from opsapp.paging import MAX_SEARCH_CHARS, Page
from opsapp.ui.state.backup_sets import ADD, route_set_id, start_followed
from opsapp.ui.state.lists import ALL
from opsapp.ui.state.tenant import TenantContext, TenantState

NO_SELECTION = "No policies selected"
MAX_SELECTION = 5_000  # one run's worth; a bigger backup is a schedule's job


def _fetch(tenant_id: int, type_value: str | None, args: dict) -> Page:
    with session_scope() as session:
        return list_policies(session, tenant_id=tenant_id, policy_type=type_value, **args)


def _in_set(set_id: int) -> list[int]:
    with session_scope() as session:
        return sorted(set_policy_ids(session, set_id=set_id))


class PolicyPickerState(TenantState):
    sort_keys: ClassVar[tuple[str, ...]] = ("display_name", "policy_type", "last_modified")
    is_open: bool = False
    search: str = ""
    type_filter: str = ALL
    sort: str = "display_name"
    descending: bool = False
    page_number: int = 1
    page_size: int = 10
    rows: list[dict[str, Any]] = []
    total: int = 0
    has_next: bool = False
    has_prev: bool = False
    first_index: int = 0
    last_index: int = 0
    loaded: bool = False
    type_choices: list[dict[str, str]] = inventory_type_choices()
    selected_ids: list[int] = []
    include_assignments: bool = True
    include_scope_tags: bool = True
    message: str = ""
    _set_id: int = 0
    _in_set_ids: list[int] = []

    @rx.var
    def selected_count(self) -> int:
        return len(self.selected_ids)

    @rx.var
    def page_all_selected(self) -> bool:
        pickable = [r for r in self.rows if not r.get("in_set")]
        return bool(pickable) and all(r.get("selected") for r in pickable)

    def _mark(self) -> None:
        chosen, in_set = set(self.selected_ids), set(self._in_set_ids)
        self.rows = [
            {**r, "selected": r["id"] in chosen, "in_set": r["id"] in in_set} for r in self.rows
        ]

    async def _refresh(self) -> rx.event.EventSpec | None:
        """Authorize, then show the page of policies the current view asks for."""
        ctx = await self._guard(Capability.start_operations, page=False)
        if not isinstance(ctx, TenantContext):
            self.is_open = False
            return ctx
        args = {
            "search": self.search,
            "sort": self.sort,
            "descending": self.descending,
            "page": self.page_number,
            "page_size": self.page_size,
        }
        type_value = None if self.type_filter == ALL else self.type_filter
        data = (await asyncio.to_thread(_fetch, ctx.tenant_id, type_value, args)).to_dict()
        if not data["rows"] and self.page_number > 1:  # the view shrank under this page
            self.page_number = 1
            return await self._refresh()
        self.rows, self.total = data["rows"], data["total"] or 0
        self.has_next, self.has_prev = data["has_next"], data["has_prev"]
        self.first_index, self.last_index = data["first_index"], data["last_index"]
        self.loaded = True
        self._mark()
        return None

    @rx.event
    async def open_picker(self):
        """Open on a fresh view (options back to their defaults) of the route's set."""
        set_id = route_set_id(self.backup_set_id)
        self.search, self.type_filter, self.sort, self.descending = "", ALL, "display_name", False
        self.page_number, self.selected_ids, self.message, self.loaded = 1, [], "", False
        self.include_assignments = self.include_scope_tags = True
        ctx = await self._guard(Capability.start_operations, page=False)
        if not isinstance(ctx, TenantContext) or set_id is None:
            self.is_open = False
            return ctx
        self._set_id = set_id
        self._in_set_ids = await asyncio.to_thread(_in_set, set_id)
        self.is_open = True
        return await self._refresh()

    @rx.event
    def set_open(self, is_open: bool):
        if not is_open:
            self.is_open, self.message = False, ""

    @rx.event
    async def set_search(self, value: str):
        self.search, self.page_number = str(value).strip()[:MAX_SEARCH_CHARS], 1
        return await self._refresh()

    @rx.event
    async def set_type_filter(self, value: str):
        valid = {c["value"] for c in self.type_choices}
        self.type_filter, self.page_number = (value if value in valid else ALL), 1
        return await self._refresh()

    @rx.event
    async def sort_by(self, key: str):
        if key not in self.sort_keys:
            return None
        self.descending = not self.descending if key == self.sort else False
        self.sort, self.page_number = key, 1
        return await self._refresh()

    @rx.event
    async def next_page(self):
        if not self.has_next:
            return None
        self.page_number += 1
        return await self._refresh()

    @rx.event
    async def prev_page(self):
        if not self.has_prev:
            return None
        self.page_number = max(1, self.page_number - 1)
        return await self._refresh()

    @rx.event
    async def clear_filters(self):
        self.search, self.type_filter, self.page_number = "", ALL, 1
        return await self._refresh()

    def _select(self, ids: list[int]) -> None:
        in_set = set(self._in_set_ids)
        wanted = [i for i in dict.fromkeys(ids) if i not in in_set]
        self.selected_ids = wanted[:MAX_SELECTION]
        if len(wanted) > MAX_SELECTION:
            self.message = f"At most {MAX_SELECTION:,} policies can be added at once."
        elif self.selected_ids:
            self.message = ""
        self._mark()

    @rx.event
    def toggle(self, policy_id: int, checked: bool):
        rest = [i for i in self.selected_ids if i != int(policy_id)]
        self._select([*rest, int(policy_id)] if checked else rest)

    @rx.event
    def toggle_page(self, checked: bool):
        page_ids = [r["id"] for r in self.rows]
        rest = [i for i in self.selected_ids if i not in set(page_ids)]
        self._select(rest + page_ids if checked else rest)

    @rx.event
    def clear_selection(self):
        self._select([])

    @rx.event
    def set_include_assignments(self, checked: bool):
        self.include_assignments = bool(checked)

    @rx.event
    def set_include_scope_tags(self, checked: bool):
        self.include_scope_tags = bool(checked)

    @rx.event
    async def add_selected(self):
        """One add run for the whole selection; an empty one is said here and starts nothing."""
        if not self.selected_ids:
            self.message = NO_SELECTION
            return
        set_id = route_set_id(self.backup_set_id)
        if set_id is None or set_id != self._set_id:
            self.is_open = False
            yield rx.toast.error("Not found", description="That backup set does not exist.")
            return
        inputs = {
            "backup_set_id": set_id,
            "policy_ids": sorted(set(self.selected_ids)),
            "include_assignments": self.include_assignments,
            "include_scope_tags": self.include_scope_tags,
        }
        started: list[bool] = []
        async for update in start_followed(self, ADD, inputs, started):
            yield update
        if started:
            self.is_open, self.selected_ids, self.message = False, [], ""
