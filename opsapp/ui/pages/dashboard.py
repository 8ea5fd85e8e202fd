"""Tenant dashboard (`/t/<slug>`): counts, the last sync of each kind, active runs with progress
and recent failures — each linking to its run. It refreshes itself while anything is active."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from opsapp.db import session_scope
from opsapp.operations.dashboard import tenant_dashboard
from opsapp.ui.components.badges import run_badge
from opsapp.ui.components.page import page_header, section
from opsapp.ui.components.runs import run_href, run_line, start_button
from opsapp.ui.components.times import relative_time
from opsapp.ui.layout import tenant_layout
from opsapp.ui.state.tenant import TenantContext, TenantState

POLL_MS = 2000
# The syncs the dashboard's "Sync" buttons may start (a crafted event may name anything).
SYNC_TYPES = frozenset({"inventory.sync", "policy.sync", "directory_groups.sync"})


def _load(tenant_id: int, slug: str) -> dict[str, Any]:
    with session_scope() as session:
        return tenant_dashboard(session, tenant_id=tenant_id, tenant_slug=slug)


class TenantDashboardState(TenantState):
    counts: dict[str, int] = {}
    last_syncs: list[dict[str, Any]] = []
    active_runs: list[dict[str, Any]] = []
    recent_failures: list[dict[str, Any]] = []
    has_active: bool = False

    @rx.event
    async def load(self, _tick: str = ""):
        ctx = await self._guard()
        if not isinstance(ctx, TenantContext):
            return ctx
        data = await asyncio.to_thread(_load, ctx.tenant_id, ctx.slug)
        self.counts = data["counts"]
        self.last_syncs = data["last_syncs"]
        self.active_runs = data["active_runs"]
        self.recent_failures = data["recent_failures"]
        self.has_active = data["has_active"]

    @rx.event
    async def sync(self, run_type: str):
        if run_type not in SYNC_TYPES:
            return
        async for update in self._start(run_type):
            yield update
        yield TenantDashboardState.load


def _count_card(label: str, key: str, segment: str, icon: str) -> rx.Component:
    return rx.link(
        rx.card(
            rx.hstack(
                rx.icon(icon, size=20, color=rx.color("accent", 10)),
                rx.vstack(
                    rx.text(label, size="2", color=rx.color("gray", 11)),
                    rx.heading(TenantDashboardState.counts[key].to(str), size="7"),
                    spacing="0",
                ),
                align="center",
                spacing="3",
            ),
            width="100%",
        ),
        href=f"/t/{TenantState.current_slug}/{segment}",
        underline="none",
        color="inherit",
        data_testid=f"count-{key}",
    )


def _last_sync(item: rx.Var) -> rx.Component:
    run, active = item["run"].to(dict[str, Any]), item["active"].to(dict[str, Any])
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(item["label"], weight="bold", size="3"),
                rx.spacer(),
                start_button(
                    "Sync",
                    TenantDashboardState.sync(item["type"]),
                    busy=TenantState.starting == item["type"],
                    visible=TenantState.can_start,
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                active,
                rx.link(
                    rx.hstack(run_badge(active), rx.text("in progress", size="2")),
                    href=run_href(active),
                ),
                rx.fragment(),
            ),
            rx.cond(
                run,
                rx.link(
                    rx.hstack(
                        run_badge(run),
                        rx.text(relative_time(run["completed_at"]), size="2"),
                        align="center",
                    ),
                    href=run_href(run),
                    underline="none",
                ),
                rx.text("Never synced", size="2", color=rx.color("gray", 11)),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        data_testid="last-sync",
    )


def _runs(runs: rx.Var, empty_text: str) -> rx.Component:
    return rx.cond(
        runs.length() > 0,
        rx.vstack(rx.foreach(runs, run_line), spacing="1", width="100%"),
        rx.text(empty_text, size="2", color=rx.color("gray", 11)),
    )


def _content() -> rx.Component:
    return rx.vstack(
        rx.cond(
            TenantDashboardState.has_active,
            rx.moment(interval=POLL_MS, on_change=TenantDashboardState.load, display="none"),
            rx.fragment(),
        ),
        page_header(TenantState.tenant_name, "Tenant overview"),
        rx.grid(
            _count_card("Inventory items", "inventory_items", "inventory", "boxes"),
            _count_card("Policies", "policies", "policies", "shield_check"),
            _count_card("Groups", "groups", "directory/groups", "users"),
            columns=rx.breakpoints(initial="1", sm="3"),
            spacing="3",
            width="100%",
        ),
        rx.heading("Last syncs", size="4", margin_top="8px"),
        rx.grid(
            rx.foreach(TenantDashboardState.last_syncs, _last_sync),
            columns=rx.breakpoints(initial="1", sm="3"),
            spacing="3",
            width="100%",
        ),
        rx.grid(
            section(
                "Active runs",
                _runs(TenantDashboardState.active_runs, "Nothing is running."),
                data_testid="active-runs",
            ),
            section(
                "Recent failures",
                _runs(TenantDashboardState.recent_failures, "No failures in the last 7 days."),
                data_testid="recent-failures",
            ),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="3",
            width="100%",
        ),
        rx.link("All operations →", href=f"/t/{TenantState.current_slug}/operations", size="2"),
        spacing="4",
        width="100%",
    )


def dashboard() -> rx.Component:
    return tenant_layout(_content())
