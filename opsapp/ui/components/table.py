"""The one data table: sortable headers, rows from a ListState, an empty state, a pager. Pages
declare their columns and how one row renders; nothing else about lists is written twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import reflex as rx

from opsapp.ui.state.lists import ALL


@dataclass(frozen=True)
class Column:
    label: str
    sort_key: str | None = None  # None: not sortable
    align: str = "left"


def header_cell(label: str, *, align: str = "left") -> rx.Component:
    """A header that does not sort, set like the sortable ones (small, medium weight)."""
    return rx.table.column_header_cell(
        rx.text(label, size="1", weight="medium", color=rx.color("gray", 12)), text_align=align
    )


def _header_cell(state, column: Column) -> rx.Component:
    if column.sort_key is None:
        return header_cell(column.label, align=column.align)
    active = state.sort == column.sort_key
    arrow = rx.cond(
        active,
        rx.cond(state.descending, rx.icon("arrow_down", size=14), rx.icon("arrow_up", size=14)),
        rx.icon("arrow_up_down", size=14, opacity="0.35"),
    )
    return rx.table.column_header_cell(
        rx.button(
            column.label,
            arrow,
            variant="ghost",
            size="1",
            color_scheme="gray",
            on_click=state.sort_by(column.sort_key),
            aria_label=f"Sort by {column.label}",
        ),
        text_align=column.align,
        aria_sort=rx.cond(active, rx.cond(state.descending, "descending", "ascending"), "none"),
    )


def data_table(
    state,
    columns: list[Column],
    render_row: Callable[[rx.Var], rx.Component],
    *,
    empty: rx.Component,
    rows: rx.Var | None = None,
) -> rx.Component:
    rows = rows if rows is not None else state.rows
    table = rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[_header_cell(state, c) for c in columns])),
            rx.table.body(rx.foreach(rows, render_row)),
            variant="surface",
            size="2",
            width="100%",
        ),
        overflow_x="auto",
        width="100%",
    )
    return rx.cond(
        state.loaded,
        rx.cond(rows.length() > 0, rx.vstack(table, pager(state), width="100%"), empty),
        rx.skeleton(height="240px", width="100%"),
    )


def pager(
    state, *, prev_label: str = "Previous", next_label: str = "Next", summary: bool = True
) -> rx.Component:
    """Previous / page N / next; with `summary`, "1–25 of 400" from a counted list."""
    parts = [rx.spacer()]
    if summary:
        text = rx.cond(
            state.total > 0,
            f"{state.first_index}–{state.last_index} of {state.total}",
            f"{state.first_index}–{state.last_index}",
        )
        parts = [
            rx.text(text, size="2", color=rx.color("gray", 11), data_testid="pager-summary"),
            rx.spacer(),
        ]
    return rx.hstack(
        *parts,
        rx.button(
            rx.icon("chevron_left", size=16),
            prev_label,
            variant="soft",
            size="1",
            disabled=~state.has_prev,
            on_click=state.prev_page,
        ),
        rx.text(f"Page {state.page_number}", size="2"),
        rx.button(
            next_label,
            rx.icon("chevron_right", size=16),
            variant="soft",
            size="1",
            disabled=~state.has_next,
            on_click=state.next_page,
        ),
        align="center",
        width="100%",
        spacing="2",
    )


def choice_select(
    value: rx.Var, choices: rx.Var | list[dict], on_change, *, all_label: str, label: str
) -> rx.Component:
    """A select over [{"value","label"}] with an "all" entry first."""
    items = rx.foreach(choices, lambda c: rx.select.item(c["label"], value=c["value"]))
    return rx.select.root(
        rx.select.trigger(aria_label=label, min_width="170px"),
        rx.select.content(rx.select.item(all_label, value=ALL), items),
        value=value,
        on_change=on_change,
        size="2",
    )


def search_box(state, placeholder: str) -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(
                rx.input.slot(rx.icon("search", size=14)),
                name="q",
                default_value=state.search,
                key=state.search,
                placeholder=placeholder,
                aria_label=placeholder,
                width=rx.breakpoints(initial="100%", sm="260px"),
            ),
            rx.button("Search", type="submit", variant="soft"),
            spacing="2",
        ),
        on_submit=state.apply_search,
        reset_on_submit=False,
        width="auto",
    )


def list_toolbar(state, placeholder: str, type_choices, type_label: str) -> rx.Component:
    return rx.flex(
        search_box(state, placeholder),
        choice_select(
            state.type_filter,
            type_choices,
            state.set_type_filter,
            all_label=f"All {type_label}",
            label=f"Filter by {type_label[:-1] if type_label.endswith('s') else type_label}",
        ),
        rx.cond(
            (state.search != "") | (state.type_filter != ALL),
            rx.button("Clear filters", variant="ghost", on_click=state.clear_filters),
            rx.fragment(),
        ),
        spacing="2",
        wrap="wrap",
        align="center",
        margin_bottom="12px",
    )


def selection_bar(state, *, select_label: str, count_testid: str, action: rx.Component):
    """Above a table with row checkboxes, for roles that may act: "select all on this page",
    and once something is selected its count, Clear and `action`. The state provides rows,
    page_all_selected, toggle_page, selected_count and clear_selection."""
    from opsapp.ui.state.tenant import TenantState

    return rx.cond(
        TenantState.can_start & (state.rows.length() > 0),
        rx.hstack(
            rx.checkbox(select_label, checked=state.page_all_selected, on_change=state.toggle_page),
            rx.spacer(),
            rx.cond(
                state.selected_count > 0,
                rx.hstack(
                    rx.text(
                        state.selected_count.to(str) + " selected",
                        size="2",
                        data_testid=count_testid,
                    ),
                    rx.button("Clear", variant="ghost", size="1", on_click=state.clear_selection),
                    action,
                    spacing="3",
                    align="center",
                ),
                rx.fragment(),
            ),
            align="center",
            width="100%",
            margin_bottom="8px",
            min_height="32px",
        ),
        rx.fragment(),
    )
