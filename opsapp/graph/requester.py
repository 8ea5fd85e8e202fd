"""One authorized, paced, retried Graph request, with every failure mapped to ``GraphError``."""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from typing import Any

import httpx

from opsapp.graph.auth import ClientCredentialsTokens
from opsapp.graph.errors import bad_response, from_response, resource_label
from opsapp.graph.pacing import Sleep, SlidingWindowLimiter
from opsapp.graph.retry import RetryPolicy, parse_retry_after
from opsapp.graph.sending import send_with_retries

logger = logging.getLogger("opsapp.graph")


class GraphRequester:
    """Sends requests below ``graph_base``: token, pacing, retries, one refresh on 401."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        tokens: ClientCredentialsTokens,
        limiter: SlidingWindowLimiter,
        policy: RetryPolicy,
        sleep: Sleep,
        rng: random.Random,
        graph_base: str,
    ) -> None:
        self.http = http
        self.tokens = tokens
        self.limiter = limiter
        self.policy = policy
        self.sleep = sleep
        self.rng = rng
        self.base = httpx.URL(graph_base.rstrip("/"))

    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        api_version: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
        cost: int = 1,
    ) -> httpx.Response:
        """A successful response, or ``GraphError`` (``cost`` = pacing units, e.g. batch size)."""
        url = self.url(path_or_url, api_version)
        label = resource_label(str(url))

        async def build() -> httpx.Request:
            token = await self.tokens.get()
            await self.limiter.acquire(cost)
            auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            return self.http.build_request(
                method, url, params=params or None, json=json, headers=auth
            )

        for refreshed in (False, True):
            response, attempts = await send_with_retries(
                http=self.http,
                build=build,
                policy=self.policy,
                sleep=self.sleep,
                rng=self.rng,
                label=label,
                idempotent=idempotent,
            )
            if response.status_code != 401 or refreshed:
                break
            # The token may have been revoked or expired early: refresh once, then give up.
            await response.aclose()
            logger.info("Graph answered 401 for %s; refreshing the token once", label)
            self.tokens.invalidate()
        if response.is_success:
            return response
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        await response.aclose()
        raise from_response(
            status=response.status_code, path=label, retry_after=retry_after, attempts=attempts
        )

    def url(self, path_or_url: str, api_version: str) -> httpx.URL:
        """``{graph_base}/{api_version}/{path}``, or a nextLink checked to stay on Graph."""
        if "://" not in path_or_url:
            return httpx.URL(f"{self.base}/{api_version}/{path_or_url.lstrip('/')}")
        url = httpx.URL(path_or_url)
        # Never send the bearer token to a host a nextLink names but we were not given.
        if (url.scheme, url.host, url.port) != (self.base.scheme, self.base.host, self.base.port):
            raise bad_response(path=url.path, detail="'@odata.nextLink' points outside Graph")
        return url
