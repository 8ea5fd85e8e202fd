"""The demo Graph renders JSON answers with orjson: the same JSON as Starlette's JSONResponse
(what a client parses), and what orjson cannot write (integers past 64 bits) still served."""

import json

import pytest
from starlette.responses import JSONResponse

from opsapp.graph.demo.answers import Answer


@pytest.mark.parametrize(
    "body",
    [
        {"value": [{"id": "a", "displayName": "Zürich ✓ \u2028", "n": 1.5, "x": None}]},
        {"responses": [{"id": "0", "status": 200, "body": {"value": []}}]},
        {"big": 2**70},
    ],
)
def test_json_answers_carry_what_jsonresponse_would(body):
    response = Answer(200, body, {"Retry-After": "3"}).to_response()
    expected = JSONResponse(body, 200, {"Retry-After": "3"})
    assert json.loads(response.body) == json.loads(expected.body) == body
    assert response.headers["content-type"] == expected.headers["content-type"]
    assert response.headers["retry-after"] == "3" and response.status_code == 200
