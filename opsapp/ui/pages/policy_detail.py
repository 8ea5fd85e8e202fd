"""Policy detail (`/t/<slug>/policies/<id>`): the policy and its captured versions, newest first,
each with its assignments, scope tags, the run that captured it and its (secret-masked) payload."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from opsapp.db import session_scope
from opsapp.features.policies.queries import get_policy_detail
from opsapp.ui.components.page import loading_view, page_header
from opsapp.ui.components.times import relative_time
from opsapp.ui.layout import tenant_layout
from opsapp.ui.state.tenant import TenantContext, TenantState


def _load(tenant_id: int, policy_id: int) -> dict[str, Any] | None:
    with session_scope() as session:
        return get_policy_detail(session, tenant_id=tenant_id, policy_id=policy_id)


class PolicyDetailState(TenantState):
    policy: dict[str, Any] = {}
    versions: list[dict[str, Any]] = []

    @rx.event
    async def load(self):
        self.policy, self.versions = {}, []
        ctx = await self._guard()
        if not isinstance(ctx, TenantContext):
            return ctx
        try:
            policy_id = int(self.policy_id)
        except (TypeError, ValueError):
            self.access = "not_found"
            return
        detail = await asyncio.to_thread(_load, ctx.tenant_id, policy_id)
        if detail is None:
            self.access = "not_found"
            return
        self.versions = detail.pop("versions", [])
        self.policy = detail


def _version(v: rx.Var) -> rx.Component:
    run_link = rx.cond(
        v["operation_run_id"],
        rx.link(
            "captured by run #" + v["operation_run_id"].to(str),
            href=f"/t/{TenantState.current_slug}/operations/" + v["operation_run_id"].to(str),
            size="2",
        ),
        rx.fragment(),
    )
    return rx.accordion.item(
        header=rx.hstack(
            rx.text("Version " + v["version_number"].to(str), weight="bold"),
            rx.cond(v["is_current"], rx.badge("current", color_scheme="green"), rx.fragment()),
            rx.text(relative_time(v["captured_at"]), size="2", color=rx.color("gray", 11)),
            rx.code(v["content_hash_short"], size="1"),
            spacing="3",
            align="center",
        ),
        content=rx.vstack(
            rx.hstack(
                rx.text(
                    v["assignment_count"].to(str) + " assignments",
                    size="2",
                    color=rx.color("gray", 12),
                ),
                rx.text(
                    "Scope tags: " + v["scope_tags"].to(list[str]).join(", "),
                    size="2",
                    color=rx.color("gray", 12),
                ),
                run_link,
                spacing="4",
                wrap="wrap",
            ),
            rx.code_block(
                v["payload_json"].to(str), language="json", width="100%", wrap_long_lines=True
            ),
            spacing="2",
            width="100%",
        ),
        value=v["id"].to(str),
    )


def _content() -> rx.Component:
    p = PolicyDetailState.policy
    return rx.vstack(
        rx.link("← Policies", href=f"/t/{TenantState.current_slug}/policies", size="2"),
        page_header(
            p["display_name"].to(str),
            p["policy_type_label"].to(str) + " · " + p["graph_id"].to(str),
        ),
        rx.cond(
            p["removed"],
            rx.callout(
                "This policy was not seen in the tenant by the last sync.",
                icon="info",
                color_scheme="amber",
            ),
            rx.fragment(),
        ),
        rx.heading("Captured versions", size="4"),
        rx.accordion.root(
            rx.foreach(PolicyDetailState.versions, _version),
            type="multiple",
            collapsible=True,
            variant="outline",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def policy_detail() -> rx.Component:
    return tenant_layout(rx.cond(PolicyDetailState.policy["id"], _content(), loading_view()))
