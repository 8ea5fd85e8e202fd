"""The backup schedule pages' states: the list (Run now, Retry, enable/disable, delete) and the
create/edit form. Every handler authorizes on the server: viewing needs membership, Run now /
Retry need `start_operations`, editing needs `manage_schedules` (owner, manager)."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from opsapp.db import session_scope
from opsapp.features.backups import queries, schedules
from opsapp.features.backups.errors import BackupInputError
from opsapp.models import Role
from opsapp.operations.access import Capability, NotFound, can
from opsapp.ui import routes, toasts
from opsapp.ui.state.tenant import TenantContext, TenantState

SCHEDULE_TYPES = ("backup_schedule.run_now", "backup_schedule.retry")
LIST_LIMIT = 200  # a tenant has a handful of schedules; the page says so if there are more


def _list(tenant_id: int) -> tuple[list[dict], int]:
    with session_scope() as session:
        page = queries.list_schedules(session, tenant_id=tenant_id, page_size=LIST_LIMIT)
        return page.rows, page.total or 0


class ScheduleAccess(TenantState, mixin=True):
    @rx.var
    def can_manage(self) -> bool:
        return bool(self.role) and can(Role(self.role), Capability.manage_schedules)


class BackupScheduleListState(ScheduleAccess, TenantState):
    schedules: list[dict[str, Any]] = []
    schedule_total: int = 0
    loaded: bool = False
    delete_id: int = 0
    delete_name: str = ""

    @rx.event
    async def load(self):
        ctx = await self._guard()
        if not isinstance(ctx, TenantContext):
            return ctx
        await self._reload(ctx)

    async def _reload(self, ctx: TenantContext) -> None:
        self.schedules, self.schedule_total = await asyncio.to_thread(_list, ctx.tenant_id)
        self.loaded = True

    @rx.event
    async def run_now(self, schedule_id: int):
        async for update in self._start("backup_schedule.run_now", {"schedule_id": schedule_id}):
            yield update
        await self._reload_quietly()

    @rx.event
    async def retry(self, schedule_id: int, run_id: int):
        inputs = {"schedule_id": schedule_id, "retried_run_id": run_id}
        async for update in self._start("backup_schedule.retry", inputs):
            yield update
        await self._reload_quietly()

    async def _reload_quietly(self) -> None:
        ctx = await self._guard(page=False)
        if isinstance(ctx, TenantContext):
            await self._reload(ctx)

    @rx.event
    async def set_enabled(self, schedule_id: int, enabled: bool):
        ctx = await self._guard(Capability.manage_schedules, page=False)
        if not isinstance(ctx, TenantContext):
            return ctx
        try:
            await asyncio.to_thread(_set_enabled, ctx.tenant_id, schedule_id, enabled)
        except NotFound:
            return toasts.refused("Not found", "That schedule no longer exists.")
        await self._reload(ctx)
        return rx.toast.success("Schedule enabled" if enabled else "Schedule paused")

    @rx.event
    def ask_delete(self, schedule_id: int, name: str):
        self.delete_id, self.delete_name = schedule_id, name

    @rx.event
    def cancel_delete(self):
        self.delete_id, self.delete_name = 0, ""

    @rx.event
    async def confirm_delete(self):
        ctx = await self._guard(Capability.manage_schedules, page=False)
        schedule_id = self.delete_id
        self.delete_id, self.delete_name = 0, ""
        if not isinstance(ctx, TenantContext):
            return ctx
        try:
            name = await asyncio.to_thread(_delete, ctx.tenant_id, schedule_id)
        except NotFound:
            return toasts.refused("Not found", "That schedule no longer exists.")
        await self._reload(ctx)
        return rx.toast.success(f'Schedule "{name}" deleted', description="Its backup sets stay.")

    @rx.event
    async def watch_tick(self, _tick: str = ""):
        finished = await self._watched_run_finished()
        if finished is True:
            await self._reload_quietly()
            return None
        return finished or None


def _set_enabled(tenant_id: int, schedule_id: int, enabled: bool) -> None:
    with session_scope() as session:
        schedules.set_enabled(
            session, tenant_id=tenant_id, schedule_id=schedule_id, enabled=enabled
        )


def _delete(tenant_id: int, schedule_id: int) -> str:
    with session_scope() as session:
        return schedules.delete_schedule(session, tenant_id=tenant_id, schedule_id=schedule_id)


def _detail(tenant_id: int, schedule_id: int) -> dict | None:
    with session_scope() as session:
        return queries.get_schedule_detail(session, tenant_id=tenant_id, schedule_id=schedule_id)


def _save(tenant_id: int, user_id: int, schedule_id: int, data: schedules.ScheduleInput) -> int:
    with session_scope() as session:
        if schedule_id:
            saved = schedules.update_schedule(
                session, tenant_id=tenant_id, schedule_id=schedule_id, data=data
            )
        else:
            saved = schedules.create_schedule(
                session, tenant_id=tenant_id, data=data, user_id=user_id
            )
        return saved.id


class BackupScheduleFormState(ScheduleAccess, TenantState):
    """`/backup-schedules/new` (owner, manager) and `/backup-schedules/<id>` (everyone may look;
    owners and managers edit)."""

    editing_id: int = 0
    detail: dict[str, Any] = {}
    form_name: str = ""
    frequency: str = "daily"
    weekdays: list[str] = []
    time_of_day: str = "02:00"
    timezone: str = "UTC"
    policy_types: list[str] = []
    keep_last: str = "7"
    enabled: bool = True
    errors: dict[str, str] = {}
    saving: bool = False
    ready: bool = False

    def _route_schedule_id(self) -> int | None:
        raw = str(getattr(self, routes.SCHEDULE_ARG, "") or "")
        if not raw:
            return 0  # the "new" page
        try:
            return int(raw)
        except (TypeError, ValueError):
            return None

    @rx.event
    async def load(self):
        self.ready, self.errors, self.detail = False, {}, {}
        schedule_id = self._route_schedule_id()
        needed = Capability.view_runs if schedule_id else Capability.manage_schedules
        ctx = await self._guard(needed)
        if not isinstance(ctx, TenantContext):
            return ctx
        if schedule_id is None:
            self.access = "not_found"
            return None
        self.editing_id = schedule_id
        if not schedule_id:
            self._fill({})
            self.ready = True
            # Default the time zone to the browser's.
            return rx.call_script(
                "Intl.DateTimeFormat().resolvedOptions().timeZone",
                callback=BackupScheduleFormState.set_browser_timezone,
            )
        detail = await asyncio.to_thread(_detail, ctx.tenant_id, schedule_id)
        if detail is None:
            self.access = "not_found"
            return None
        self.detail = detail
        self._fill(detail)
        self.ready = True
        return None

    def _fill(self, d: dict) -> None:
        self.form_name = d.get("name", "")
        self.frequency = d.get("frequency", "daily")
        self.weekdays = list(d.get("weekdays", ["mon"]))
        self.time_of_day = d.get("time_of_day", "02:00")
        self.timezone = d.get("timezone", "UTC")
        self.policy_types = list(d.get("policy_types", []))
        self.keep_last = str(d.get("keep_last", 7))
        self.enabled = bool(d.get("enabled", True))

    @rx.var(cache=True)
    def zone_options(self) -> list[str]:
        """IANA names matching what is typed (a short list: the datalist stays light)."""
        typed = self.timezone.strip().lower()
        names = schedules.sorted_iana_zones()
        return [z for z in names if typed in z.lower()][:40] if typed else list(names[:40])

    @rx.event
    def set_browser_timezone(self, zone: str):
        if not self.editing_id and isinstance(zone, str) and zone in schedules.iana_zones():
            self.timezone = zone

    @rx.event
    def change_name(self, value: str):
        self._touch("name")
        self.form_name = value

    @rx.event
    def change_frequency(self, value: str):
        self._touch("frequency")
        self.frequency = value

    @rx.event
    def toggle_weekday(self, day: str, on: bool):
        self._touch("weekdays")
        self.weekdays = sorted(
            (set(self.weekdays) | {day}) if on else (set(self.weekdays) - {day}),
            key=_WEEKDAY_ORDER.index,
        )

    @rx.event
    def change_time(self, value: str):
        self._touch("time")
        self.time_of_day = value

    @rx.event
    def change_timezone(self, value: str):
        self._touch("timezone")
        self.timezone = value

    @rx.event
    def toggle_policy_type(self, key: str, on: bool):
        self._touch("policy_types")
        chosen = set(self.policy_types)
        self.policy_types = sorted(chosen | {key} if on else chosen - {key})

    @rx.event
    def change_keep_last(self, value: str):
        self._touch("keep_last")
        self.keep_last = value

    @rx.event
    def change_enabled(self, value: bool):
        self._touch("enabled")
        self.enabled = bool(value)

    def _touch(self, field: str) -> None:
        """A changed field's error goes away (the rest stay until the next save)."""
        if field in self.errors:
            self.errors = {k: v for k, v in self.errors.items() if k != field}

    @rx.event
    async def save(self):
        ctx = await self._guard(Capability.manage_schedules, page=False)
        if not isinstance(ctx, TenantContext):
            return ctx
        data = schedules.ScheduleInput(
            name=self.form_name,
            frequency=self.frequency,
            weekdays=list(self.weekdays),
            time_of_day=self.time_of_day,
            timezone=self.timezone,
            policy_types=list(self.policy_types),
            keep_last=self.keep_last,
            enabled=self.enabled,
        )
        self.errors = {}
        try:
            await asyncio.to_thread(_save, ctx.tenant_id, ctx.user.id, self.editing_id, data)
        except BackupInputError as exc:
            self.errors = {exc.field or "form": str(exc)}
            return None
        except NotFound:
            return toasts.refused("Not found", "That schedule no longer exists.")
        return [
            rx.redirect(f"/t/{ctx.slug}/backup-schedules"),
            rx.toast.success(f'Schedule "{data.name.strip()}" saved'),
        ]


_WEEKDAY_ORDER = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
