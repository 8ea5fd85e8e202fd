"""Directory → Groups (`/t/<slug>/directory/groups`): Entra groups with member counts, search,
type filter, sort, paging — and "Sync groups"."""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from opsapp.db import session_scope
from opsapp.features.groups.queries import group_type_choices, list_groups
from opsapp.paging import Page
from opsapp.ui.components.synced_list import SyncedListPage, synced_list_page
from opsapp.ui.components.table import Column
from opsapp.ui.components.times import relative_time
from opsapp.ui.state.synced_list import SyncedListState
from opsapp.ui.state.tenant import TenantState


class GroupListState(SyncedListState, TenantState):
    run_type: ClassVar[str] = "directory_groups.sync"
    sort_keys: ClassVar[tuple[str, ...]] = (
        "display_name",
        "group_type",
        "member_count",
        "observed_at",
    )
    type_choices: list[dict[str, str]] = group_type_choices()

    def _fetch(self, tenant_id: int, type_value: str | None, args: dict) -> Page:
        with session_scope() as session:
            return list_groups(session, tenant_id=tenant_id, group_type=type_value, **args)


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


PAGE = SyncedListPage(
    title="Groups",
    subtitle="Entra groups as last observed, with their member counts.",
    start_label="Sync groups",
    run_label="Groups sync",
    type_label="group types",
    empty_icon="users",
    empty_title="No groups yet",
    empty_text="A groups sync reads this tenant's Entra groups.",
    columns=[
        Column("Name", "display_name"),
        Column("Type", "group_type"),
        Column("Members", "member_count", align="right"),
        Column("Observed", "observed_at"),
    ],
    render_row=_row,
)


def groups() -> rx.Component:
    return synced_list_page(GroupListState, PAGE)
