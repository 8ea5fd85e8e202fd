"""Restore pages. The list (`/t/<slug>/restore`): restores newest first with status and outcome,
"New restore" (owners and managers) from a backup set. One restore (`/t/<slug>/restore/<id>`):
a draft's items and options, Preview, the plan with conflicts and group mapping, Execute behind a
confirmation naming the tenant and the count, and the per-item results."""

from __future__ import annotations

from typing import Any

import reflex as rx

from opsapp.models import ItemAction, ItemResult, RestoreStatus
from opsapp.operations.status import RunOutcome
from opsapp.ui.components.page import empty_state, loading_view, page_header, section
from opsapp.ui.components.runs import run_watcher
from opsapp.ui.components.table import header_cell
from opsapp.ui.components.times import relative_time
from opsapp.ui.layout import tenant_layout
from opsapp.ui.state.restore import RUN_TYPE, SKIP
from opsapp.ui.state.restore import RestoreDetailState as D
from opsapp.ui.state.restore import RestoreListState as L
from opsapp.ui.state.tenant import TenantState

_STATUS_COLORS = {
    RestoreStatus.draft.value: "gray",
    RestoreStatus.previewed.value: "blue",
    RestoreStatus.running.value: "blue",
    RestoreStatus.completed.value: "green",
}
_OUTCOME_COLORS = {
    RunOutcome.succeeded.value: "green",
    RunOutcome.partially_succeeded.value: "amber",
    RunOutcome.failed.value: "red",
    RunOutcome.cancelled.value: "gray",
}
_ACTION_COLORS = {
    ItemAction.create.value: "green",
    ItemAction.update.value: "amber",
    ItemAction.unchanged.value: "gray",
    ItemAction.skip.value: "gray",
}
_RESULT_COLORS = {
    ItemResult.created.value: "green",
    ItemResult.updated.value: "green",
    ItemResult.unchanged.value: "gray",
    ItemResult.skipped.value: "gray",
    ItemResult.failed.value: "red",
}


def status_badge(row: rx.Var, testid: str = "restore-status") -> rx.Component:
    row = row.to(dict[str, Any])
    completed = row["status"] == RestoreStatus.completed.value
    color = rx.cond(
        completed,
        rx.match(row["outcome"], *_OUTCOME_COLORS.items(), "gray"),
        rx.match(row["status"], *_STATUS_COLORS.items(), "gray"),
    )
    label = rx.cond(completed, row["outcome_label"], row["status_label"])
    return rx.badge(label, color_scheme=color, variant="soft", radius="full", data_testid=testid)


def _href(restore_id: rx.Var) -> rx.Var:
    return f"/t/{TenantState.current_slug}/restore/" + restore_id.to(str)


# --- the list ------------------------------------------------------------------------------


def _list_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.link("Restore #" + row["id"].to(str), href=_href(row["id"]), weight="medium")
        ),
        rx.table.cell(row["backup_set_name"]),
        rx.table.cell(status_badge(row, "restore-row-status")),
        rx.table.cell(row["item_count"].to(str), text_align="right"),
        rx.table.cell(row["created_by"]),
        rx.table.cell(relative_time(row["created_at"])),
        data_testid="restore-row",
    )


def _new_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("New restore"),
            rx.dialog.description(
                "Pick the backup set to restore from. You choose its items and options next; "
                "nothing is written to the tenant before you preview and execute.",
                size="2",
                margin_bottom="12px",
            ),
            rx.cond(
                L.set_choices.length() > 0,
                rx.select.root(
                    rx.select.trigger(aria_label="Backup set", width="100%"),
                    rx.select.content(
                        rx.foreach(
                            L.set_choices, lambda c: rx.select.item(c["label"], value=c["value"])
                        )
                    ),
                    value=L.chosen_set,
                    on_change=L.choose_set,
                ),
                rx.text("No backup set has items yet.", size="2", color=rx.color("gray", 11)),
            ),
            rx.cond(
                L.form_error,
                rx.text(L.form_error, size="2", color=rx.color("red", 11), role="alert"),
                rx.fragment(),
            ),
            rx.hstack(
                rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.button("Create draft", on_click=L.create, disabled=L.chosen_set == ""),
                justify="end",
                spacing="2",
                margin_top="16px",
            ),
            max_width="480px",
        ),
        open=L.dialog_open,
        on_open_change=L.set_dialog_open,
    )


