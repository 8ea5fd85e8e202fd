"""``$batch``: up to 20 GETs per round trip, throttled sub-requests retried, results in order."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from opsapp.graph.client import MAX_BATCH_REQUESTS, Json
from opsapp.graph.errors import GraphError, bad_response, from_response
from opsapp.graph.payloads import json_object
from opsapp.graph.requester import GraphRequester
from opsapp.graph.retry import parse_retry_after

logger = logging.getLogger("opsapp.graph")


async def batch_get(
    requester: GraphRequester,
    paths: Sequence[str],
    *,
    api_version: str,
    headers: Mapping[str, str] | None = None,
) -> list[Json | GraphError]:
    """GET ``paths`` through ``$batch``; each result is a JSON object or a ``GraphError``."""
    results: dict[int, Json | GraphError] = {}
    for start in range(0, len(paths), MAX_BATCH_REQUESTS):
        stop = min(start + MAX_BATCH_REQUESTS, len(paths))
        chunk = {i: paths[i] for i in range(start, stop)}
        results.update(await _chunk(requester, chunk, api_version=api_version, headers=headers))
    return [results[i] for i in range(len(paths))]


async def _chunk(
    requester: GraphRequester,
    pending: dict[int, str],
    *,
    api_version: str,
    headers: Mapping[str, str] | None,
) -> dict[int, Json | GraphError]:
    policy, done = requester.policy, {}
    for attempt in range(policy.max_retries + 1):
        body = {"requests": [batch_request(str(i), p, headers) for i, p in pending.items()]}
        response = await requester.request(
            "POST", "$batch", json=body, api_version=api_version, cost=len(pending)
        )
        answers = batch_answers(json_object(response, path="$batch"), path="$batch")
        retry: dict[int, str] = {}
        wait = 0.0
        for i, path in pending.items():
            answer = answers.get(str(i))
            if answer is None:
                done[i] = bad_response(path=path, detail="missing from the $batch answer")
                continue
            status, retry_after = answer["status"], answer_retry_after(answer)
            if 200 <= status < 300:
                try:
                    done[i] = answer_body(answer.get("body"), path=path)
                except GraphError as exc:
                    done[i] = exc
            elif policy.should_retry(status=status, attempt=attempt, idempotent=True):
                retry[i] = path
                delay = policy.delay(attempt=attempt, retry_after=retry_after, rng=requester.rng)
                wait = max(wait, delay)
            else:
                done[i] = from_response(
                    status=status, path=path, retry_after=retry_after, attempts=attempt + 1
                )
        if not retry:
            break
        logger.warning("Graph $batch: %d item(s) throttled; retry in %.2fs", len(retry), wait)
        await requester.sleep(wait)
        pending = retry
    return done


def batch_request(request_id: str, path: str, headers: Mapping[str, str] | None) -> Json:
    """One GET entry of a ``$batch`` body (URL relative to the version root)."""
    entry: Json = {"id": request_id, "method": "GET", "url": "/" + path.lstrip("/")}
    if headers:
        entry["headers"] = dict(headers)
    return entry


def batch_answers(body: Json, *, path: str) -> dict[str, Json]:
    """The ``responses`` of a ``$batch`` answer keyed by request id."""
    responses = body.get("responses")
    if not isinstance(responses, list):
        raise bad_response(path=path, detail="'responses' is not a list")
    answers: dict[str, Json] = {}
    for answer in responses:
        if isinstance(answer, dict) and isinstance(answer.get("status"), int):
            answers[str(answer.get("id"))] = answer
    return answers


def answer_retry_after(answer: Json) -> float | None:
    """``Retry-After`` of one batch answer (header names are case-insensitive)."""
    headers = answer.get("headers")
    if not isinstance(headers, dict):
        return None
    for name, value in headers.items():
        if str(name).lower() == "retry-after":
            return parse_retry_after(str(value))
    return None


def answer_body(body: Any, *, path: str) -> Json:
    """Normalize a successful batch answer body to a JSON object.

    Graph base64-encodes non-JSON bodies inside ``$batch`` (a ``$count`` is text/plain), so a
    string is tried as a number, then as base64 of JSON/number; scalars become ``{"value": …}``
    like an OData primitive answer.
    """
    if body is None:
        return {}
    if isinstance(body, dict):
        return body
    if isinstance(body, bool | int | float):
        return {"value": body}
    if isinstance(body, str):
        decoded = _decode_scalar(body)
        return decoded if isinstance(decoded, dict) else {"value": decoded}
    raise bad_response(path=path, detail="batch answer body is not an object")


def _decode_scalar(text: str) -> Any:
    for candidate in (text, _b64(text)):
        if candidate is None:
            continue
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    return text


def _b64(text: str) -> str | None:
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
