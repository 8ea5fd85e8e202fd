"""The demo Graph as a Starlette app: login host and Graph host in one server.

``POST /{tenant}/oauth2/v2.0/token`` plays the login host; ``/v1.0/...`` and ``/beta/...`` play
Graph (so ``login_base`` and ``graph_base`` can both point here); ``/_demo/...`` is the admin API.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from opsapp.graph.demo import admin
from opsapp.graph.demo.answers import Answer, error, leak_text
from opsapp.graph.demo.faults import matches
from opsapp.graph.demo.routes import Call, resolve
from opsapp.graph.demo.state import DemoGraph, TenantState

VERSIONS = ("v1.0", "beta")
MAX_BATCH = 20


def create_demo_app(*, demo: DemoGraph | None = None, **demo_opts: Any) -> Starlette:
    """A demo Graph app over ``demo`` (or a new ``DemoGraph(**demo_opts)``).

    The ``DemoGraph`` stays reachable as ``app.state.demo`` for the Python control API.
    """
    routes = [
        *admin.routes(),
        Route("/{tenant}/oauth2/v2.0/token", token_endpoint, methods=["POST"]),
        Route(
            "/{version}/{path:path}",
            graph_endpoint,
            methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
        ),
    ]
    app = Starlette(routes=routes)
    app.state.demo = demo or DemoGraph(**demo_opts)
    return app


async def token_endpoint(request: Request) -> Response:
    """Client-credentials grant, checked against the demo tenant's credentials."""
    demo: DemoGraph = request.app.state.demo
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    if form.get("grant_type") != "client_credentials":
        return _aad_error(400, "unsupported_grant_type", "AADSTS70003: grant type not supported.")
    if not form.get("scope", "").endswith("/.default"):
        return _aad_error(400, "invalid_scope", "AADSTS1002012: scope must end with /.default.")
    tenant_key = request.path_params["tenant"]
    answer = demo.issue_token(
        tenant_key, client_id=form.get("client_id", ""), client_secret=form.get("client_secret", "")
    )
    if answer is not None:
        return JSONResponse(answer)
    try:
        state = demo.tenant(tenant_key)
    except KeyError:
        return _aad_error(400, "invalid_request", "AADSTS90002: Tenant not found.")
    description = "AADSTS7000215: Invalid client secret provided."
    if state.faults.faults.leak_secrets:
        description += (
            f" Submitted: {form.get('client_secret', '')}. {leak_text(state.tenant, token=None)}"
        )
    return _aad_error(401, "invalid_client", description)


def _aad_error(status: int, code: str, description: str) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status)


async def graph_endpoint(request: Request) -> Response:
    """Every Graph call: auth, faults, then the router (or ``$batch``)."""
    demo: DemoGraph = request.app.state.demo
    version, path = request.path_params["version"], request.path_params["path"].strip("/")
    if version not in VERSIONS:
        return Response(status_code=404)
    token = _bearer(request)
    state = demo.authenticate(token) if token else None
    if state is None:
        return error(401, "Access token is empty, expired or invalid.").to_response()
    state.record(request.method, path, dict(request.query_params))
    faults = state.faults.faults
    if faults.slow_ms and (not faults.slow_paths or matches(faults.slow_paths, path)):
        await asyncio.sleep(faults.slow_ms / 1000)
    call = Call(
        demo=demo, state=state, method=request.method, version=version, path=path,
        query=dict(request.query_params), headers={k.lower(): v for k, v in request.headers.items()},
        body=None, base_url=str(request.base_url), token=token,
    )  # fmt: skip
    injected = state.faults.request_fault()
    if injected is not None:
        status, retry_after = injected
        return call.fail(status, "Injected demo fault.", retry_after=retry_after).to_response()
    raw = await request.body()
    try:
        call = _with_body(call, json.loads(raw) if raw else None)
    except ValueError:
        return call.fail(400, "Body is not valid JSON.").to_response()
    requests = call.body.get("requests") if isinstance(call.body, dict) else None
    is_batch = path == "$batch" and request.method == "POST"
    units = len(requests) if is_batch and isinstance(requests, list) and requests else 1
    budget_wait = state.spend(units)
    if budget_wait is not None:  # over the tenant's budget: Graph answers 429, whole seconds
        return call.fail(
            429, "Too many requests.", retry_after=math.ceil(budget_wait)
        ).to_response()
    if is_batch:
        answer = _batch(call, state)
    else:
        with state.lock:
            answer = resolve(call)
    return _mangle(answer, faults=faults, path=path).to_response()


def _batch(call: Call, state: TenantState) -> Answer:
    requests = call.body.get("requests") if isinstance(call.body, dict) else None
    if not isinstance(requests, list) or not 0 < len(requests) <= MAX_BATCH:
        return call.fail(400, f"A $batch takes 1 to {MAX_BATCH} requests.")
    responses = []
    for entry in requests:
        request_id = str(entry.get("id", ""))
        if state.faults.batch_item_throttled():
            responses.append(
                call.fail(429, "Too many requests.", retry_after=1).to_batch(request_id)
            )
            continue
        path, _, query = str(entry.get("url", "")).lstrip("/").partition("?")
        headers = {str(k).lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
        sub = Call(
            demo=call.demo, state=state, method=str(entry.get("method", "GET")).upper(),
            version=call.version, path=path.strip("/"), query=dict(parse_qsl(query)),
            headers=headers, body=entry.get("body"), base_url=call.base_url, token=call.token,
        )  # fmt: skip
        with state.lock:
            answer = resolve(sub)
        # Graph answers a sub-request inside the batch envelope: a wrong-shape fault on its path
        # shows there (a truncated body cannot: the envelope would be broken for all).
        if matches(state.faults.faults.wrong_shape, sub.path):
            answer = _mangle(answer, faults=_wrong_shape_only(state.faults.faults), path=sub.path)
        responses.append(answer.to_batch(request_id))
    return Answer(200, {"responses": responses})


def _wrong_shape_only(faults: Any) -> Any:
    return dataclasses.replace(faults, malformed=())


def _mangle(answer: Answer, *, faults: Any, path: str) -> Answer:
    """Apply the malformed / wrong-shape faults to a successful JSON answer."""
    if not 200 <= answer.status < 300 or answer.text or answer.body is None:
        return answer
    if matches(faults.malformed, path):
        text = json.dumps(answer.body)
        truncated = text[: max(8, len(text) // 2)]
        return Answer(answer.status, truncated, text=True, media_type="application/json")
    if matches(faults.wrong_shape, path):
        return Answer(answer.status, {"value": "not-a-list", "@odata.nextLink": 42})
    return answer


def _with_body(call: Call, body: Any) -> Call:
    return dataclasses.replace(call, body=body)


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
