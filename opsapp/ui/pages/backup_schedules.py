"""Backup schedules (`/t/<slug>/backup-schedules`): each schedule's cadence, next run (in the
schedule's time zone and the viewer's), last run with its outcome, Run now / Retry, pause,
delete; and the create/edit form (`…/new`, `…/<id>`)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from opsapp.features.backups.slots import WEEKDAY_TOKENS
from opsapp.operations.status import ACTIVE_BUCKET, TERMINAL_OUTCOMES, RunOutcome, RunStatus
from opsapp.policy_types import POLICY_TYPES
from opsapp.ui.components.badges import run_badge
from opsapp.ui.components.page import empty_state, loading_view, page_header, section
from opsapp.ui.components.runs import run_watcher
from opsapp.ui.components.table import header_cell
from opsapp.ui.components.times import exact_time, relative_time
from opsapp.ui.layout import tenant_layout
from opsapp.ui.state.backup_schedules import BackupScheduleFormState, BackupScheduleListState
from opsapp.ui.state.tenant import TenantState

S = BackupScheduleListState
F = BackupScheduleFormState
_BUCKET = {
    RunOutcome.succeeded.value: RunOutcome.succeeded.value,
    RunOutcome.partially_succeeded.value: RunOutcome.partially_succeeded.value,
}
# a completed run's outcome → its label
_OUTCOME_LABELS = [(o.value, o.label) for o in RunOutcome if o in TERMINAL_OUTCOMES]


def _base() -> rx.Var:
    return f"/t/{TenantState.current_slug}/backup-schedules"


def _cadence(s: rx.Var) -> rx.Component:
    days = s["weekday_labels"].to(list[str]).join(", ")
    when = rx.cond(s["frequency"] == "weekly", "Weekly on " + days, "Daily")
    return rx.vstack(
        rx.text(when + " at " + s["time_of_day"].to(str), size="2", weight="medium"),
        rx.text(s["timezone"].to(str), size="1", color=rx.color("gray", 11)),
        spacing="0",
    )


def _next_run(s: rx.Var) -> rx.Component:
    return rx.cond(
        s["enabled"] & s["next_run_at"],
        rx.vstack(
            rx.text(s["next_run_local"].to(str), size="2", white_space="nowrap"),
            rx.text(
                "your time: ", exact_time(s["next_run_at"]), size="1", color=rx.color("gray", 11)
            ),
            spacing="0",
        ),
        rx.badge("Paused", color_scheme="gray", variant="soft"),
    )


def _last_run_badge(run: rx.Var) -> rx.Component:
    """The same badge the run pages show, from the read model's last-run facts."""
    run = run.to(dict[str, Any])
    active = (run["status"] == RunStatus.queued.value) | (run["status"] == RunStatus.running.value)
    bucket = rx.cond(
        active,
        ACTIVE_BUCKET,
        rx.match(run["outcome"].to(str), *_BUCKET.items(), run["outcome"].to(str)),
    )
    facts = {
        "state_bucket": bucket,
        "is_active": active,
        "status": run["status"],
        "status_label": rx.cond(
            run["status"] == RunStatus.queued.value,
            RunStatus.queued.label,
            RunStatus.running.label,
        ),
        "outcome_label": rx.match(run["outcome"].to(str), *_OUTCOME_LABELS, run["outcome"].to(str)),
    }
    return run_badge(rx.Var.create(facts))


def _last_run(s: rx.Var) -> rx.Component:
    run = s["last_run"].to(dict[str, Any])
    return rx.cond(
        s["last_run"],
        rx.link(
            rx.hstack(
                _last_run_badge(run),
                rx.text(relative_time(run["created_at"]), size="1", color=rx.color("gray", 11)),
                spacing="2",
                align="center",
            ),
            href=f"/t/{TenantState.current_slug}/operations/" + run["id"].to(str),
            underline="none",
            data_testid="last-run",
        ),
        rx.text("Never run", size="2", color=rx.color("gray", 10)),
    )


def _actions(s: rx.Var) -> rx.Component:
    run = s["last_run"].to(dict[str, Any])
    sid = s["id"].to(int)
    retry = rx.cond(
        s["last_run"] & run["retryable"],
        rx.button(
            rx.icon("rotate_ccw", size=14),
            "Retry",
            size="1",
            variant="soft",
            color_scheme="amber",
            on_click=S.retry(sid, run["id"].to(int)).throttle(1500),
            data_testid="retry",
        ),
        rx.fragment(),
    )
    manage = rx.cond(
        S.can_manage,
        rx.hstack(
            rx.switch(
                checked=s["enabled"].to(bool),
                on_change=lambda on: S.set_enabled(sid, on),
                aria_label="Enabled",
                size="1",
            ),
            rx.icon_button(
                rx.icon("trash_2", size=14),
                size="1",
                variant="ghost",
                color_scheme="red",
                aria_label="Delete schedule",
                on_click=S.ask_delete(sid, s["name"].to(str)),
            ),
            spacing="2",
            align="center",
        ),
        rx.fragment(),
    )
    return rx.hstack(
        rx.cond(
            TenantState.can_start,
            rx.button(
                rx.icon("play", size=14),
                "Run now",
                size="1",
                variant="soft",
                on_click=S.run_now(sid).throttle(1500),
                loading=TenantState.starting == "backup_schedule.run_now",
                data_testid="run-now",
            ),
            rx.fragment(),
        ),
        retry,
        manage,
        spacing="2",
        align="center",
        justify="end",
    )


