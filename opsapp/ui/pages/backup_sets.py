"""Backup sets (`/t/<slug>/backup-sets`): the tenant's sets with item counts — search, sort,
paging — and, for roles that may change them, "New backup set", rename and delete (with a
confirmation naming the set and its item count)."""

from __future__ import annotations

import reflex as rx

from opsapp.ui.components.page import empty_state, page_header
from opsapp.ui.components.table import Column, data_table, search_box
from opsapp.ui.components.times import relative_time
from opsapp.ui.layout import tenant_layout
from opsapp.ui.state.backup_sets import BackupSetListState as S
from opsapp.ui.state.tenant import TenantState

COLUMNS = [
    Column("Name", "name"),
    Column("Items", "item_count", align="right"),
    Column("Created", "created_at"),
    Column("Last change", "updated_at"),
    Column("", None, align="right"),
]


def schedule_badge(row: rx.Var) -> rx.Component:
    return rx.cond(
        row["schedule_id"],
        rx.tooltip(
            rx.badge(
                rx.icon("calendar_clock", size=12),
                "Schedule",
                variant="soft",
                color_scheme="violet",
            ),
            content=rx.cond(
                row["schedule_name"],
                "Made by schedule " + row["schedule_name"].to(str),
                "Made by a schedule",
            ),
        ),
        rx.fragment(),
    )


def _actions(row: rx.Var) -> rx.Component:
    name = row["name"].to(str)
    return rx.cond(
        TenantState.can_start,
        rx.hstack(
            rx.icon_button(
                rx.icon("pencil", size=14),
                variant="ghost",
                size="1",
                color_scheme="gray",
                on_click=S.open_rename(row["id"]),
                aria_label="Rename " + name,
                title="Rename",
            ),
            rx.icon_button(
                rx.icon("trash_2", size=14),
                variant="ghost",
                size="1",
                color_scheme="red",
                on_click=S.open_delete(row["id"]),
                aria_label="Delete " + name,
                title="Delete",
            ),
            spacing="3",
            justify="end",
        ),
        rx.fragment(),
    )


def _row(row: rx.Var) -> rx.Component:
    href = f"/t/{TenantState.current_slug}/backup-sets/" + row["id"].to(str)
    return rx.table.row(
        rx.table.row_header_cell(
            rx.hstack(
                rx.link(row["name"], href=href, weight="medium", word_break="break-word"),
                schedule_badge(row),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            max_width="480px",
        ),
        rx.table.cell(row["item_count"].to(str), text_align="right"),
        rx.table.cell(relative_time(row["created_at"])),
        rx.table.cell(relative_time(row["updated_at"])),
        rx.table.cell(_actions(row), text_align="right"),
        data_testid="backup-set-row",
    )


def _new_button() -> rx.Component:
    return rx.cond(
        TenantState.can_start,
        rx.button(rx.icon("plus", size=15), "New backup set", on_click=S.open_create),
        rx.fragment(),
    )


def _empty() -> rx.Component:
    return rx.cond(
        S.search != "",
        empty_state("search_x", "Nothing matches", "Try another search or clear it."),
        empty_state(
            "archive",
            "No backup sets yet",
            rx.cond(
                TenantState.can_start,
                "A backup set keeps captured versions of the policies you pick.",
                "A backup set keeps captured versions of policies. "
                "An operator, manager or owner can create one.",
            ),
        ),
    )


def form_error(message: rx.Var) -> rx.Component:
    return rx.cond(
        message,
        rx.text(
            message, size="2", color=rx.color("red", 11), data_testid="form-error", role="alert"
        ),
        rx.fragment(),
    )


def _name_dialog(kind: str, title: str, text: str, submit: str, on_submit) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(text, size="2", margin_bottom="12px"),
            rx.form(
                rx.vstack(
                    rx.el.label(
                        rx.text("Name", size="2", weight="medium"), html_for=f"{kind}-name"
                    ),
                    rx.input(
                        id=f"{kind}-name",
                        name="name",
                        default_value=S.target_name,
                        key=f"{kind}-" + S.target_id.to(str),
                        placeholder="e.g. Baseline before the Windows 11 rollout",
                        auto_focus=True,
                        width="100%",
                    ),
                    form_error(S.form_error),
                    rx.hstack(
                        rx.dialog.close(
                            rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                        ),
                        rx.button(submit, type="submit"),
                        justify="end",
                        width="100%",
                        spacing="2",
                        margin_top="8px",
                    ),
                    spacing="2",
                    width="100%",
                ),
                on_submit=on_submit,
                reset_on_submit=False,
            ),
            max_width="480px",
        ),
        open=S.dialog == kind,
        on_open_change=S.set_dialog_open,
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete backup set?"),
            rx.alert_dialog.description(
                rx.text(
                    "“",
                    rx.text(S.target_name, as_="span", weight="bold", word_break="break-word"),
                    "” will be deleted",
                    rx.cond(
                        S.target_items > 0,
                        rx.fragment(
                            " with its ",
                            rx.text(
                                rx.cond(
                                    S.target_items == 1, "1 item", S.target_items.to(str) + " items"
                                ),
                                as_="span",
                                weight="bold",
                            ),
                        ),
                        " (it has no items)",
                    ),
                    ". The captured policy versions stay in each policy's history.",
                    size="2",
                ),
                data_testid="delete-confirmation",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button("Delete backup set", color_scheme="red", on_click=S.confirm_delete)
                ),
                justify="end",
                spacing="2",
                margin_top="16px",
            ),
            max_width="480px",
        ),
        open=S.dialog == "delete",
        on_open_change=S.set_dialog_open,
    )


def backup_sets() -> rx.Component:
    return tenant_layout(
        rx.vstack(
            page_header("Backup sets", "Named sets of captured policy versions.", _new_button()),
            rx.box(search_box(S, "Search by name"), margin_bottom="12px"),
            data_table(S, COLUMNS, _row, empty=_empty()),
            _name_dialog(
                "create",
                "New backup set",
                "Name the set; add policies to it on the next page.",
                "Create",
                S.create_set,
            ),
            _name_dialog(
                "rename", "Rename backup set", "Give the set a new name.", "Save", S.rename_set
            ),
            _delete_dialog(),
            width="100%",
            spacing="0",
        )
    )