def _list_table() -> rx.Component:
    table = rx.table.root(
        rx.table.header(
            rx.table.row(
                header_cell("Restore"),
                header_cell("Backup set"),
                header_cell("Status"),
                header_cell("Items", align="right"),
                header_cell("Created by"),
                header_cell("Created"),
            )
        ),
        rx.table.body(rx.foreach(L.restores, _list_row)),
        variant="surface",
        width="100%",
    )
    empty = empty_state(
        "history",
        "No restores yet",
        rx.cond(
            L.can_restore,
            "Start one from a backup set: preview what it would change, then execute it.",
            "Owners and managers can restore a backup set to this tenant.",
        ),
    )
    return rx.cond(
        L.loaded,
        rx.cond(L.restores.length() > 0, table, empty),
        rx.skeleton(height="200px", width="100%"),
    )


def restore_list() -> rx.Component:
    new_button = rx.cond(
        L.can_restore,
        rx.button(rx.icon("plus", size=15), "New restore", on_click=L.open_new),
        rx.fragment(),
    )
    return tenant_layout(
        rx.vstack(
            page_header(
                "Restore", "Write a backup back to the live tenant, item by item.", new_button
            ),
            _list_table(),
            _new_dialog(),
            width="100%",
            spacing="0",
        )
    )


# --- one restore ----------------------------------------------------------------------------


def _option(label: str, name: str, hint: str) -> rx.Component:
    return rx.vstack(
        rx.checkbox(
            label,
            checked=D.restore[name].to(bool),
            on_change=lambda v: D.set_option(name, v),
            disabled=~D.can_restore | (D.restore["status"] != RestoreStatus.draft.value),
        ),
        rx.text(hint, size="1", color=rx.color("gray", 11), margin_left="24px"),
        spacing="1",
    )


def _options() -> rx.Component:
    return section(
        "Options",
        rx.flex(
            _option(
                "Restore assignments",
                "restore_assignments",
                "Write the backed-up assignments through /assign.",
            ),
            _option(
                "Restore scope tags",
                "restore_scope_tags",
                "Write the backed-up scope tags with each policy.",
            ),
            rx.radio_group.root(
                rx.vstack(
                    rx.radio_group.item("Create missing policies, update existing", value="create"),
                    rx.radio_group.item("Update existing policies only", value="update_only"),
                    spacing="1",
                ),
                value=rx.cond(D.restore["create_missing"].to(bool), "create", "update_only"),
                on_change=D.set_update_only,
                disabled=~D.can_restore | (D.restore["status"] != RestoreStatus.draft.value),
                size="2",
            ),
            spacing="6",
            wrap="wrap",
        ),
    )


def _choice_row(c: rx.Var) -> rx.Component:
    name = c["display_name"].to(str)
    return rx.table.row(
        rx.table.cell(
            rx.checkbox(
                checked=c["selected"].to(bool),
                on_change=lambda v: D.toggle_item(c["id"], v),
                disabled=~D.can_restore,
                aria_label="Restore " + name,
            ),
            width="36px",
        ),
        rx.table.row_header_cell(name),
        rx.table.cell(rx.badge(c["policy_type_label"], variant="surface", color_scheme="gray")),
        data_testid="restore-choice-row",
    )


def _draft_items() -> rx.Component:
    return section(
        "Items",
        rx.hstack(
            rx.text(
                D.selected_ids.length().to(str)
                + " of "
                + D.choices.length().to(str)
                + " items selected",
                size="2",
                data_testid="restore-selected-count",
            ),
            rx.spacer(),
            rx.cond(
                D.can_restore,
                rx.hstack(
                    rx.button("Select all", variant="soft", size="1", on_click=D.select_all),
                    rx.select.root(
                        rx.select.trigger(placeholder="Only one type…", aria_label="Only type"),
                        rx.select.content(
                            rx.foreach(
                                D.type_options,
                                lambda t: rx.select.item(t["label"], value=t["value"]),
                            )
                        ),
                        value="",
                        on_change=D.select_type,
                        size="1",
                    ),
                    spacing="2",
                ),
                rx.fragment(),
            ),
            width="100%",
            align="center",
        ),
        rx.box(
            rx.table.root(
                rx.table.body(rx.foreach(D.choice_rows, _choice_row)),
                variant="ghost",
                size="1",
                width="100%",
            ),
            max_height="420px",
            overflow_y="auto",
            width="100%",
        ),
    )