def _row(s: rx.Var) -> rx.Component:
    s = s.to(dict[str, Any])
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.link(s["name"].to(str), href=_base() + "/" + s["id"].to(str), weight="medium"),
                rx.text(
                    s["policy_type_labels"].to(list[str]).join(", "),
                    size="1",
                    color=rx.color("gray", 11),
                    max_width="280px",
                ),
                spacing="1",
            )
        ),
        rx.table.cell(_cadence(s)),
        rx.table.cell(rx.text("Keep " + s["keep_last"].to(str), size="2", white_space="nowrap")),
        rx.table.cell(_next_run(s)),
        rx.table.cell(_last_run(s)),
        rx.table.cell(_actions(s)),
        data_testid="schedule-row",
        align="center",
    )


def _table() -> rx.Component:
    headers = ("Schedule", "Cadence", "Retention", "Next run", "Last run", "")
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(S.schedules, _row)),
            variant="surface",
            size="2",
            width="100%",
        ),
        overflow_x="auto",
        width="100%",
    )


def _empty() -> rx.Component:
    return empty_state(
        "calendar_clock",
        "No backup schedules yet",
        rx.cond(
            S.can_manage,
            "A schedule backs up the policy types you choose, daily or weekly, and keeps the "
            "last N sets.",
            "An owner or manager can create one.",
        ),
        rx.cond(S.can_manage, _new_button(), rx.fragment()),
    )


def _new_button() -> rx.Component:
    return rx.link(
        rx.button(rx.icon("plus", size=15), "New schedule", data_testid="new-schedule"),
        href=_base() + "/new",
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete schedule"),
            rx.alert_dialog.description(
                'Delete the schedule "' + S.delete_name + '"? It stops running. The backup '
                "sets it made are kept; delete them on the Backup sets page if you no longer "
                "need them."
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray"),
                ),
                rx.alert_dialog.action(
                    rx.button(
                        "Delete schedule",
                        color_scheme="red",
                        on_click=S.confirm_delete,
                        data_testid="confirm-delete",
                    ),
                ),
                spacing="3",
                justify="end",
                margin_top="16px",
            ),
        ),
        open=S.delete_id > 0,
        on_open_change=lambda open_: rx.cond(open_, rx.noop(), S.cancel_delete()),
    )


def backup_schedules() -> rx.Component:
    return tenant_layout(
        rx.vstack(
            page_header(
                "Backup schedules",
                "Backups that run by themselves. Times are in each schedule's own time zone.",
                rx.cond(S.can_manage & (S.schedules.length() > 0), _new_button(), rx.fragment()),
            ),
            run_watcher(S, "backup_schedule.run_now", "Backup schedule run"),
            run_watcher(S, "backup_schedule.retry", "Backup schedule retry"),
            rx.cond(
                S.loaded,
                rx.cond(S.schedules.length() > 0, _table(), _empty()),
                rx.skeleton(height="200px", width="100%"),
            ),
            _delete_dialog(),
            width="100%",
            spacing="0",
        )
    )


# --- the form --------------------------------------------------------------------------------


def _error(field: str) -> rx.Component:
    message = F.errors[field].to(str)
    return rx.cond(
        F.errors.contains(field),
        rx.text(message, size="1", color=rx.color("red", 11), data_testid=f"error-{field}"),
        rx.fragment(),
    )


def _field(label: str, control: rx.Component, field: str, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium", as_="label"),
        control,
        rx.text(hint, size="1", color=rx.color("gray", 10)) if hint else rx.fragment(),
        _error(field),
        spacing="1",
        width="100%",
    )


def _weekday_picker() -> rx.Component:
    return rx.hstack(
        *[
            rx.checkbox(
                day.capitalize(),
                checked=F.weekdays.contains(day),
                on_change=lambda on, d=day: F.toggle_weekday(d, on),
                disabled=~F.can_manage,
                name=f"day-{day}",
            )
            for day in WEEKDAY_TOKENS
        ],
        spacing="3",
        wrap="wrap",
    )


