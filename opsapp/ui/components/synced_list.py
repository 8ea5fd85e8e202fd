"""The page of a SyncedListState: header with the start button, the run watcher, the toolbar
and the data table — one layout for Inventory, Policies and Groups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import reflex as rx

from opsapp.ui.components.page import empty_state, page_header
from opsapp.ui.components.runs import run_watcher, start_button
from opsapp.ui.components.table import Column, data_table, list_toolbar
from opsapp.ui.layout import tenant_layout
from opsapp.ui.state.lists import ALL
from opsapp.ui.state.tenant import TenantState


@dataclass(frozen=True)
class SyncedListPage:
    title: str
    subtitle: str
    start_label: str  # "Sync now", "Sync groups"
    run_label: str  # "Inventory sync", shown while the page follows a run
    type_label: str  # plural: "types", "group types"
    empty_icon: str
    empty_title: str
    empty_text: str
    columns: list[Column]
    render_row: Callable[[rx.Var], rx.Component]


def _empty(state, page: SyncedListPage) -> rx.Component:
    return rx.cond(
        (state.search != "") | (state.type_filter != ALL),
        empty_state("search_x", "Nothing matches", "Try another search or clear the filters."),
        empty_state(
            page.empty_icon,
            page.empty_title,
            rx.cond(
                TenantState.can_start,
                page.empty_text,
                page.empty_text + " An operator, manager or owner can start it.",
            ),
        ),
    )


def synced_list_page(state, page: SyncedListPage) -> rx.Component:
    return tenant_layout(
        rx.vstack(
            page_header(
                page.title,
                page.subtitle,
                start_button(
                    page.start_label,
                    state.sync_now,
                    busy=TenantState.starting == state.run_type,
                    visible=TenantState.can_start,
                ),
            ),
            run_watcher(state, state.run_type, page.run_label),
            list_toolbar(state, "Search by name", state.type_choices, page.type_label),
            data_table(state, page.columns, page.render_row, empty=_empty(state, page)),
            width="100%",
            spacing="0",
        )
    )
