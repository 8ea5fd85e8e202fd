"""What the demo Graph answers: a transport-neutral ``Answer`` and Graph's error envelope."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.responses import JSONResponse, Response

from opsapp.graph.demo.catalog import iso
from opsapp.graph.demo.tenants import DemoTenant

_ERROR_CODES = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "Forbidden",
    404: "ResourceNotFound",
    405: "MethodNotAllowed",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


@dataclass
class Answer:
    """One answer, usable both as an HTTP response and as a ``$batch`` sub-response."""

    status: int
    body: Any = None  # JSON-able, or str when ``text`` (e.g. $count)
    headers: dict[str, str] = field(default_factory=dict)
    text: bool = False
    media_type: str = "text/plain"  # for ``text`` bodies

    def to_response(self) -> Response:
        """As a Starlette response."""
        if self.status == 204:
            return Response(status_code=204, headers=self.headers)
        if self.text:
            return Response(str(self.body), self.status, self.headers, media_type=self.media_type)
        return _json_response(self.body, self.status, self.headers)

    def to_batch(self, request_id: str) -> dict[str, Any]:
        """As a ``$batch`` response entry (non-JSON bodies base64-encoded, like Graph)."""
        entry: dict[str, Any] = {"id": request_id, "status": self.status}
        if self.text:
            entry["headers"] = {**self.headers, "Content-Type": "text/plain"}
            entry["body"] = base64.b64encode(str(self.body).encode()).decode()
        else:
            entry["headers"] = {**self.headers, "Content-Type": "application/json"}
            if self.body is not None:
                entry["body"] = self.body
        return entry


def _json_response(body: Any, status: int, headers: dict[str, str]) -> Response:
    """``JSONResponse``'s compact JSON, written by orjson: rendering listing pages and
    ``$batch`` envelopes was a large share of the demo server's CPU, which a sync against it
    measures too. What orjson cannot write (an integer past 64 bits) takes ``JSONResponse``."""
    try:
        content = orjson.dumps(body)
    except TypeError:  # orjson.JSONEncodeError
        return JSONResponse(body, status, headers)
    return Response(content, status, headers, media_type="application/json")


def fake_jwt(tenant: DemoTenant) -> str:
    """A JWT-shaped string for leak faults (not a real token of anything)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    header = part({"typ": "JWT", "alg": "RS256"})
    claims = part({"aud": "https://graph.microsoft.com", "tid": tenant.entra_tenant_id})
    return f"{header}.{claims}.{part({'sig': tenant.client_secret})}"


def leak_text(tenant: DemoTenant, *, token: str | None) -> str:
    """The secrets a careless server would echo: caller's bearer token, a JWT, the secret."""
    return (
        f"Authorization: Bearer {token or fake_jwt(tenant)}; id_token={fake_jwt(tenant)}; "
        f"client_secret={tenant.client_secret}"
    )


def error(
    status: int,
    message: str,
    *,
    tenant: DemoTenant | None = None,
    leak: bool = False,
    token: str | None = None,
    retry_after: float | None = None,
) -> Answer:
    """Graph's ``{"error": {code, message, innerError}}`` answer; optionally leaking secrets."""
    inner: dict[str, Any] = {
        "date": iso(datetime.now(UTC)),
        "request-id": str(uuid.uuid4()),
        "client-request-id": str(uuid.uuid4()),
    }
    if leak and tenant is not None:
        secret_text = leak_text(tenant, token=token)
        message = f"{message} ({secret_text})"
        inner["debugInfo"] = secret_text
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    body = {"error": {"code": _ERROR_CODES.get(status, "UnknownError"), "message": message,
                      "innerError": inner}}  # fmt: skip
    return Answer(status, body, headers)
