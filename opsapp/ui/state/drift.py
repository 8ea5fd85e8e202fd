"""Drift pages: the landing page (`DriftLandingState`: baseline picker, summary counts, the
findings table with filters in the URL, Acknowledge / bulk acknowledge, "Generate drift" and the
auto-start when findings are stale) and one finding side by side (`DriftFindingState`).

Loading reads only the database. Every handler authorizes on the server first; readonly users
see findings and a "stale" notice, never a start (the service refuses their starts anyway)."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import reflex as rx

from opsapp.db import session_scope
from opsapp.features.drift import queries
from opsapp.features.drift.auto import AutoStart, start_if_stale
from opsapp.features.drift.findings import DriftInputError, acknowledge
from opsapp.features.drift.freshness import GENERATE, Freshness, freshness
from opsapp.features.inventory.queries import inventory_type_choices
from opsapp.operations.access import Capability
from opsapp.ui import toasts
from opsapp.ui.routes import tenant_href
from opsapp.ui.state.backup_sets import MAX_NAME_INPUT, route_set_id, start_followed
from opsapp.ui.state.lists import ALL, ListState
from opsapp.ui.state.tenant import START_REFUSALS, TenantContext, TenantState, start_refused
from opsapp.worker.embedded import get_dispatcher

STATE_CHOICES = [
    {"value": "open", "label": "Open (new and acknowledged)"},
    {"value": "new", "label": "New"},
    {"value": "acknowledged", "label": "Acknowledged"},
    {"value": "resolved", "label": "Resolved"},
    {"value": "all", "label": "All states"},
]
KIND_CHOICES = [{"value": k, "label": label} for k, label in queries.KIND_LABELS.items()]


def _overview(tenant_id: int, wanted: int | None) -> dict[str, Any]:
    """Baselines, the chosen one (the URL's, else the newest), its freshness and summary."""
    with session_scope() as session:
        baselines = queries.list_baselines(session, tenant_id=tenant_id)
        ids = [b["id"] for b in baselines]
        chosen = wanted if wanted in ids else (ids[0] if ids else None)
        out: dict[str, Any] = {
            "baselines": baselines,
            "baseline_id": chosen,
            "unknown": wanted is not None and wanted not in ids,
        }
        if chosen is None:
            return out
        baseline = queries.get_baseline(session, tenant_id=tenant_id, baseline_id=chosen)
        out["freshness"] = freshness(session, tenant_id=tenant_id, baseline=baseline)
        out["summary"] = queries.summary(session, tenant_id=tenant_id, baseline_id=chosen)
        return out


def _findings_page(tenant_id: int, baseline_id: int, filters: dict, args: dict):
    with session_scope() as session:
        return queries.list_findings(
            session, tenant_id=tenant_id, baseline_id=baseline_id, **filters, **args
        )


def _acknowledge(tenant_id: int, user, ids: list[int], note: str):
    with session_scope() as session:
        return acknowledge(
            session,
            tenant_id=tenant_id,
            finding_ids=ids,
            user_id=user.id,
            user_name=user.display_name or user.email,
            note=note,
        )


def _finding(tenant_id: int, finding_id: int) -> dict | None:
    with session_scope() as session:
        return queries.get_finding(session, tenant_id=tenant_id, finding_id=finding_id)


def _ack_toast(result) -> rx.event.EventSpec:
    done = len(result.acknowledged)
    skipped = len(result.already) + len(result.resolved) + len(result.not_found)
    if not done:
        return rx.toast.info(
            "Nothing to acknowledge",
            description="The selected findings were already acknowledged or resolved.",
        )
    title = "1 finding acknowledged" if done == 1 else f"{done:,} findings acknowledged"
    note = f"{skipped:,} skipped (already acknowledged or resolved)." if skipped else ""
    return rx.toast.success(title, description=note or None)


def _items(count: int) -> str:
    return "1 item" if count == 1 else f"{count:,} items"


class AckDialogMixin(rx.State, mixin=True):
    """The acknowledge dialog (one finding or a selection) with its optional note."""

    ack_ids: list[int] = []
    ack_error: str = ""

    @rx.event
    def set_ack_open(self, is_open: bool):
        if not is_open:
            self.ack_ids, self.ack_error = [], ""

    async def _open_ack(self, ids: list[int]):
        """Open the dialog for `ids` if the caller may acknowledge; else the refusal."""
        ctx = await self._guard(Capability.start_operations, page=False)
        if not isinstance(ctx, TenantContext):
            return ctx
        self.ack_ids, self.ack_error = [int(i) for i in ids], ""
        return None

    async def _submit_ack(self, form_data: dict[str, Any]):
        """(ctx, AckResult) once the dialog's findings are acknowledged, or (None, what to
        answer): a refusal, or None with the message shown in the dialog."""
        ctx = await self._guard(Capability.start_operations, page=False)
        if not isinstance(ctx, TenantContext):
            self.ack_ids = []
            return None, ctx
        note = str(form_data.get("note", ""))[:MAX_NAME_INPUT]
        try:
            result = await asyncio.to_thread(
                _acknowledge, ctx.tenant_id, ctx.user, list(self.ack_ids), note
            )
        except DriftInputError as exc:
            self.ack_error = str(exc)
            return None, None
        self.ack_ids, self.ack_error = [], ""
        return ctx, result


class DriftLandingState(AckDialogMixin, ListState, TenantState):
    """`/t/<slug>/drift?baseline=…&state=…&kind=…&type=…&q=…&sort=…&dir=…&page=…`"""

    sort_keys: ClassVar[tuple[str, ...]] = queries.FINDING_SORT_KEYS
    type_choices: list[dict[str, str]] = inventory_type_choices()
    baselines: list[dict[str, Any]] = []
    baseline_choice: str = ""  # the picked baseline id as text ("" when there is none)
    state_filter: str = queries.OPEN
    kind_filter: str = ALL
    counts: dict[str, Any] = {}
    stale: bool = False
    stale_reason: str = ""
    generated_at: str = ""
    empty_baseline: bool = False  # the baseline holds no policies: nothing to compare
    selected_ids: list[int] = []
    _scope: list[str] = []  # the policy types the page's generation covers

    @rx.var
    def baseline_name(self) -> str:
        chosen = next((b for b in self.baselines if str(b["id"]) == self.baseline_choice), None)
        return chosen["name"] if chosen else ""

    @rx.var
    def selected_count(self) -> int:
        return len(self.selected_ids)

    @rx.var
    def filtered(self) -> bool:
        return (
            bool(self.search)
            or self.type_filter != ALL
            or self.kind_filter != ALL
            or (self.state_filter != queries.OPEN)
        )

    # -- URL ------------------------------------------------------------------------------
    def _read_query(self) -> None:
        super()._read_query()
        params = self.router.url.query_parameters
        state = params.get("state") or queries.OPEN
        self.state_filter = state if state in queries.STATE_FILTERS else queries.OPEN
        kind = params.get("kind") or ALL
        self.kind_filter = kind if kind in queries.KIND_FILTERS else ALL

    def _url(self, **changes: Any) -> str:
        changes.setdefault("baseline", self.baseline_choice)
        changes.setdefault("state", "" if self.state_filter == queries.OPEN else self.state_filter)
        changes.setdefault("kind", "" if self.kind_filter == ALL else self.kind_filter)
        return super()._url(**changes)

    def _filters(self) -> dict[str, Any]:
        return {
            "state": self.state_filter,
            "kind": None if self.kind_filter == ALL else self.kind_filter,
            "policy_type": None if self.type_filter == ALL else self.type_filter,
        }

    @rx.event
    def set_state_filter(self, value: str):
        return rx.redirect(self._url(state="" if value == queries.OPEN else value, page=""))

    @rx.event
    def set_kind_filter(self, value: str):
        return rx.redirect(self._url(kind="" if value == ALL else value, page=""))

    @rx.event
    def pick_baseline(self, value: str):
        self.selected_ids = []
        return rx.redirect(self._url(baseline=value, page=""))

    @rx.event
    def clear_filters(self):
        return rx.redirect(self._url(q="", type="", state="", kind="", sort="", dir="", page=""))

    # -- loading --------------------------------------------------------------------------
    @rx.event
    async def load(self):
        """Render from the database; then, if the findings are stale and the caller may start
        operations, start a generation (deduplicated) and say so."""
        self.ack_ids = []
        ctx = await self._guard()
        if not isinstance(ctx, TenantContext):
            return ctx
        self._read_query()
        wanted = route_set_id(self.router.url.query_parameters.get("baseline"))
        overview = await self._refresh(ctx, wanted)
        answers: list = []
        if overview["unknown"] and self.baselines:
            answers.append(
                rx.toast.error(
                    "Baseline not found",
                    description="That backup set does not exist; showing the newest one.",
                )
            )
        fresh: Freshness | None = overview.get("freshness")
        if fresh is not None and fresh.stale and ctx.can(Capability.start_operations):
            said = await self._auto_start(ctx, int(self.baseline_choice))
            if said is not None:  # Reflex refuses a None inside a returned list
                answers.append(said)
        return answers or None

    async def _refresh(self, ctx: TenantContext, wanted: int | None) -> dict[str, Any]:
        overview = await asyncio.to_thread(_overview, ctx.tenant_id, wanted)
        # Select items need string values (an int never equals the picked "3").
        self.baselines = [
            {**b, "value": str(b["id"]), "label": f"{b['name']} · {_items(b['item_count'])}"}
            for b in overview["baselines"]
        ]
        chosen = overview["baseline_id"]
        if str(chosen or "") != self.baseline_choice:
            self.selected_ids = []
        self.baseline_choice = str(chosen) if chosen else ""
        fresh: Freshness | None = overview.get("freshness")
        self.counts = overview.get("summary") or {}
        self.stale = bool(fresh and fresh.stale)
        self.empty_baseline = fresh is not None and fresh.inputs is None
        self._scope = list(fresh.inputs["policy_types"]) if fresh and fresh.inputs else []
        self.stale_reason = fresh.reason if fresh else ""
        self.generated_at = fresh.generated_at.isoformat() if fresh and fresh.generated_at else ""
        if fresh is not None and fresh.active_run_id:
            self.watch_run_id, self.watch_type = fresh.active_run_id, GENERATE
        elif self.watch_type == GENERATE:
            self.watch_run_id, self.watch_type = 0, ""
        if chosen is None:
            self.rows, self.loaded = [], True
            return overview
        page = await asyncio.to_thread(
            _findings_page, ctx.tenant_id, chosen, self._filters(), self._list_args()
        )
        self._show(page)
        self._mark()
        return overview

    async def _auto_start(self, ctx: TenantContext, baseline_id: int) -> rx.event.EventSpec:
        label = "Drift generation"
        try:
            auto: AutoStart = await start_if_stale(
                tenant_id=ctx.tenant_id,
                user_id=ctx.user.id,
                baseline_id=baseline_id,
                dispatcher=get_dispatcher(),
            )
        except START_REFUSALS as exc:
            return start_refused(label, exc)
        if auto.started is None:
            # Someone else's generation got there first: follow it while it is still going;
            # when it already completed, the rows read before it are out of date — reread.
            if auto.freshness.active_run_id:
                self.watch_run_id, self.watch_type = auto.freshness.active_run_id, GENERATE
                self.stale = False
            else:
                await self._refresh(ctx, baseline_id)
            return None
        run = auto.started
        self.watch_run_id, self.watch_type = run.run.id, GENERATE
        return rx.toast.info(
            "Findings were out of date — generating drift"
            if run.created
            else "Drift generation already running",
            description=auto.freshness.reason + " The findings refresh when it completes.",
            action={"label": toasts.VIEW_RUN, "on_click": rx.redirect(run.view_path)},
            duration=toasts.DURATION_MS,
        )

    @rx.event
    async def watch_tick(self, _tick: str = ""):
        """While a generation is followed: reload the findings once it completed (no new
        auto-start from here: a failed generation must not start another every tick)."""
        finished = await self._watched_run_finished()
        if finished is not True:
            return finished or None
        ctx = await self._guard(page=False)
        if not isinstance(ctx, TenantContext):
            return ctx
        await self._refresh(ctx, route_set_id(self.baseline_choice))
        return None

    # -- generating -----------------------------------------------------------------------
    @rx.event
    async def generate(self):
        baseline_id = route_set_id(self.baseline_choice)
        if baseline_id is None:
            yield rx.toast.error("No baseline", description="Create a backup set first.")
            return
        if not self._scope:
            yield rx.toast.error(
                "The baseline is empty", description="Add policies to the backup set first."
            )
            return
        inputs = {"baseline_id": baseline_id, "policy_types": list(self._scope)}
        async for update in start_followed(self, GENERATE, inputs, []):
            yield update

    # -- selection and acknowledging ------------------------------------------------------
    def _mark(self) -> None:
        chosen = set(self.selected_ids)
        self.rows = [{**r, "selected": r["id"] in chosen} for r in self.rows]

    @rx.var
    def page_all_selected(self) -> bool:
        selectable = [r for r in self.rows if r.get("state") == "new"]
        return bool(selectable) and all(r.get("selected") for r in selectable)

    @rx.event
    def toggle_finding(self, finding_id: int, checked: bool):
        chosen = [i for i in self.selected_ids if i != int(finding_id)]
        self.selected_ids = [*chosen, int(finding_id)] if checked else chosen
        self._mark()

    @rx.event
    def toggle_page(self, checked: bool):
        page_ids = {r["id"] for r in self.rows if r.get("state") == "new"}
        kept = [i for i in self.selected_ids if i not in page_ids]
        self.selected_ids = kept + sorted(page_ids) if checked else kept
        self._mark()

    @rx.event
    def clear_selection(self):
        self.selected_ids = []
        self._mark()

    @rx.event
    async def open_ack(self, finding_id: int):
        return await self._open_ack([finding_id])

    @rx.event
    async def open_ack_selected(self):
        if not self.selected_ids:
            return rx.toast.error("No findings selected", description="Tick the findings first.")
        return await self._open_ack(self.selected_ids)

    @rx.event
    async def confirm_ack(self, form_data: dict[str, Any]):
        ctx, result = await self._submit_ack(form_data)
        if ctx is None:
            return result
        done = set(result.acknowledged)
        self.selected_ids = [i for i in self.selected_ids if i not in done]
        await self._refresh(ctx, route_set_id(self.baseline_choice))
        return _ack_toast(result)


class DriftFindingState(AckDialogMixin, TenantState):
    """`/t/<slug>/drift/findings/<finding_id>`: the change side by side, links, Acknowledge."""

    finding: dict[str, Any] = {}
    only_changed: bool = True

    @rx.var
    def visible_rows(self) -> list[dict[str, Any]]:
        rows = self.finding.get("rows") or []
        return [r for r in rows if r["changed"]] if self.only_changed else rows

    @rx.var
    def drift_href(self) -> str:
        baseline = self.finding.get("baseline_id")
        base = tenant_href(self.current_slug, "drift")
        return f"{base}?baseline={baseline}" if baseline else base

    @rx.event
    def set_only_changed(self, value: bool):
        self.only_changed = bool(value)

    @rx.event
    async def load(self):
        self.ack_ids = []
        ctx = await self._guard()
        if not isinstance(ctx, TenantContext):
            self.finding = {}
            return ctx
        finding_id = route_set_id(self.finding_id)
        detail = (
            await asyncio.to_thread(_finding, ctx.tenant_id, finding_id) if finding_id else None
        )
        if detail is None:
            self.access, self.finding = "not_found", {}
            return None
        self.finding = detail
        # Added and removed findings have no "changed" rows: show the whole state.
        self.only_changed = detail["kind"] == "modified"
        return None

    @rx.event
    async def open_ack(self):
        return await self._open_ack([self.finding["id"]])

    @rx.event
    async def confirm_ack(self, form_data: dict[str, Any]):
        ctx, result = await self._submit_ack(form_data)
        if ctx is None:
            return result
        detail = await asyncio.to_thread(_finding, ctx.tenant_id, int(self.finding["id"]))
        if detail is None:
            self.access, self.finding = "not_found", {}
            return None
        self.finding = detail
        return _ack_toast(result)
