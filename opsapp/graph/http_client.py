"""The live ``GraphClient`` on httpx: token, pacing, retries, paging, ``$batch``, error mapping.

Demo mode uses this very class, pointed at the demo Graph server (loopback URL or in-process
``httpx.ASGITransport``), so both modes share one code path.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import httpx

from opsapp.graph import batch
from opsapp.graph.auth import ClientCredentialsTokens
from opsapp.graph.client import Json, Params
from opsapp.graph.conveniences import GraphConveniences
from opsapp.graph.errors import GraphError, bad_response
from opsapp.graph.pacing import Sleep, SlidingWindowLimiter, limiter_for_tenant
from opsapp.graph.payloads import json_object, page_items
from opsapp.graph.requester import GraphRequester
from opsapp.graph.retry import RetryPolicy


class HttpGraphClient(GraphConveniences):
    """``GraphClient`` over HTTP. Build it with ``make_graph_client``."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        graph_base: str,
        login_base: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 4,
        max_sleep: float = 60.0,
        backoff_base: float = 1.0,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        limiter: SlidingWindowLimiter | None = None,
        max_requests_per_window: int = 1000,
        pacing_window_s: float = 20.0,
        refresh_margin_s: float = 120.0,
    ) -> None:
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout_s)
        policy = RetryPolicy(
            max_retries=max_retries, max_sleep=max_sleep, backoff_base=backoff_base
        )
        rng = rng or random.Random()
        self._tokens = ClientCredentialsTokens(
            http=self._http,
            tenant_id=tenant_id,
            client_id=client_id,
            client_secret=client_secret,
            login_base=login_base,
            policy=policy,
            sleep=sleep,
            rng=rng,
            clock=clock,
            refresh_margin_s=refresh_margin_s,
        )
        self._requester = GraphRequester(
            http=self._http,
            tokens=self._tokens,
            limiter=limiter
            or limiter_for_tenant(
                tenant_id, max_requests=max_requests_per_window, window_s=pacing_window_s
            ),
            policy=policy,
            sleep=sleep,
            rng=rng,
            graph_base=graph_base,
        )

    def __repr__(self) -> str:
        return f"HttpGraphClient(graph_base={str(self._requester.base)!r})"

    @property
    def limiter(self) -> SlidingWindowLimiter:
        """The pacing limiter (shared by all clients of the tenant unless one was injected)."""
        return self._requester.limiter

    @property
    def token_requests(self) -> int:
        """How many token requests this client made (tokens are cached)."""
        return self._tokens.fetch_count

    async def __aenter__(self) -> HttpGraphClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # -- primitives ------------------------------------------------------------------------
    async def iter_collection(
        self,
        path: str,
        *,
        select: Sequence[str] | None = None,
        params: Params | None = None,
        api_version: str = "beta",
        page_size: int | None = None,
    ) -> AsyncIterator[Json]:
        """Stream a collection across ``@odata.nextLink`` pages, holding one page at a time."""
        query = _query(params, select)
        if page_size:
            query["$top"] = page_size
        url: str | None = path
        while url is not None:
            response = await self._request("GET", url, params=query, api_version=api_version)
            items, next_link = page_items(json_object(response, path=path), path=path)
            for item in items:
                yield item
            if next_link is not None and next_link == url:
                raise bad_response(path=path, detail="'@odata.nextLink' repeats itself")
            url, query = next_link, {}  # the next link already carries the query

    async def get(
        self,
        path: str,
        *,
        select: Sequence[str] | None = None,
        params: Params | None = None,
        api_version: str = "beta",
    ) -> Json:
        """GET one resource as a JSON object."""
        query = _query(params, select)
        response = await self._request("GET", path, params=query, api_version=api_version)
        return json_object(response, path=path)

    async def post(self, path: str, *, json: Json, api_version: str = "beta") -> Json:
        """POST a JSON body.

        Not idempotent: a create may have happened behind a 500/502/504 or a lost answer, so
        only 429 and 503-with-Retry-After (Graph did not process it) are retried.
        """
        response = await self._request(
            "POST", path, json=json, api_version=api_version, idempotent=False
        )
        return json_object(response, path=path)

    async def patch(self, path: str, *, json: Json, api_version: str = "beta") -> Json:
        """PATCH a JSON body (idempotent: the same merge twice ends in the same state)."""
        response = await self._request(
            "PATCH", path, json=json, api_version=api_version, idempotent=True
        )
        return json_object(response, path=path)

    async def put(self, path: str, *, json: Json, api_version: str = "beta") -> Json:
        """PUT a JSON body (a full replacement, idempotent)."""
        response = await self._request(
            "PUT", path, json=json, api_version=api_version, idempotent=True
        )
        return json_object(response, path=path)

    async def batch_get(
        self,
        paths: Sequence[str],
        *,
        api_version: str = "beta",
        headers: Mapping[str, str] | None = None,
    ) -> list[Json | GraphError]:
        """GET many paths through ``$batch``, 20 per call; per-item throttling is retried."""
        return await batch.batch_get(
            self._requester, paths, api_version=api_version, headers=headers
        )

    async def _request(self, method: str, path_or_url: str, **kw: Any) -> httpx.Response:
        return await self._requester.request(method, path_or_url, **kw)


def make_graph_client(
    *,
    tenant_id: str,
    client_id: str,
    client_secret: str,
    graph_base: str,
    login_base: str,
    transport: httpx.AsyncBaseTransport | None = None,
    **opts: Any,
) -> HttpGraphClient:
    """Build the live Graph client (also used for the demo Graph).

    ``opts``: ``timeout_s``, ``max_retries`` (4), ``max_sleep`` (60 s), ``backoff_base``,
    ``sleep``, ``clock``, ``rng``, ``limiter`` or ``max_requests_per_window`` (1000) and
    ``pacing_window_s`` (20 s), ``refresh_margin_s``.
    """
    return HttpGraphClient(
        tenant_id=tenant_id,
        client_id=client_id,
        client_secret=client_secret,
        graph_base=graph_base,
        login_base=login_base,
        transport=transport,
        **opts,
    )


def _query(params: Params | None, select: Sequence[str] | None) -> dict[str, Any]:
    query: dict[str, Any] = dict(params or {})
    if select:
        query["$select"] = ",".join(select)
    return query
