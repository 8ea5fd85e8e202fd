"""Inventory (`/t/<slug>/inventory`): the last observed Intune objects — search, type filter,
sort, paging — and "Sync now"."""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from opsapp.db import session_scope
from opsapp.features.inventory.queries import inventory_type_choices, list_inventory_items
from opsapp.paging import Page
from opsapp.ui.components.synced_list import SyncedListPage, synced_list_page
from opsapp.ui.components.table import Column
from opsapp.ui.components.times import relative_time
from opsapp.ui.state.synced_list import SyncedListState
from opsapp.ui.state.tenant import TenantState


class InventoryLandingState(SyncedListState, TenantState):
    run_type: ClassVar[str] = "inventory.sync"
    sort_keys: ClassVar[tuple[str, ...]] = (
        "display_name",
        "policy_type",
        "last_modified",
        "observed_at",
    )
    type_choices: list[dict[str, str]] = inventory_type_choices()

    def _fetch(self, tenant_id: int, type_value: str | None, args: dict) -> Page:
        with session_scope() as session:
            return list_inventory_items(
                session, tenant_id=tenant_id, policy_type=type_value, **args
            )


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


PAGE = SyncedListPage(
    title="Inventory",
    subtitle="The last observed catalog of Intune objects in this tenant.",
    start_label="Sync now",
    run_label="Inventory sync",
    type_label="types",
    empty_icon="boxes",
    empty_title="No inventory yet",
    empty_text="An inventory sync reads this tenant's Intune objects.",
    columns=[
        Column("Name", "display_name"),
        Column("Type", "policy_type"),
        Column("Last modified", "last_modified"),
        Column("Observed", "observed_at"),
    ],
    render_row=_row,
)


def inventory() -> rx.Component:
    return synced_list_page(InventoryLandingState, PAGE)
