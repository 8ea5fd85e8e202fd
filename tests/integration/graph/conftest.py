"""The demo Graph on a real loopback port (uvicorn in a thread) and live clients pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from opsapp.graph.demo import (
    CONTOSO,
    BackgroundDemoServer,
    DemoGraph,
    DemoTenant,
    create_demo_app,
    make_demo_graph_client,
)
from opsapp.graph.http_client import HttpGraphClient
from opsapp.graph.pacing import SlidingWindowLimiter

# Small pages: every listing crosses several nextLinks. The cap too: the client asks Intune
# for 999 a page ($top), and the server answers at most 25, as Graph may answer fewer than asked.
PAGE_SIZE = 25


@pytest.fixture(scope="session")
def demo_server() -> Iterator[BackgroundDemoServer]:
    """One uvicorn server for the whole session (starting one costs ~100 ms)."""
    app = create_demo_app(demo=DemoGraph(page_size=PAGE_SIZE, max_page_size=PAGE_SIZE))
    with BackgroundDemoServer(app=app) as server:
        yield server


@pytest.fixture
def demo(demo_server: BackgroundDemoServer) -> Iterator[DemoGraph]:
    """The server's world, reset to the seed before and after each test."""
    demo_server.demo.reset()
    yield demo_server.demo
    demo_server.demo.reset()


@pytest.fixture
def sleeps() -> list[float]:
    """Every retry wait the client asked for (the injected sleep records instead of waiting)."""
    return []


@pytest.fixture
async def make_client(
    demo: DemoGraph, demo_server: BackgroundDemoServer, sleeps: list[float]
) -> AsyncIterator[Callable[..., HttpGraphClient]]:
    """Build live clients against the loopback server; all are closed after the test."""
    clients: list[HttpGraphClient] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(0)

    def make(tenant: DemoTenant = CONTOSO, **opts: object) -> HttpGraphClient:
        opts.setdefault("sleep", fake_sleep)
        opts.setdefault("timeout_s", 5.0)
        # A private generous limiter: pacing has its own unit tests and must not slow these.
        opts.setdefault("limiter", SlidingWindowLimiter(max_requests=100_000, window_s=1.0))
        client = make_demo_graph_client(tenant, base_url=demo_server.url, **opts)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
