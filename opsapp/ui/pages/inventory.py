"""Inventory (`/t/<slug>/inventory`): the last observed Intune objects — search, type filter,
sort, paging — and "Sync now"."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import reflex as rx

from opsapp.db import session_scope
from opsapp.features.inventory.queries import inventory_type_choices, list_inventory_items
from opsapp.paging import Page
from opsapp.ui.components.page import empty_state, page_header
from opsapp.ui.components.runs import run_watcher, start_button
from opsapp.ui.components.table import Column, data_table, list_toolbar
from opsapp.ui.components.times import relative_time
from opsapp.ui.layout import tenant_layout
from opsapp.ui.state.lists import ALL, ListState
from opsapp.ui.state.tenant import TenantContext, TenantState

RUN_TYPE = "inventory.sync"


def _fetch(tenant_id: int, policy_type: str | None, args: dict) -> Page:
    with session_scope() as session:
        return list_inventory_items(session, tenant_id=tenant_id, policy_type=policy_type, **args)


class InventoryLandingState(ListState, TenantState):
    type_choices: list[dict[str, str]] = inventory_type_choices()
    sort_keys: ClassVar[tuple[str, ...]] = (
        "display_name",
        "policy_type",
        "last_modified",
        "observed_at",
    )

    @rx.event
    async def load(self):
        ctx = await self._guard()
        if not isinstance(ctx, TenantContext):
            return ctx
        await self._watch_active(ctx, RUN_TYPE)
        self._read_query()
        valid = {c["value"] for c in self.type_choices}
        if self.type_filter not in valid:
            self.type_filter = ALL
        policy_type = None if self.type_filter == ALL else self.type_filter
        self._show(await asyncio.to_thread(_fetch, ctx.tenant_id, policy_type, self._list_args()))

    @rx.event
    async def sync_now(self):
        async for update in self._start(RUN_TYPE):
            yield update


COLUMNS = [
    Column("Name", "display_name"),
    Column("Type", "policy_type"),
    Column("Last modified", "last_modified"),
    Column("Observed", "observed_at"),
]


def _row(item: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.text(item["display_name"], weight="medium"),
                rx.text(item["graph_id"], size="1", color=rx.color("gray", 10)),
                spacing="0",
            )
        ),
        rx.table.cell(rx.badge(item["policy_type_label"], variant="surface", color_scheme="gray")),
        rx.table.cell(relative_time(item["last_modified"])),
        rx.table.cell(relative_time(item["observed_at"])),
    )


def _empty() -> rx.Component:
    return rx.cond(
        (InventoryLandingState.search != "") | (InventoryLandingState.type_filter != ALL),
        empty_state("search_x", "No matching items", "Try another search or clear the filters."),
        empty_state(
            "boxes",
            "No inventory yet",
            rx.cond(
                TenantState.can_start,
                "Run an inventory sync to read this tenant's Intune objects.",
                "An operator or owner can run an inventory sync to fill this page.",
            ),
        ),
    )


def inventory() -> rx.Component:
    s = InventoryLandingState
    return tenant_layout(
        rx.vstack(
            page_header(
                "Inventory",
                "The last observed catalog of Intune objects in this tenant.",
                start_button(
                    "Sync now",
                    s.sync_now,
                    busy=TenantState.starting == RUN_TYPE,
                    visible=TenantState.can_start,
                ),
            ),
            run_watcher(s, RUN_TYPE, "Inventory sync"),
            list_toolbar(s, "Search by name", s.type_choices, "types"),
            data_table(s, COLUMNS, _row, empty=_empty()),
            width="100%",
            spacing="0",
        )
    )
