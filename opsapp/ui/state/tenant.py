"""TenantState: the tenant of the current page and the caller's role in it, plus the two things
every tenant page handler does — authorize on the server, and start an operation.

Every handler starts with `ctx = await self._guard()`: the session token is resolved and the
membership read from the database for *this* event, so a crafted websocket event from a
non-member or a readonly user gets nothing (404 / 403), whatever the page showed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import reflex as rx

from opsapp.auth import AuthenticatedUser
from opsapp.db import session_scope
from opsapp.models import Role
from opsapp.operations import watch
from opsapp.operations.access import Capability, Forbidden, NotFound, can
from opsapp.operations.catalog import UnknownOperationType, get_type
from opsapp.operations.identity import InvalidInputs
from opsapp.operations.service import DispatchFailed, OperationUnavailable, start_operation
from opsapp.tenancy import tenant_for_member
from opsapp.ui import toasts
from opsapp.ui.state.session import SessionState
from opsapp.worker.embedded import WorkerNotRunning, get_dispatcher

# A second click on the same start within this window (a double click, a twitchy retry) answers
# with the run the first click got instead of asking the service again.
REPEAT_START_WINDOW_S = 3.0


# What start_operation raises when it does not start (or could not queue) a run.
START_REFUSALS = (
    DispatchFailed,
    Forbidden,
    NotFound,
    InvalidInputs,
    UnknownOperationType,
    OperationUnavailable,
    WorkerNotRunning,
)


def start_refused(label: str, exc: Exception) -> rx.event.EventSpec:
    """The toast for a start that raised one of START_REFUSALS."""
    if isinstance(exc, DispatchFailed):
        return toasts.dispatch_failed(label, message=str(exc), view_path=exc.view_path)
    if isinstance(exc, Forbidden):
        return toasts.refused("Not allowed", str(exc))
    if isinstance(exc, NotFound):  # the tenant, or what the inputs name (a deleted backup set)
        return toasts.refused("Not found", exc.specific or "That tenant does not exist.")
    if isinstance(exc, WorkerNotRunning):
        return toasts.refused(
            f"{label} was not started", "No worker is running in this deployment."
        )
    return toasts.refused(f"{label} was not started", str(exc))


@dataclass(frozen=True)
class TenantContext:
    user: AuthenticatedUser
    tenant_id: int
    slug: str
    name: str
    role: Role

    def can(self, capability: Capability) -> bool:
        return can(self.role, capability)


def _membership(user_id: int, slug: str) -> tuple[int, str, str, Role]:
    with session_scope() as session:
        tenant, role = tenant_for_member(session, user_id=user_id, slug=slug)
        return tenant.id, tenant.slug, tenant.name, role


class TenantState(SessionState):
    # loading → ok | not_found (non-member, unknown tenant or object) | forbidden (role)
    access: str = "loading"
    tenant_name: str = ""
    current_slug: str = ""
    role: str = ""
    role_label: str = ""
    # The run type being started by this browser tab (buttons show a busy state).
    starting: str = ""
    # The run this page follows (started here, or found active on load): while it is active the
    # page polls it and reloads its rows once it completes.
    watch_run_id: int = 0
    watch_type: str = ""
    _recent_starts: dict[str, tuple[float, str, str]] = {}

    @rx.var
    def can_start(self) -> bool:
        return bool(self.role) and can(Role(self.role), Capability.start_operations)

    async def _guard(
        self, capability: Capability = Capability.view_runs, *, page: bool = True
    ) -> TenantContext | rx.event.EventSpec | None:
        """The caller's context in the route's tenant, or what to answer instead: a redirect to
        sign-in, or None after marking the page not found / forbidden (`page=False` for
        actions: a toast instead, the page stays)."""
        user = await self._current_user()
        if user is None:
            return self._to_sign_in()
        await self._remember_user(user)
        try:
            tenant_id, slug, name, role = await asyncio.to_thread(
                _membership, user.id, self.tenant_slug
            )
        except NotFound:
            self.access, self.tenant_name, self.role, self.role_label = "not_found", "", "", ""
            self.current_slug = ""
            return None if page else toasts.refused("Not found", "That tenant does not exist.")
        self.current_slug, self.tenant_name = slug, name
        self.role, self.role_label = role.value, _role_label(role)
        ctx = TenantContext(user, tenant_id, slug, name, role)
        if not ctx.can(capability):
            if page:
                self.access = "forbidden"
                return None
            return toasts.refused("Not allowed", Forbidden().args[0])
        if page:
            self.access = "ok"
        return ctx

    async def _start(self, run_type: str, inputs: dict[str, Any] | None = None):
        """Start an operation for the route's tenant and answer with a toast at once (an async
        generator: the first yield shows the busy state)."""
        label = get_type(run_type).label
        ctx = await self._guard(page=False)
        if not isinstance(ctx, TenantContext):
            yield ctx
            return
        key = f"{ctx.tenant_id}:{run_type}:{sorted((inputs or {}).items())}"
        recent = self._recent_starts.get(key)
        # Wall-clock time: with Redis-backed state a tab's events may be handled by another
        # backend process, whose monotonic clock means nothing here.
        if recent and 0 <= time.time() - recent[0] < REPEAT_START_WINDOW_S:
            yield toasts.run_started(label, created=False, view_path=recent[2])
            return
        self.starting = run_type
        yield
        try:
            yield await self._start_now(ctx, run_type, inputs, label, key)
        finally:
            self.starting = ""

    async def _start_now(
        self, ctx: TenantContext, run_type: str, inputs: dict | None, label: str, key: str
    ) -> rx.event.EventSpec:
        try:
            result = await start_operation(
                run_type=run_type,
                tenant_id=ctx.tenant_id,
                user_id=ctx.user.id,
                inputs=inputs,
                dispatcher=get_dispatcher(),
            )
        except START_REFUSALS as exc:
            return start_refused(label, exc)
        self.watch_run_id, self.watch_type = result.run.id, run_type
        now = time.time()
        self._recent_starts = {  # only the entries still inside the window, plus this one
            **{k: v for k, v in self._recent_starts.items() if now - v[0] < REPEAT_START_WINDOW_S},
            key: (now, str(result.run.id), result.view_path),
        }
        return toasts.run_started(label, created=result.created, view_path=result.view_path)

    async def _watch_active(self, ctx: TenantContext, run_type: str) -> None:
        """On page load: follow the run of `run_type` that is already active, if any."""
        run_id = await asyncio.to_thread(_active_run_id, ctx.tenant_id, run_type)
        self.watch_run_id, self.watch_type = (run_id, run_type) if run_id else (0, "")

    async def _watched_run_finished(self) -> bool | rx.event.EventSpec:
        """Poll the followed run: True once it is completed (the watch is then cleared), or what
        to answer instead when the caller lost access. Pages call it from their own handler —
        a handler defined here would run on TenantState, not on the page's state."""
        if not self.watch_run_id:
            return False
        ctx = await self._guard(page=False)
        if not isinstance(ctx, TenantContext):
            self.watch_run_id, self.watch_type = 0, ""
            return ctx
        if await asyncio.to_thread(_run_active, ctx.tenant_id, self.watch_run_id):
            return False
        self.watch_run_id, self.watch_type = 0, ""
        return True


def _active_run_id(tenant_id: int, run_type: str) -> int | None:
    with session_scope() as session:
        return watch.active_run_id(session, tenant_id=tenant_id, run_type=run_type)


def _run_active(tenant_id: int, run_id: int) -> bool:
    with session_scope() as session:
        return watch.is_active(session, tenant_id=tenant_id, run_id=run_id)


def _role_label(role: Role) -> str:
    return {Role.readonly: "Read-only"}.get(role, role.value.capitalize())
