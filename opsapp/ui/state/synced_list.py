"""SyncedListState: a tenant table fed by one sync (Inventory, Policies, Groups). Loading reads
the URL's list view, follows an active sync of the page's type, and fetches one page; "Sync now"
starts the page's sync. A page declares its run type and its read model; nothing else."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import reflex as rx

from opsapp.paging import Page
from opsapp.ui.state.lists import ALL, ListState
from opsapp.ui.state.tenant import TenantContext


class SyncedListState(ListState, mixin=True):
    run_type: ClassVar[str] = ""
    type_choices: list[dict[str, str]] = []

    def _fetch(self, tenant_id: int, type_value: str | None, args: dict) -> Page:
        """The page's read model (runs in a thread, so it must not touch state)."""
        raise NotImplementedError

    @rx.event
    async def load(self):
        ctx = await self._guard()
        if not isinstance(ctx, TenantContext):
            return ctx
        await self._watch_active(ctx, self.run_type)
        self._read_query()
        if self.type_filter not in {c["value"] for c in self.type_choices}:
            self.type_filter = ALL
        type_value = None if self.type_filter == ALL else self.type_filter
        args = self._list_args()
        self._show(await asyncio.to_thread(self._fetch, ctx.tenant_id, type_value, args))

    @rx.event
    async def sync_now(self):
        async for update in self._start(self.run_type):
            yield update

    @rx.event
    async def watch_tick(self, _tick: str = ""):
        """While the page follows its sync: reload the rows once the run completed."""
        finished = await self._watched_run_finished()
        if finished is True:
            return type(self).load
        return finished or None
