"""Policies (`/t/<slug>/policies`): supported policies with their version counts — search, type
filter, sort, paging — and "Sync now"; each row opens the policy's captured versions."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import reflex as rx

from opsapp.db import session_scope
from opsapp.features.inventory.queries import inventory_type_choices
from opsapp.features.policies.queries import list_policies
from opsapp.paging import Page
from opsapp.ui.components.page import empty_state, page_header
from opsapp.ui.components.runs import run_watcher, start_button
from opsapp.ui.components.table import Column, data_table, list_toolbar
from opsapp.ui.components.times import relative_time
from opsapp.ui.layout import tenant_layout
from opsapp.ui.state.lists import ALL, ListState
from opsapp.ui.state.tenant import TenantContext, TenantState

RUN_TYPE = "policy.sync"


def _fetch(tenant_id: int, policy_type: str | None, args: dict) -> Page:
    with session_scope() as session:
        return list_policies(session, tenant_id=tenant_id, policy_type=policy_type, **args)


class PolicyListState(ListState, TenantState):
    type_choices: list[dict[str, str]] = inventory_type_choices()
    sort_keys: ClassVar[tuple[str, ...]] = (
        "display_name",
        "policy_type",
        "last_modified",
        "updated_at",
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
        policy_type = None if self.type_filter == ALL else self.type_filter
        self._show(await asyncio.to_thread(_fetch, ctx.tenant_id, policy_type, self._list_args()))

    @rx.event
    async def sync_now(self):
        async for update in self._start(RUN_TYPE):
            yield update


COLUMNS = [
    Column("Name", "display_name"),
    Column("Type", "policy_type"),
    Column("Versions", None, align="right"),
    Column("Last modified", "last_modified"),
    Column("Captured", "updated_at"),
]


def _row(policy: rx.Var) -> rx.Component:
    href = f"/t/{TenantState.current_slug}/policies/" + policy["id"].to(str)
    return rx.table.row(
        rx.table.row_header_cell(rx.link(policy["display_name"], href=href, weight="medium")),
        rx.table.cell(
            rx.badge(policy["policy_type_label"], variant="surface", color_scheme="gray")
        ),
        rx.table.cell(policy["version_count"].to(str), text_align="right"),
        rx.table.cell(relative_time(policy["last_modified"])),
        rx.table.cell(relative_time(policy["updated_at"])),
    )


def _empty() -> rx.Component:
    return rx.cond(
        (PolicyListState.search != "") | (PolicyListState.type_filter != ALL),
        empty_state("search_x", "No matching policies", "Try another search or clear the filters."),
        empty_state(
            "shield_check",
            "No policies yet",
            "Run a policy sync to capture this tenant's policies and their versions.",
        ),
    )


def policies() -> rx.Component:
    s = PolicyListState
    return tenant_layout(
        rx.vstack(
            page_header(
                "Policies",
                "Supported policies and their captured versions.",
                start_button(
                    "Sync now",
                    s.sync_now,
                    busy=TenantState.starting == RUN_TYPE,
                    visible=TenantState.can_start,
                ),
            ),
            run_watcher(s, RUN_TYPE, "Policy sync"),
            list_toolbar(s, "Search by name", s.type_choices, "types"),
            data_table(s, COLUMNS, _row, empty=_empty()),
            width="100%",
            spacing="0",
        )
    )
