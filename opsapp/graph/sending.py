"""One HTTP exchange with bounded retries; the building block under token and Graph calls."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable

import httpx

from opsapp.graph.errors import from_transport_error
from opsapp.graph.pacing import Sleep
from opsapp.graph.retry import RetryPolicy, parse_retry_after

# Logs carry method, resource path, status and timing only: never headers, tokens or bodies.
logger = logging.getLogger("opsapp.graph")

BuildRequest = Callable[[], Awaitable[httpx.Request]]

# The request never left the machine: resending cannot duplicate a write.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The request may have been sent: only safe to resend reads.
_MAYBE_SENT = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.WriteError,
               httpx.RemoteProtocolError)  # fmt: skip


def _retryable(exc: Exception, *, idempotent: bool) -> bool:
    return isinstance(exc, _NOT_SENT) or (idempotent and isinstance(exc, _MAYBE_SENT))


async def send_with_retries(
    *,
    http: httpx.AsyncClient,
    build: BuildRequest,
    policy: RetryPolicy,
    sleep: Sleep,
    rng: random.Random,
    label: str,
    idempotent: bool,
) -> tuple[httpx.Response, int]:
    """Send the request ``build`` makes, retrying throttling and transient failures.

    ``idempotent`` (GET, PATCH, PUT, token requests) also allows resending after 500/502/504,
    a 503 without Retry-After and transport errors that may have reached the server; a POST
    (create) is only resent when Graph said it did not process it (429, 503 + Retry-After) or
    the request never left the machine.

    ``build`` runs before every attempt so pacing and the current token apply per attempt.
    Returns the final response (success, a non-retryable error, or the last retryable one once
    retries are exhausted) and the number of attempts made. Transport failures that survive the
    retries raise ``GraphError`` (``graph.timeout`` / ``graph.unavailable``).
    """
    attempt = 0
    while True:
        request = await build()
        try:
            response = await http.send(request)
        except httpx.RequestError as exc:
            if attempt >= policy.max_retries or not _retryable(exc, idempotent=idempotent):
                logger.warning("Graph %s %s failed: %s", request.method, label, type(exc).__name__)
                raise from_transport_error(exc, path=label, attempts=attempt + 1) from exc
            wait = policy.delay(attempt=attempt, retry_after=None, rng=rng)
            reason = type(exc).__name__
        else:
            status = response.status_code
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if not policy.should_retry(
                status=status, attempt=attempt, idempotent=idempotent, retry_after=retry_after
            ):
                logger.debug("Graph %s %s -> %d", request.method, label, status)
                return response, attempt + 1
            wait = policy.delay(attempt=attempt, retry_after=retry_after, rng=rng)
            reason = str(status)
            await response.aclose()
        logger.warning(
            "Graph %s %s answered %s; retry %d/%d in %.2fs",
            request.method,
            label,
            reason,
            attempt + 1,
            policy.max_retries,
            wait,
        )
        await sleep(wait)
        attempt += 1
