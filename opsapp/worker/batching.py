"""Coalescing concurrent database writes of one worker into one statement.

A worker draining a backlog claims and completes many runs at nearly the same moment, and each
claim or completion is an autocommit statement: a round trip, a thread hop and a WAL flush
each. `Coalescer` sends one batch at a time and everything submitted while it is in flight goes
together in the next one. Idle, a call goes alone at once (no timer, no added latency); busy,
one statement carries many runs. The same pattern as the runner's XACK batching.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    """`await submit(item)` returns `run_batch(items)[i]` for its item; `run_batch` returns
    one result per item, in order: a coroutine function (awaited on the loop) or a blocking
    function (it runs in a thread).

    A batch that raises is tried again item by item, so one bad item (or a hiccup) never fails
    the others: an exception reaches only the callers whose own item raised it (each decides
    whether to try again; a retried item simply joins a later batch)."""

    def __init__(
        self,
        run_batch: Callable[[list[Item]], Sequence[Result]]
        | Callable[[list[Item]], Awaitable[Sequence[Result]]],
    ) -> None:
        self._run_batch = run_batch
        self._awaited = inspect.iscoroutinefunction(run_batch)
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._waiting.append((item, future))
        sender = self._sender
        if sender is None or sender.done() or sender.get_loop() is not loop:
            self._sender = loop.create_task(self._send())
        return await future

    async def _send(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            batch = [(item, future) for item, future in batch if not future.cancelled()]
            if not batch:
                continue
            try:
                await self._settle(batch)
            except asyncio.CancelledError:  # the loop is going away: so are the callers
                for _, future in batch:
                    future.cancel()
                raise

    async def _settle(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            items = [item for item, _ in batch]
            if self._awaited:
                results = await self._run_batch(items)  # type: ignore[misc]
            else:
                results = await asyncio.to_thread(self._run_batch, items)
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
        except Exception as exc:
            if len(batch) > 1:  # find whose item it was: each alone
                for one in batch:
                    await self._settle([one])
                return
            if not batch[0][1].done():
                batch[0][1].set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
