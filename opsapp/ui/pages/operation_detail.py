"""Run detail (`/t/<slug>/operations/<id>`): meta, status/outcome, counts with a progress bar
while running, failures, context and related links. While the run is active the page polls the
database (never Graph) and stops once the run is completed. Another tenant's run, a missing id
and a non-member all get the same 404."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import reflex as rx

from opsapp.db import session_scope
from opsapp.operations.access import NotFound, get_run_for_user
from opsapp.operations.serialize import run_to_dict
from opsapp.operations.status import RunStatus
from opsapp.ui.components.badges import run_badge
from opsapp.ui.components.page import loading_view, page_header, section
from opsapp.ui.components.times import duration, exact_time, relative_time
from opsapp.ui.layout import tenant_layout
from opsapp.ui.state.tenant import TenantContext, TenantState

POLL_MS = 1000


def _load(user_id: int, tenant_id: int, slug: str, run_id: int) -> dict[str, Any] | None:
    with session_scope() as session:
        try:
            run = get_run_for_user(session, user_id=user_id, run_id=run_id, tenant_id=tenant_id)
        except NotFound:
            return None
        return run_to_dict(run, tenant_slug=slug)


class OperationDetailState(TenantState):
    run: dict[str, Any] = {}
    context_json: str = ""

    @rx.var
    def is_active(self) -> bool:
        return bool(self.run.get("is_active"))

    @rx.event
    async def load(self):
        self.run, self.context_json = {}, ""
        return await self._refresh()

    @rx.event
    async def refresh(self, _tick: str = ""):
        return await self._refresh()

    async def _refresh(self):
        ctx = await self._guard()
        if not isinstance(ctx, TenantContext):
            return ctx
        try:
            run_id = int(self.run_id)
        except (TypeError, ValueError):
            self.access = "not_found"
            return None
        data = await asyncio.to_thread(_load, ctx.user.id, ctx.tenant_id, ctx.slug, run_id)
        if data is None:
            self.access, self.run = "not_found", {}
            return None
        self.run = data
        self.context_json = json.dumps(data.get("context") or {}, indent=2, sort_keys=True)
        return None


R = OperationDetailState.run


def _meta(label: str, value: rx.Component | rx.Var | str) -> rx.Component:
    return rx.data_list.item(rx.data_list.label(label), rx.data_list.value(value))


def _counts() -> rx.Component:
    counts = R["counts_list"].to(list[dict[str, Any]])
    return rx.cond(
        counts.length() > 0,
        rx.grid(
            rx.foreach(
                counts,
                lambda c: rx.card(
                    rx.text(c["label"], size="1", color=rx.color("gray", 11)),
                    rx.heading(c["value"].to(str), size="5"),
                    data_count=c["key"],
                ),
            ),
            columns="repeat(auto-fill, minmax(96px, 1fr))",
            spacing="2",
            width="100%",
        ),
        rx.text("No counts reported yet.", size="2", color=rx.color("gray", 11)),
    )


def _progress() -> rx.Component:
    pct = R["progress_percent"]
    return rx.cond(
        OperationDetailState.is_active,
        rx.vstack(
            rx.cond(
                pct.is_not_none() & (pct.to(int) < 100),  # a total that only grows: no fake 100 %
                rx.progress(value=pct.to(int), width="100%"),
                rx.progress(width="100%"),
            ),
            rx.text(
                rx.cond(
                    R["status"] == RunStatus.queued.value,
                    "Queued — waiting for a worker.",
                    "Running — this page updates by itself.",
                ),
                size="2",
                color=rx.color("gray", 11),
            ),
            width="100%",
            data_testid="run-progress",
        ),
        rx.fragment(),
    )


def _failures() -> rx.Component:
    failures = R["failures"].to(list[dict[str, Any]])
    return rx.cond(
        failures.length() > 0,
        section(
            "Failures",
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Code"),
                        rx.table.column_header_cell("Message"),
                        rx.table.column_header_cell("Count"),
                    )
                ),
                rx.table.body(
                    rx.foreach(
                        failures,
                        lambda f: rx.table.row(
                            rx.table.cell(rx.code(f["code"], color_scheme="red")),
                            rx.table.cell(
                                rx.text(f["message"], size="2"),
                                rx.cond(
                                    f["error_id"],
                                    rx.text(
                                        "Error id " + f["error_id"].to(str),
                                        size="1",
                                        color=rx.color("gray", 10),
                                    ),
                                    rx.fragment(),
                                ),
                            ),
                            rx.table.cell(f["count"].to(str)),
                        ),
                    )
                ),
                width="100%",
            ),
            data_testid="run-failures",
        ),
        rx.fragment(),
    )


def _links() -> rx.Component:
    links = R["related_links"].to(list[dict[str, str]])
    return rx.hstack(
        rx.foreach(links, lambda link: rx.link(link["label"], href=link["url"], size="2")),
        spacing="4",
        wrap="wrap",
    )


def _content() -> rx.Component:
    return rx.vstack(
        rx.cond(
            OperationDetailState.is_active,
            rx.moment(interval=POLL_MS, on_change=OperationDetailState.refresh, display="none"),
            rx.fragment(),
        ),
        rx.link("← Operations", href=f"/t/{TenantState.current_slug}/operations", size="2"),
        page_header(R["type_label"].to(str), "Run #" + R["id"].to(str), run_badge(R)),
        _progress(),
        rx.grid(
            section(
                "Details",
                rx.data_list.root(
                    _meta("Status", rx.text(R["status_label"], data_testid="run-status")),
                    _meta("Outcome", rx.text(R["outcome_label"], data_testid="run-outcome")),
                    _meta("Initiator", R["initiator_name"].to(str)),
                    _meta(
                        "Created",
                        rx.hstack(
                            exact_time(R["created_at"]),
                            rx.text(
                                "(",
                                relative_time(R["created_at"]),
                                ")",
                                size="1",
                                color=rx.color("gray", 10),
                            ),
                        ),
                    ),
                    _meta("Started", exact_time(R["started_at"])),
                    _meta("Completed", exact_time(R["completed_at"])),
                    _meta("Duration", duration(R["duration_label"])),
                    _meta("Attempts", R["attempts"].to(str)),
                    orientation=rx.breakpoints(initial="vertical", sm="horizontal"),
                ),
            ),
            section("Counts", _counts()),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="3",
            width="100%",
        ),
        _failures(),
        section(
            "Context",
            rx.code_block(OperationDetailState.context_json, language="json", width="100%"),
        ),
        _links(),
        spacing="4",
        width="100%",
    )


def operation_detail() -> rx.Component:
    # The tenant access of the previous page is still "ok" while this one loads: render the run
    # only once this page's load filled it.
    return tenant_layout(rx.cond(R["id"], _content(), loading_view()))
