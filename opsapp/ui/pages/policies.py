"""Policies (`/t/<slug>/policies`): supported policies with their version counts — search, type
filter, sort, paging — and "Sync now"; each row opens the policy's captured versions."""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from opsapp.db import session_scope
from opsapp.features.inventory.queries import inventory_type_choices
from opsapp.features.policies.queries import list_policies
from opsapp.paging import Page
from opsapp.ui.components.synced_list import SyncedListPage, synced_list_page
from opsapp.ui.components.table import Column
from opsapp.ui.components.times import relative_time
from opsapp.ui.state.synced_list import SyncedListState
from opsapp.ui.state.tenant import TenantState


class PolicyListState(SyncedListState, TenantState):
    run_type: ClassVar[str] = "policy.sync"
    sort_keys: ClassVar[tuple[str, ...]] = (
        "display_name",
        "policy_type",
        "last_modified",
        "updated_at",
    )
    type_choices: list[dict[str, str]] = inventory_type_choices()

    def _fetch(self, tenant_id: int, type_value: str | None, args: dict) -> Page:
        with session_scope() as session:
            return list_policies(session, tenant_id=tenant_id, policy_type=type_value, **args)


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


PAGE = SyncedListPage(
    title="Policies",
    subtitle="Supported policies and their captured versions.",
    start_label="Sync now",
    run_label="Policy sync",
    type_label="types",
    empty_icon="shield_check",
    empty_title="No policies yet",
    empty_text="A policy sync captures this tenant's policies and their versions.",
    columns=[
        Column("Name", "display_name"),
        Column("Type", "policy_type"),
        Column("Versions", None, align="right"),
        Column("Last modified", "last_modified"),
        Column("Captured", "updated_at"),
    ],
    render_row=_row,
)


def policies() -> rx.Component:
    return synced_list_page(PolicyListState, PAGE)
