"""Fakes for unit-level service tests (real brokers are exercised in tests/integration/worker)."""

from __future__ import annotations

import asyncio


class RecordingDispatcher:
    def __init__(self, supported: set[str] | None = None) -> None:
        self.dispatched: list[int] = []
        self.supported = supported

    def supports(self, run_type: str) -> bool:
        return self.supported is None or run_type in self.supported

    async def dispatch(self, run) -> None:
        self.dispatched.append(run.id)


class BrokenDispatcher:
    def __init__(self, exc: Exception | None = None, delay: float = 0.0) -> None:
        self.exc = exc or ConnectionError(
            "Error 111 connecting to redis://:hunter2-pass@127.0.0.1:1"
        )
        self.delay = delay

    def supports(self, run_type: str) -> bool:
        return True

    async def dispatch(self, run) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        raise self.exc