def _changes(item: rx.Var) -> rx.Component:
    return rx.cond(
        item["changed_paths"].to(int) > 0,
        rx.tooltip(
            rx.text(item["changed_paths"].to(str) + " changed", size="2"),
            content=item["paths_text"].to(str),
        ),
        rx.text("—", size="2", color=rx.color("gray", 9)),
    )


def _plan_row(item: rx.Var) -> rx.Component:
    slug = TenantState.current_slug
    name = item["display_name"].to(str)
    policy = rx.cond(
        item["policy_id"],
        rx.link(name, href=f"/t/{slug}/policies/" + item["policy_id"].to(str), weight="medium"),
        rx.text(name, weight="medium"),
    )
    return rx.table.row(
        rx.table.row_header_cell(policy, max_width="340px"),
        rx.table.cell(rx.badge(item["policy_type_label"], variant="surface", color_scheme="gray")),
        rx.table.cell(
            rx.badge(
                item["action_label"],
                variant="soft",
                color_scheme=rx.match(item["action"], *_ACTION_COLORS.items(), "gray"),
            )
        ),
        rx.table.cell(_changes(item)),
        rx.table.cell(
            rx.cond(
                item["result"] != ItemResult.pending.value,
                rx.tooltip(
                    rx.badge(
                        item["result_label"],
                        variant="outline",
                        color_scheme=rx.match(item["result"], *_RESULT_COLORS.items(), "gray"),
                    ),
                    content=item["result_message"].to(str),
                ),
                rx.text("—", color=rx.color("gray", 9)),
            )
        ),
        rx.table.cell(
            rx.text(item["result_message"], size="1", color=rx.color("gray", 11)), max_width="320px"
        ),
        data_testid="restore-item-row",
        data_action=item["action"],
        data_result=item["result"],
    )


def _conflict_row(c: rx.Var) -> rx.Component:
    mapping = rx.cond(
        (c["kind"] == "group_missing")
        & D.can_restore
        & (D.restore["status"] == RestoreStatus.previewed.value),
        rx.select.root(
            rx.select.trigger(aria_label="Map group " + c["ref"].to(str), min_width="220px"),
            rx.select.content(
                rx.select.item("Skip these assignments", value=SKIP),
                rx.foreach(D.group_choices, lambda g: rx.select.item(g["label"], value=g["value"])),
            ),
            value=c["mapped"].to(str),
            on_change=lambda v: D.map_group(c["ref"], v),
            size="1",
        ),
        rx.fragment(),
    )
    return rx.hstack(
        rx.icon("triangle_alert", size=16, color=rx.color("amber", 10)),
        rx.vstack(
            rx.text(c["message"], size="2"),
            rx.text("In " + c["item"].to(str), size="1", color=rx.color("gray", 11)),
            spacing="0",
        ),
        rx.spacer(),
        mapping,
        width="100%",
        align="center",
        data_testid="restore-conflict",
    )


def _counts() -> rx.Component:
    return rx.hstack(
        rx.foreach(
            D.restore["plan_counts"].to(list[dict[str, Any]]),
            lambda c: rx.badge(
                c["label"].to(str) + ": " + c["value"].to(str),
                variant="surface",
                color_scheme="gray",
                size="2",
            ),
        ),
        spacing="2",
        wrap="wrap",
        data_testid="restore-plan-counts",
    )


def _plan() -> rx.Component:
    table = rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    header_cell("Policy"),
                    header_cell("Type"),
                    header_cell("Plan"),
                    header_cell("Changed paths"),
                    header_cell("Result"),
                    header_cell(""),
                )
            ),
            rx.table.body(rx.foreach(D.items, _plan_row)),
            variant="surface",
            size="2",
            width="100%",
        ),
        overflow_x="auto",
        width="100%",
    )
    no_items = rx.text(
        "No items are recorded for this restore.", size="2", color=rx.color("gray", 11)
    )
    return rx.vstack(
        _counts(),
        rx.cond(
            D.conflicts.length() > 0,
            section("Conflicts", rx.foreach(D.conflicts, _conflict_row)),
            rx.fragment(),
        ),
        rx.cond(D.items.length() > 0, table, no_items),
        spacing="3",
        width="100%",
    )


