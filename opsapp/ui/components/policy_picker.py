"""The policy picker dialog of a backup set (state: PolicyPickerState): live search, type
filter, sortable table with a checkbox per row, a selection kept across pages, the capture
options and "Add selected"."""

from __future__ import annotations

import reflex as rx

from opsapp.ui.components.table import Column, choice_select, data_table
from opsapp.ui.components.times import relative_time
from opsapp.ui.state.lists import ALL
from opsapp.ui.state.policy_picker import PolicyPickerState as P

COLUMNS = [
    Column("", None),
    Column("Name", "display_name"),
    Column("Type", "policy_type"),
    Column("Last modified", "last_modified"),
]


def _row(policy: rx.Var) -> rx.Component:
    name = policy["display_name"].to(str)
    return rx.table.row(
        rx.table.cell(
            rx.checkbox(
                checked=policy["selected"].to(bool) | policy["in_set"].to(bool),
                disabled=policy["in_set"].to(bool),
                on_change=lambda checked: P.toggle(policy["id"], checked),
                aria_label="Select " + name,
            ),
            width="36px",
        ),
        rx.table.row_header_cell(
            rx.hstack(
                rx.text(name, weight="medium", word_break="break-word"),
                rx.cond(
                    policy["in_set"],
                    rx.badge("In set", color_scheme="green", variant="soft", data_testid="in-set"),
                    rx.fragment(),
                ),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
        ),
        rx.table.cell(
            rx.badge(policy["policy_type_label"], variant="surface", color_scheme="gray")
        ),
        rx.table.cell(relative_time(policy["last_modified"])),
        data_testid="picker-row",
        data_policy_id=policy["id"],
        data_selected=policy["selected"].to(str),
    )


def _toolbar() -> rx.Component:
    return rx.flex(
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            default_value=P.search,
            key="picker-search-" + P.is_open.to(str),
            on_change=P.set_search,
            placeholder="Search policies by name",
            aria_label="Search policies by name",
            width=rx.breakpoints(initial="100%", sm="280px"),
            data_testid="picker-search",
        ),
        choice_select(
            P.type_filter,
            P.type_choices,
            P.set_type_filter,
            all_label="All types",
            label="Filter by type",
        ),
        rx.cond(
            (P.search != "") | (P.type_filter != ALL),
            rx.button("Clear filters", variant="ghost", on_click=P.clear_filters),
            rx.fragment(),
        ),
        spacing="2",
        wrap="wrap",
        align="center",
    )


def _selection_bar() -> rx.Component:
    return rx.hstack(
        rx.checkbox(
            "Select all on this page",
            checked=P.page_all_selected,
            on_change=P.toggle_page,
            size="2",
        ),
        rx.spacer(),
        rx.badge(
            P.selected_count.to(str) + " selected",
            color_scheme=rx.cond(P.selected_count > 0, "blue", "gray"),
            variant="soft",
            size="2",
            data_testid="picker-selected-count",
        ),
        rx.button(
            "Clear selection",
            variant="ghost",
            size="1",
            on_click=P.clear_selection,
            disabled=P.selected_count == 0,
        ),
        align="center",
        width="100%",
        spacing="3",
    )


def _footer() -> rx.Component:
    return rx.flex(
        rx.hstack(
            rx.checkbox(
                "Include assignments",
                checked=P.include_assignments,
                on_change=P.set_include_assignments,
            ),
            rx.checkbox(
                "Include scope tags",
                checked=P.include_scope_tags,
                on_change=P.set_include_scope_tags,
            ),
            spacing="4",
            wrap="wrap",
        ),
        rx.spacer(),
        rx.hstack(
            rx.cond(
                P.message,
                rx.text(
                    P.message,
                    color=rx.color("red", 11),
                    size="2",
                    role="alert",
                    data_testid="picker-message",
                ),
                rx.fragment(),
            ),
            rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
            rx.button(
                "Add selected",
                on_click=P.add_selected,
                loading=P.starting == "backup_set.add_policies",
            ),
            spacing="2",
            align="center",
        ),
        direction=rx.breakpoints(initial="column", sm="row"),
        spacing="3",
        align=rx.breakpoints(initial="start", sm="center"),
        width="100%",
    )


def _empty() -> rx.Component:
    return rx.center(
        rx.text(
            rx.cond(
                (P.search != "") | (P.type_filter != ALL),
                "No policy matches. Try another search or clear the filters.",
                "This tenant has no policies yet: a policy sync captures them.",
            ),
            size="2",
            color=rx.color("gray", 11),
        ),
        padding="32px",
        width="100%",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="var(--radius-4)",
    )


def policy_picker() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Add policies"),
            rx.dialog.description(
                "Pick the policies to capture into this set. "
                "Their current state is read from Microsoft Graph in the background.",
                size="2",
                margin_bottom="12px",
            ),
            rx.vstack(
                _toolbar(),
                _selection_bar(),
                rx.box(
                    data_table(P, COLUMNS, _row, empty=_empty()), width="100%", min_height="200px"
                ),
                _footer(),
                spacing="3",
                width="100%",
            ),
            max_width="900px",
            width="95vw",
            data_testid="policy-picker",
        ),
        open=P.is_open,
        on_open_change=P.set_open,
    )
