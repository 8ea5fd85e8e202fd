"""Error mapping: stable codes, safe messages, nothing secret-shaped ever in a message."""

from __future__ import annotations

import pickle

import httpx
import pytest

from opsapp.graph.errors import (
    ERROR_CODES,
    MAX_MESSAGE_CHARS,
    GraphError,
    bad_response,
    from_response,
    from_transport_error,
    resource_label,
)

PATH = "deviceManagement/configurationPolicies"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "graph.request_invalid"),
        (401, "graph.unauthorized"),
        (403, "graph.forbidden"),
        (404, "graph.not_found"),
        (409, "graph.request_invalid"),
        (429, "graph.throttled"),
        (500, "graph.unavailable"),
        (502, "graph.unavailable"),
        (503, "graph.unavailable"),
        (504, "graph.unavailable"),
    ],
)
def test_status_maps_to_stable_code(status, code):
    error = from_response(status=status, path=PATH)
    assert error.code == code and error.status == status
    assert error.code in ERROR_CODES


def test_message_names_status_and_resource_only():
    error = from_response(status=403, path=f"https://graph.microsoft.com/beta/{PATH}?$top=5")
    assert error.message == f"Graph returned 403 Forbidden for {PATH}"
    assert str(error) == f"graph.forbidden: Graph returned 403 Forbidden for {PATH}"


def test_throttled_keeps_retry_after_and_attempts():
    error = from_response(status=429, path=PATH, retry_after=7.0, attempts=5)
    assert error.retry_after == 7.0
    assert error.message.endswith("(gave up after 5 attempts)")


def test_transport_errors_map_to_timeout_and_unavailable():
    timeout = from_transport_error(httpx.ReadTimeout("read timed out"), path=PATH)
    refused = from_transport_error(httpx.ConnectError("[Errno 111] refused secret"), path=PATH)
    assert timeout.code == "graph.timeout"
    assert refused.code == "graph.unavailable"
    assert "secret" not in refused.message and "ConnectError" in refused.message


def test_bad_response_code():
    assert bad_response(path=PATH, detail="body is not valid JSON").code == "graph.bad_response"


@pytest.mark.parametrize(
    "dirty",
    [
        "groups/Bearer abc.def.ghi",
        "groups/eyJhbGciOiJSUzI1NiJ9.eyJ0aWQiOiJ4In0.c2lnbmF0dXJl",
        "groups?client_secret=abc",
        "x/client_secret=Zz8Q~abcdefghijklmnopqrstuvwxyz012345",
        "x/aVeryLongOpaqueTokenLikeString~with.dots_and-dashes1234567890",
    ],
)
def test_secret_shaped_text_never_survives_in_messages(dirty):
    message = from_response(status=404, path=dirty).message
    for fragment in ("abc.def", "eyJ", "client_secret", "Zz8Q~", "aVeryLongOpaque"):
        assert fragment not in message


def test_guid_ids_stay_readable():
    composite = "5b0f6c1e-8a43-4d2e-9c6b-2f7a1d9e4c01_9d3e7a52-1f0b-4c8d-a6e4-7b2c9f1d0e02"
    assert resource_label(f"{PATH}/{composite}") == f"{PATH}/{composite}"


def test_message_is_capped():
    error = GraphError("graph.bad_response", "x " * 1000)
    assert len(error.message) <= MAX_MESSAGE_CHARS


def test_constructor_redacts_too():
    error = GraphError("graph.forbidden", "echo: Authorization: Bearer eyJabc.eyJdef.sig")
    assert "eyJ" not in str(error) and "Bearer" not in repr(error)


def test_survives_pickling_and_becomes_a_failure_entry():
    error = from_response(status=429, path=PATH, retry_after=3.0)
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.code, clone.message, clone.status, clone.retry_after) == (
        error.code, error.message, error.status, error.retry_after,
    )  # fmt: skip
    assert clone.as_failure() == {"code": "graph.throttled", "message": error.message}
