"""Directory → Groups (`/t/<slug>/directory/groups`): Entra groups with member counts, search,
type filter, sort, paging — and "Sync groups"."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import reflex as rx

from opsapp.db import session_scope
from opsapp.features.groups.queries import group_type_choices, list_groups
from opsapp.paging import Page
from opsapp.ui.components.page import empty_state, page_header
from opsapp.ui.components.runs import run_watcher, start_button
from opsapp.ui.components.table import Column, data_table, list_toolbar
from opsapp.ui.components.times import relative_time
from opsapp.ui.layout import tenant_layout
from opsapp.ui.state.lists import ALL, ListState
from opsapp.ui.state.tenant import TenantContext, TenantState

RUN_TYPE = "directory_groups.sync"


def _fetch(tenant_id: int, group_type: str | None, args: dict) -> Page:
    with session_scope() as session:
        return list_groups(session, tenant_id=tenant_id, group_type=group_type, **args)


class GroupListState(ListState, TenantState):
    type_choices: list[dict[str, str]] = group_type_choices()
    sort_keys: ClassVar[tuple[str, ...]] = (
        "display_name",
        "group_type",
        "member_count",
        "observed_at",
    )

    @rx.event
    async def load(self):
        ctx = await self._guard()
        if not isinstance(ctx, TenantContext):
            return ctx
        await self._watch_active(ctx, RUN_TYPE)
        self._read_query()
        if self.type_filter not in {c["value"] for c in self.type_choices}:
            self.type_filter = ALL
        group_type = None if self.type_filter == ALL else self.type_filter
        self._show(await asyncio.to_thread(_fetch, ctx.tenant_id, group_type, self._list_args()))

    @rx.event
    async def sync_groups(self):
        async for update in self._start(RUN_TYPE):
            yield update


COLUMNS = [
    Column("Name", "display_name"),
    Column("Type", "group_type"),
    Column("Members", "member_count", align="right"),
    Column("Observed", "observed_at"),
]


def _row(group: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.text(group["display_name"], weight="medium")),
        rx.table.cell(rx.badge(group["group_type_label"], variant="surface", color_scheme="gray")),
        rx.table.cell(
            rx.cond(group["member_count"].is_not_none(), group["member_count"].to(str), "—"),
            text_align="right",
        ),
        rx.table.cell(relative_time(group["observed_at"])),
    )


def _empty() -> rx.Component:
    return rx.cond(
        (GroupListState.search != "") | (GroupListState.type_filter != ALL),
        empty_state("search_x", "No matching groups", "Try another search or clear the filters."),
        empty_state(
            "users",
            "No groups yet",
            "Run a groups sync to read this tenant's Entra groups.",
        ),
    )


def groups() -> rx.Component:
    s = GroupListState
    return tenant_layout(
        rx.vstack(
            page_header(
                "Groups",
                "Entra groups as last observed, with their member counts.",
                start_button(
                    "Sync groups",
                    s.sync_groups,
                    busy=TenantState.starting == RUN_TYPE,
                    visible=TenantState.can_start,
                ),
            ),
            run_watcher(s, RUN_TYPE, "Groups sync"),
            list_toolbar(s, "Search by name", s.type_choices, "group types"),
            data_table(s, COLUMNS, _row, empty=_empty()),
            width="100%",
            spacing="0",
        )
    )