def _type_picker() -> rx.Component:
    return rx.grid(
        *[
            rx.checkbox(
                t.label,
                checked=F.policy_types.contains(t.key),
                on_change=lambda on, k=t.key: F.toggle_policy_type(k, on),
                disabled=~F.can_manage,
                name=f"type-{t.key}",
            )
            for t in POLICY_TYPES
        ],
        columns=rx.breakpoints(initial="1", sm="2"),
        spacing="2",
        width="100%",
    )


def _form() -> rx.Component:
    locked = ~F.can_manage
    return section(
        "Schedule",
        rx.cond(F.errors.contains("form"), rx.callout(F.errors["form"], color_scheme="red")),
        _field(
            "Name",
            rx.input(
                value=F.form_name,
                on_change=F.change_name,
                placeholder="Nightly policy backup",
                max_length=400,
                disabled=locked,
                name="name",
                width="100%",
            ),
            "name",
        ),
        rx.grid(
            _field(
                "Frequency",
                rx.select(
                    ["daily", "weekly"],
                    value=F.frequency,
                    on_change=F.change_frequency,
                    disabled=locked,
                    name="frequency",
                ),
                "frequency",
            ),
            _field(
                "Time of day",
                rx.input(
                    type="time",
                    value=F.time_of_day,
                    on_change=F.change_time,
                    disabled=locked,
                    name="time",
                ),
                "time",
            ),
            _field(
                "Time zone",
                rx.fragment(
                    rx.input(
                        value=F.timezone,
                        on_change=F.change_timezone,
                        list="tz-options",
                        placeholder="Europe/Berlin",
                        disabled=locked,
                        name="timezone",
                    ),
                    rx.el.datalist(
                        rx.foreach(F.zone_options, lambda z: rx.el.option(value=z)),
                        id="tz-options",
                    ),
                ),
                "timezone",
                "An IANA name. Daylight saving is handled: a time that does not exist that day "
                "is skipped, a repeated hour runs once.",
            ),
            columns=rx.breakpoints(initial="1", md="3"),
            spacing="4",
            width="100%",
        ),
        rx.cond(
            F.frequency == "weekly",
            _field("Weekdays", _weekday_picker(), "weekdays"),
            rx.fragment(),
        ),
        _field("Policy types", _type_picker(), "policy_types"),
        rx.grid(
            _field(
                "Keep the last N sets",
                rx.input(
                    type="number",
                    min=1,
                    max=365,
                    value=F.keep_last,
                    on_change=F.change_keep_last,
                    disabled=locked,
                    name="keep_last",
                ),
                "keep_last",
                "Older sets made by this schedule are deleted after each run.",
            ),
            _field(
                "Enabled",
                rx.switch(
                    checked=F.enabled, on_change=F.change_enabled, disabled=locked, name="enabled"
                ),
                "enabled",
            ),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="4",
            width="100%",
        ),
        rx.cond(
            F.can_manage,
            rx.hstack(
                rx.link(rx.button("Cancel", variant="soft", color_scheme="gray"), href=_base()),
                rx.button("Save schedule", on_click=F.save, data_testid="save-schedule"),
                spacing="3",
                justify="end",
                width="100%",
            ),
            rx.text(
                "Only owners and managers can change schedules.",
                size="2",
                color=rx.color("gray", 11),
            ),
        ),
    )


def _facts() -> rx.Component:
    d = F.detail.to(dict[str, Any])
    return rx.cond(
        F.editing_id > 0,
        section(
            "Status",
            rx.grid(
                rx.vstack(
                    rx.text("Next run", size="1", color=rx.color("gray", 11)),
                    _next_run(d),
                    spacing="1",
                ),
                rx.vstack(
                    rx.text("Last run", size="1", color=rx.color("gray", 11)),
                    _last_run(d),
                    spacing="1",
                ),
                rx.vstack(
                    rx.text("Backup sets made", size="1", color=rx.color("gray", 11)),
                    rx.link(
                        d["set_count"].to(str) + " sets",
                        href=f"/t/{TenantState.current_slug}/backup-sets",
                    ),
                    spacing="1",
                ),
                columns=rx.breakpoints(initial="1", sm="3"),
                spacing="4",
                width="100%",
            ),
        ),
        rx.fragment(),
    )


def backup_schedule_form() -> rx.Component:
    title = rx.cond(F.editing_id > 0, F.detail["name"].to(str), "New backup schedule")
    return tenant_layout(
        rx.cond(
            F.ready,
            rx.vstack(
                rx.link("← Backup schedules", href=_base(), size="2"),
                page_header(title, "What to back up, when, and how many sets to keep."),
                _facts(),
                _form(),
                spacing="4",
                width="100%",
                max_width="880px",
            ),
            loading_view(),
        )
    )
