"""Backup set detail (`/t/<slug>/backup-sets/<id>`): the set's facts and its items — policy,
type, captured version and time, what the capture included — with search, type filter and
paging; row "Remove" and bulk "Remove selected" (each a `backup_set.remove_policies` run),
"Add policies" (the picker), and a watcher that reloads the items when the followed run ends."""

from __future__ import annotations

import reflex as rx

from opsapp.ui.components.page import empty_state, page_header
from opsapp.ui.components.policy_picker import policy_picker
from opsapp.ui.components.runs import run_watcher
from opsapp.ui.components.table import Column, data_table, list_toolbar, selection_bar
from opsapp.ui.components.times import relative_time
from opsapp.ui.layout import tenant_layout
from opsapp.ui.pages.backup_sets import schedule_badge
from opsapp.ui.state.backup_sets import ADD, REMOVE
from opsapp.ui.state.backup_sets import BackupSetDetailState as S
from opsapp.ui.state.lists import ALL
from opsapp.ui.state.policy_picker import PolicyPickerState
from opsapp.ui.state.tenant import TenantState

_SELECT = Column("", None)
_COLUMNS = [
    Column("Policy", "display_name"),
    Column("Type", "policy_type"),
    Column("Version", None, align="right"),
    Column("Captured", "captured_at"),
    Column("Assignments", None),
    Column("Scope tags", None),
]
_ACTIONS = Column("", None, align="right")


def _included(flag: rx.Var) -> rx.Component:
    return rx.cond(
        flag,
        rx.badge(rx.icon("check", size=12), "Included", color_scheme="green", variant="soft"),
        rx.badge("Not included", color_scheme="gray", variant="outline"),
    )


def _row(item: rx.Var, *, manage: bool) -> rx.Component:
    name = item["display_name"].to(str)
    href = f"/t/{TenantState.current_slug}/policies/" + item["policy_id"].to(str)
    cells = [
        rx.table.row_header_cell(
            rx.hstack(
                rx.link(name, href=href, weight="medium", word_break="break-word"),
                rx.cond(
                    item["policy_removed"],
                    rx.badge("Removed from tenant", color_scheme="amber", variant="soft"),
                    rx.fragment(),
                ),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            max_width="380px",
        ),
        rx.table.cell(rx.badge(item["policy_type_label"], variant="surface", color_scheme="gray")),
        rx.table.cell("v" + item["version_number"].to(str), text_align="right"),
        rx.table.cell(relative_time(item["captured_at"])),
        rx.table.cell(_included(item["include_assignments"])),
        rx.table.cell(_included(item["include_scope_tags"])),
    ]
    if manage:
        cells.insert(
            0,
            rx.table.cell(
                rx.checkbox(
                    checked=item["selected"].to(bool),
                    on_change=lambda checked: S.toggle_item(item["id"], checked),
                    aria_label="Select " + name,
                ),
                width="36px",
            ),
        )
        cells.append(
            rx.table.cell(
                rx.button(
                    "Remove",
                    variant="ghost",
                    color_scheme="red",
                    size="1",
                    on_click=S.remove_item(item["id"]).throttle(1500),
                    aria_label="Remove " + name,
                ),
                text_align="right",
            )
        )
    return rx.table.row(*cells, data_testid="backup-item-row")


def _facts() -> rx.Component:
    s = S.backup_set
    return rx.hstack(
        rx.text(
            rx.cond(s["item_count"] == 1, "1 item", s["item_count"].to(str) + " items"),
            size="2",
            weight="medium",
            data_testid="set-item-count",
        ),
        rx.text("·", color=rx.color("gray", 9)),
        rx.text("Created ", relative_time(s["created_at"]), size="2", color=rx.color("gray", 11)),
        rx.text("·", color=rx.color("gray", 9)),
        rx.text(
            "Last change ", relative_time(s["updated_at"]), size="2", color=rx.color("gray", 11)
        ),
        schedule_badge(s),
        spacing="2",
        align="center",
        wrap="wrap",
        margin_top="-12px",
        margin_bottom="16px",
    )


def _bulk_bar() -> rx.Component:
    return selection_bar(
        S,
        select_label="Select all on this page",
        count_testid="items-selected-count",
        action=rx.button(
            rx.icon("trash_2", size=14),
            "Remove selected",
            color_scheme="red",
            variant="soft",
            size="2",
            on_click=S.remove_selected.throttle(1500),
            loading=TenantState.starting == REMOVE,
        ),
    )


def _empty() -> rx.Component:
    return rx.cond(
        (S.search != "") | (S.type_filter != ALL),
        empty_state("search_x", "Nothing matches", "Try another search or clear the filters."),
        empty_state(
            "archive",
            "This set is empty",
            rx.cond(
                TenantState.can_start,
                "Add policies to capture their current state into this set.",
                "An operator, manager or owner can add policies to it.",
            ),
        ),
    )


def _add_button() -> rx.Component:
    return rx.cond(
        TenantState.can_start,
        rx.button(
            rx.icon("plus", size=15),
            "Add policies",
            on_click=PolicyPickerState.open_picker,
            loading=TenantState.starting == ADD,
        ),
        rx.fragment(),
    )


def _table() -> rx.Component:
    return rx.cond(
        TenantState.can_start,
        data_table(
            S, [_SELECT, *_COLUMNS, _ACTIONS], lambda i: _row(i, manage=True), empty=_empty()
        ),
        data_table(S, _COLUMNS, lambda i: _row(i, manage=False), empty=_empty()),
    )


def _content() -> rx.Component:
    return rx.vstack(
        rx.link("← Backup sets", href=f"/t/{TenantState.current_slug}/backup-sets", size="2"),
        page_header(S.backup_set["name"].to(str), "", _add_button()),
        _facts(),
        run_watcher(S, ADD, "Adding policies"),
        run_watcher(S, REMOVE, "Removing policies"),
        list_toolbar(S, "Search by name", S.type_choices, "types"),
        _bulk_bar(),
        _table(),
        policy_picker(),
        width="100%",
        spacing="0",
    )


def backup_set_detail() -> rx.Component:
    return tenant_layout(
        rx.cond(
            S.backup_set["id"],
            _content(),
            rx.skeleton(height="240px", width="100%"),
        )
    )