def _actions() -> rx.Component:
    status = D.restore["status"]
    preview = rx.button(
        rx.icon("scan_search", size=15),
        rx.cond(status == RestoreStatus.previewed.value, "Preview again", "Preview"),
        on_click=D.preview,
        loading=D.busy == "preview",
        variant=rx.cond(status == RestoreStatus.previewed.value, "soft", "solid"),
        data_testid="restore-preview",
    )
    execute = rx.button(
        rx.icon("play", size=15),
        "Execute",
        on_click=D.open_confirm,
        loading=D.busy == "execute",
        color_scheme="red",
        data_testid="restore-execute",
    )
    discard = rx.button("Discard", variant="ghost", color_scheme="gray", on_click=D.discard)
    return rx.cond(
        D.can_restore,
        rx.match(
            status,
            (RestoreStatus.draft.value, rx.hstack(discard, preview, spacing="2")),
            (RestoreStatus.previewed.value, rx.hstack(discard, preview, execute, spacing="2")),
            rx.fragment(),
        ),
        rx.fragment(),
    )


def _confirm() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Execute this restore?"),
            rx.alert_dialog.description(
                rx.text(
                    "This writes ",
                    rx.text(
                        rx.cond(
                            D.planned_writes == 1,
                            "1 policy",
                            D.planned_writes.to(str) + " policies",
                        ),
                        weight="bold",
                        as_="span",
                    ),
                    " to the live tenant ",
                    rx.text(TenantState.tenant_name, weight="bold", as_="span"),
                    " (",
                    D.restore["preview_counts"].to(dict[str, int])[ItemAction.create.value].to(str),
                    " created, ",
                    D.restore["preview_counts"].to(dict[str, int])[ItemAction.update.value].to(str),
                    " updated). Policies that differ are overwritten with the backup.",
                    size="2",
                ),
                data_testid="restore-confirmation",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button("Execute restore", color_scheme="red", on_click=D.execute)
                ),
                justify="end",
                spacing="2",
                margin_top="16px",
            ),
            max_width="520px",
        ),
        open=D.confirm_open,
        on_open_change=D.set_confirm_open,
    )


def _facts() -> rx.Component:
    r = D.restore
    slug = TenantState.current_slug
    return rx.flex(
        status_badge(r),
        rx.text("From ", size="2", color=rx.color("gray", 11)),
        rx.cond(
            r["backup_set_id"],
            rx.link(
                r["backup_set_name"].to(str),
                href=f"/t/{slug}/backup-sets/" + r["backup_set_id"].to(str),
                size="2",
            ),
            rx.text(r["backup_set_name"].to(str) + " (deleted)", size="2"),
        ),
        rx.text("·", color=rx.color("gray", 9)),
        rx.text(
            "Created by ",
            r["created_by"].to(str),
            " ",
            relative_time(r["created_at"]),
            size="2",
            color=rx.color("gray", 11),
        ),
        rx.cond(
            r["operation_run_id"],
            rx.link(
                "View run",
                href=f"/t/{slug}/operations/" + r["operation_run_id"].to(str),
                size="2",
                data_testid="restore-run-link",
            ),
            rx.fragment(),
        ),
        spacing="2",
        align="center",
        wrap="wrap",
        margin_top="-12px",
        margin_bottom="16px",
    )


def _content() -> rx.Component:
    r = D.restore
    return rx.vstack(
        rx.link("← Restores", href=f"/t/{TenantState.current_slug}/restore", size="2"),
        page_header("Restore #" + r["id"].to(str), "", _actions()),
        _facts(),
        run_watcher(D, RUN_TYPE, "Restore"),
        rx.cond(
            r["status"] == RestoreStatus.draft.value,
            rx.vstack(
                rx.callout(
                    "Choose the items and options, then Preview: it reads the live tenant and "
                    "shows what the restore would change. Nothing is written before Execute.",
                    icon="info",
                    size="1",
                    width="100%",
                ),
                _options(),
                _draft_items(),
                spacing="3",
                width="100%",
            ),
            rx.vstack(_options(), _plan(), spacing="3", width="100%"),
        ),
        _confirm(),
        width="100%",
        spacing="0",
    )


def restore_detail() -> rx.Component:
    return tenant_layout(rx.cond(D.restore["id"], _content(), loading_view()))
