"""Monitoring → Operations (`/t/<slug>/operations`): the tenant's runs, newest first, last 30 days
by default; filters (type, state, time range, initiator) and page live in the URL query so a
link reproduces the view. Database only; it refreshes itself while a listed run is active."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import reflex as rx

from opsapp.db import session_scope
from opsapp.operations.queries import filter_choices, list_runs_page, parse_filters
from opsapp.paging import clamp_page
from opsapp.ui.components.badges import run_badge
from opsapp.ui.components.page import empty_state, page_header
from opsapp.ui.components.progress import counts_inline, run_progress
from opsapp.ui.components.runs import run_href
from opsapp.ui.components.table import choice_select, pager
from opsapp.ui.components.times import duration, relative_time
from opsapp.ui.layout import tenant_layout
from opsapp.ui.routes import with_query
from opsapp.ui.state.lists import ALL
from opsapp.ui.state.tenant import TenantContext, TenantState

POLL_MS = 2000
FILTER_KEYS = ("type", "state", "range", "initiator")
DEFAULT_RANGE = "30d"


# The filter choices (the initiators of recent runs) cost more than a page of runs on a big
# tenant: read them at most this often per tab, not on every poll and filter change.
CHOICES_TTL_S = 60.0


def _fetch(
    tenant_id: int, slug: str, params: dict[str, str], page: int, size: int, with_choices: bool
) -> dict:
    filters, errors = parse_filters(params)
    with session_scope() as session:
        result = list_runs_page(
            session,
            tenant_id=tenant_id,
            tenant_slug=slug,
            filters=filters,
            page=page,
            page_size=size,
        )
        choices = filter_choices(session, tenant_id=tenant_id) if with_choices else None
    return {"page": result.to_dict(), "errors": errors, "choices": choices}


class OperationsListState(TenantState):
    type_filter: str = ALL
    state_filter: str = ALL
    range_filter: str = DEFAULT_RANGE
    initiator_filter: str = ALL
    page_number: int = 1
    rows: list[dict[str, Any]] = []
    has_next: bool = False
    has_prev: bool = False
    loaded: bool = False
    filter_errors: list[str] = []
    type_choices: list[dict[str, str]] = []
    state_choices: list[dict[str, str]] = []
    range_choices: list[dict[str, str]] = []
    initiator_choices: list[dict[str, str]] = []
    _choices_for: tuple[int, float] = (0, 0.0)  # (tenant id, wall-clock time read)

    @rx.var
    def any_active(self) -> bool:
        return any(r.get("is_active") for r in self.rows)

    @rx.var
    def filtered(self) -> bool:
        return (self.type_filter, self.state_filter, self.range_filter, self.initiator_filter) != (
            ALL,
            ALL,
            DEFAULT_RANGE,
            ALL,
        )

    @rx.event
    async def load(self, _tick: str = ""):
        ctx = await self._guard()
        if not isinstance(ctx, TenantContext):
            return ctx
        query = self.router.url.query_parameters
        params = {k: query[k] for k in FILTER_KEYS if query.get(k)}
        self.page_number, size = clamp_page(query.get("page"), 25)
        tenant_seen, read_at = self._choices_for
        stale = tenant_seen != ctx.tenant_id or not 0 <= time.time() - read_at <= CHOICES_TTL_S
        data = await asyncio.to_thread(
            _fetch, ctx.tenant_id, ctx.slug, params, self.page_number, size, stale
        )
        page = data["page"]
        self.rows, self.has_next, self.has_prev = page["rows"], page["has_next"], page["has_prev"]
        self.filter_errors = data["errors"]
        if data["choices"] is not None:
            self._show_choices(data["choices"])
            self._choices_for = (ctx.tenant_id, time.time())
        valid = {  # what the URL asked for, where the read model accepted it
            "type": {c["value"] for c in self.type_choices},
            "state": {c["value"] for c in self.state_choices},
            "range": {c["value"] for c in self.range_choices},
        }
        self.type_filter = params.get("type") if params.get("type") in valid["type"] else ALL
        self.state_filter = params.get("state") if params.get("state") in valid["state"] else ALL
        self.range_filter = (
            params.get("range") if params.get("range") in valid["range"] else DEFAULT_RANGE
        )
        self.initiator_filter = params.get("initiator") or ALL
        self.loaded = True

    def _show_choices(self, choices: dict) -> None:
        self.type_choices, self.state_choices = choices["types"], choices["states"]
        self.range_choices = choices["ranges"]
        self.initiator_choices = [{"value": n, "label": n} for n in choices["initiators"]]

    def _url(self, **changes: Any) -> str:
        params = {
            "type": self.type_filter,
            "state": self.state_filter,
            "range": self.range_filter,
            "initiator": self.initiator_filter,
            "page": self.page_number,
        }
        params.update(changes)
        cleaned = {
            k: ("" if v in (ALL, None) or (k == "range" and v == DEFAULT_RANGE) else v)
            for k, v in params.items()
        }
        if cleaned.get("page") in (1, "1"):
            cleaned["page"] = ""
        return with_query(self.router.url.path, cleaned)

    @rx.event
    def set_filter(self, key: str, value: str):
        if key not in FILTER_KEYS:
            return None
        return rx.redirect(self._url(**{key: value, "page": ""}))

    @rx.event
    def next_page(self):
        return rx.redirect(self._url(page=self.page_number + 1)) if self.has_next else None

    @rx.event
    def prev_page(self):
        return rx.redirect(self._url(page=self.page_number - 1)) if self.has_prev else None

    @rx.event
    def reset_filters(self):
        return rx.redirect(self.router.url.path)


S = OperationsListState


def _filters() -> rx.Component:
    return rx.flex(
        choice_select(
            S.type_filter,
            S.type_choices,
            lambda v: S.set_filter("type", v),
            all_label="All operations",
            label="Operation type",
        ),
        choice_select(
            S.state_filter,
            S.state_choices,
            lambda v: S.set_filter("state", v),
            all_label="Any state",
            label="State",
        ),
        rx.select.root(
            rx.select.trigger(aria_label="Time range", min_width="150px"),
            rx.select.content(
                rx.foreach(S.range_choices, lambda c: rx.select.item(c["label"], value=c["value"]))
            ),
            value=S.range_filter,
            on_change=lambda v: S.set_filter("range", v),
        ),
        choice_select(
            S.initiator_filter,
            S.initiator_choices,
            lambda v: S.set_filter("initiator", v),
            all_label="Anyone",
            label="Initiator",
        ),
        rx.cond(
            S.filtered, rx.button("Reset", variant="ghost", on_click=S.reset_filters), rx.fragment()
        ),
        spacing="2",
        wrap="wrap",
        margin_bottom="12px",
    )


def _row(run: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.link(run["type_label"], href=run_href(run), weight="medium"),
            rx.text("#" + run["id"].to(str), size="1", color=rx.color("gray", 10)),
        ),
        rx.table.cell(rx.vstack(run_badge(run), run_progress(run, width="90px"), spacing="1")),
        rx.table.cell(run["initiator_name"]),
        rx.table.cell(relative_time(run["created_at"])),
        rx.table.cell(relative_time(run["started_at"])),
        rx.table.cell(duration(run["duration_label"])),
        rx.table.cell(counts_inline(run)),
        data_run_id=run["id"],
    )


_HEADERS = ("Operation", "Status", "Initiator", "Created", "Started", "Duration", "Counts")


def _table() -> rx.Component:
    table = rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in _HEADERS])),
            rx.table.body(rx.foreach(S.rows, _row)),
            variant="surface",
            width="100%",
        ),
        overflow_x="auto",
        width="100%",
    )
    paging = pager(S, prev_label="Newer", next_label="Older", summary=False)
    empty = rx.cond(
        S.filtered,
        empty_state(
            "search_x",
            "No runs match these filters",
            "Widen the time range or reset the filters.",
            rx.button("Reset filters", on_click=S.reset_filters),
        ),
        empty_state(
            "activity",
            "No operations in the last 30 days",
            "Syncs, backups, drift and restores appear here as soon as they start.",
        ),
    )
    return rx.cond(
        S.loaded,
        rx.cond(S.rows.length() > 0, rx.vstack(table, paging, width="100%"), empty),
        rx.skeleton(height="280px", width="100%"),
    )


def operations() -> rx.Component:
    return tenant_layout(
        rx.vstack(
            rx.cond(
                S.any_active,
                rx.moment(interval=POLL_MS, on_change=S.load, display="none"),
                rx.fragment(),
            ),
            page_header("Operations", "Every tracked run in this tenant, newest first."),
            rx.foreach(
                S.filter_errors,
                lambda e: rx.callout(
                    e, icon="info", color_scheme="amber", size="1", margin_bottom="8px"
                ),
            ),
            _filters(),
            _table(),
            width="100%",
            spacing="0",
        )
    )
