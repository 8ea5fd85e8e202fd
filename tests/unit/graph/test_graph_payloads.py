"""Graph bodies are parsed with orjson: the values must be the standard parser's, and what is
not JSON (NaN, Infinity, numbers out of range) is a bad response, never a non-finite float."""

import json

import httpx
import pytest

from opsapp.graph import GraphError
from opsapp.graph.payloads import json_object, loads


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "b": [true, false, null], "c": {"d": "\\u00e9\\n\\"q\\""}}',
        b'{"big": 123456789012345678901234567890, "neg": -9223372036854775809}',
        b'{"edge": [9223372036854775807, -9223372036854775808, 18446744073709551615]}',
        b'{"f": [0.1, 1e-05, 1.5e300, -0.0]}',
        b'{"lone": "\\ud800"}',  # a lone surrogate escape: orjson refuses, json reads it
        b'{"dup": 1, "dup": 2}',
        '{"utf8": "Zürich ✓"}'.encode(),
    ],
)
def test_values_are_the_standard_parsers(body):
    assert loads(body) == json.loads(body)
    assert type(loads(body)) is dict


@pytest.mark.parametrize(
    "body", [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b'{"a": 1e400}', b"{", b"\xff"]
)
def test_what_is_not_json_is_refused(body):
    with pytest.raises(ValueError):
        loads(body)
    with pytest.raises(GraphError) as caught:
        json_object(httpx.Response(200, content=body), path="x")
    assert caught.value.code == "graph.bad_response"
