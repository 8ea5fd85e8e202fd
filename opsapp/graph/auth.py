"""Client-credentials tokens for Graph, cached until shortly before they expire."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable

import httpx

from opsapp.graph.errors import UNAUTHORIZED, GraphError, bad_response, from_response
from opsapp.graph.pacing import Sleep
from opsapp.graph.retry import RetryPolicy
from opsapp.graph.sending import send_with_retries

logger = logging.getLogger("opsapp.graph")

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_TOKEN_LABEL = "oauth2/v2.0/token"


class ClientCredentialsTokens:
    """Fetches and caches an app-only access token for one tenant.

    The client secret lives only in this object's memory; it is never logged, never part of
    ``repr`` and never echoed into an error.
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        login_base: str,
        policy: RetryPolicy,
        sleep: Sleep,
        rng: random.Random,
        clock: Callable[[], float] = time.monotonic,
        refresh_margin_s: float = 120.0,
    ) -> None:
        self._http = http
        self._url = f"{login_base.rstrip('/')}/{tenant_id}/oauth2/v2.0/token"
        self._client_id = client_id
        self._secret = client_secret
        self._policy = policy
        self._sleep = sleep
        self._rng = rng
        self._clock = clock
        self._margin = refresh_margin_s
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock: asyncio.Lock | None = None
        self.fetch_count = 0  # token requests made (observability, tests)

    def __repr__(self) -> str:
        return f"ClientCredentialsTokens(url={self._url!r}, client_id={self._client_id!r})"

    def invalidate(self) -> None:
        """Forget the cached token (Graph said 401): the next ``get`` fetches a new one."""
        self._token = None

    async def get(self) -> str:
        """A valid access token, fetched only when none is cached or it is about to expire."""
        if self._valid():
            return self._token  # type: ignore[return-value]
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one fetch even when many requests find the token stale
            if not self._valid():
                await self._fetch()
            return self._token  # type: ignore[return-value]

    def _valid(self) -> bool:
        return self._token is not None and self._clock() < self._refresh_at

    async def _build(self) -> httpx.Request:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._secret,
            "scope": GRAPH_SCOPE,
        }
        return self._http.build_request("POST", self._url, data=form)

    async def _fetch(self) -> None:
        self.fetch_count += 1
        response, attempts = await send_with_retries(
            http=self._http,
            build=self._build,
            policy=self._policy,
            sleep=self._sleep,
            rng=self._rng,
            label=_TOKEN_LABEL,
            idempotent=True,  # a token request has no side effect
        )
        status = response.status_code
        if status in (400, 401):
            # invalid_client / unauthorized_client: wrong id, secret or tenant.
            logger.warning("Graph token request rejected with %d", status)
            raise GraphError(
                UNAUTHORIZED,
                f"Token endpoint rejected the client credentials ({status})",
                status=status,
            )
        if not response.is_success:
            raise from_response(status=status, path=_TOKEN_LABEL, attempts=attempts)
        token, expires_in = _parse_token(response.content)
        # Refresh a bit early so a token never expires mid-request; short-lived tokens get
        # half their life at most as margin.
        margin = min(self._margin, expires_in / 2)
        self._token = token
        self._refresh_at = self._clock() + expires_in - margin
        logger.debug("Graph token acquired, valid for %ds", expires_in)


def _parse_token(content: bytes) -> tuple[str, float]:
    try:
        data = json.loads(content)
    except ValueError:
        raise bad_response(path=_TOKEN_LABEL, detail="token answer is not JSON") from None
    if not isinstance(data, dict):
        raise bad_response(path=_TOKEN_LABEL, detail="token answer is not an object")
    token = data.get("access_token")
    expires_in = data.get("expires_in", 3600)
    try:
        expires_in = float(expires_in)
    except (TypeError, ValueError):
        expires_in = -1.0
    if not isinstance(token, str) or not token or expires_in <= 0:
        raise bad_response(path=_TOKEN_LABEL, detail="token answer lacks access_token/expires_in")
    return token, expires_in
