"""Edge cases of the live client that the demo Graph never produces (httpx.MockTransport)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from opsapp.graph import GraphError, make_graph_client
from opsapp.graph.batch import answer_body
from opsapp.graph.pacing import SlidingWindowLimiter

BASE = "https://graph.example.test"
SECRET = "s3cretQ~unitTestClientSecretValue.0123456789"


def client_for(handler, **opts):
    return make_graph_client(
        tenant_id="t1",
        client_id="c1",
        client_secret=SECRET,
        graph_base=BASE,
        login_base="https://login.example.test",
        transport=httpx.MockTransport(handler),
        limiter=SlidingWindowLimiter(max_requests=1000),
        **opts,
    )


def token_or(handler):
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth2/v2.0/token"):
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 3600})
        return handler(request)

    return route


async def test_token_request_is_a_client_credentials_form():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/t1/oauth2/v2.0/token":
            seen.update(dict(x.split("=", 1) for x in request.content.decode().split("&")))
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 3600})
        assert request.headers["Authorization"] == "Bearer tok"
        return httpx.Response(200, json={"id": "1"})

    async with client_for(handler) as client:
        await client.get("me")
    assert seen["grant_type"] == "client_credentials"
    assert seen["client_id"] == "c1"
    assert seen["scope"] == "https%3A%2F%2Fgraph.microsoft.com%2F.default"


async def test_next_link_to_a_foreign_host_is_refused_and_gets_no_token():
    hosts = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(
            200, json={"value": [{"id": "1"}], "@odata.nextLink": "https://evil.test/beta/x"}
        )

    async with client_for(token_or(handler)) as client:
        with pytest.raises(GraphError) as caught:
            _ = [i async for i in client.iter_collection("x")]
    assert caught.value.code == "graph.bad_response"
    assert hosts == ["graph.example.test"]


async def test_non_object_json_is_a_bad_response():
    async with client_for(token_or(lambda r: httpx.Response(200, json=[1, 2]))) as client:
        with pytest.raises(GraphError) as caught:
            await client.get("x")
    assert caught.value.code == "graph.bad_response"


async def test_malformed_token_answer_is_a_bad_response():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>login</html>")

    async with client_for(handler) as client:
        with pytest.raises(GraphError) as caught:
            await client.get("x")
    assert caught.value.code == "graph.bad_response"
    assert SECRET not in repr(client) and SECRET not in repr(client._tokens)


async def test_repeating_next_link_stops_instead_of_looping():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"value": [], "@odata.nextLink": f"{BASE}/beta/x?p=1"})

    async with client_for(token_or(handler)) as client:
        with pytest.raises(GraphError) as caught:
            _ = [i async for i in client.iter_collection("x")]
    assert caught.value.code == "graph.bad_response"


async def test_patch_answering_204_returns_empty_object():
    async with client_for(token_or(lambda r: httpx.Response(204))) as client:
        assert await client.patch("x/1", json={"a": 1}) == {}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"id": "1"}, {"id": "1"}),
        (42, {"value": 42}),
        ("42", {"value": 42}),
        (base64.b64encode(b"17").decode(), {"value": 17}),
        (base64.b64encode(json.dumps({"id": "2"}).encode()).decode(), {"id": "2"}),
        (None, {}),
    ],
)
def test_batch_bodies_are_normalized(body, expected):
    assert answer_body(body, path="x") == expected
