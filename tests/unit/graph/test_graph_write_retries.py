"""Which writes are resent: POST (create) only when Graph did not process it; PATCH/PUT also on
5xx. Also: the verb ``update_policy`` uses per type, and how a 405 maps (httpx.MockTransport)."""

from __future__ import annotations

import httpx
import pytest

from opsapp.graph import GraphError, make_graph_client
from opsapp.graph.errors import REQUEST_INVALID, code_for_status
from opsapp.graph.pacing import SlidingWindowLimiter
from opsapp.graph.retry import RetryPolicy

BASE = "https://graph.example.test"


def scripted(statuses: list[int | type[Exception]], seen: list[str], *, retry_after=None):
    """Answer Graph requests with ``statuses`` in turn (an exception class is raised), then 200."""
    script = list(statuses)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth2/v2.0/token"):
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 3600})
        seen.append(request.method)
        step = script.pop(0) if script else 200
        if isinstance(step, type):
            raise step("scripted", request=request)
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        body = {"id": "new"} if step < 300 else {"error": {"code": "x", "message": "y"}}
        return httpx.Response(step, json=body, headers=headers)

    return handler


def client_for(handler, sleeps: list[float]):
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return make_graph_client(
        tenant_id="t1",
        client_id="c1",
        client_secret="secret-value-for-unit-tests",
        graph_base=BASE,
        login_base="https://login.example.test",
        transport=httpx.MockTransport(handler),
        limiter=SlidingWindowLimiter(max_requests=1000),
        sleep=sleep,
        max_retries=3,
    )


async def write(client, verb: str):
    method = {"POST": client.post, "PATCH": client.patch, "PUT": client.put}[verb]
    return await method("deviceManagement/configurationPolicies", json={"name": "x"})


@pytest.mark.parametrize("verb", ["POST", "PATCH", "PUT"])
@pytest.mark.parametrize(("status", "retry_after"), [(429, "2"), (429, None), (503, "2")])
async def test_not_processed_answers_are_retried_for_every_verb(verb, status, retry_after):
    seen: list[str] = []
    sleeps: list[float] = []
    handler = scripted([status, status], seen, retry_after=retry_after)
    async with client_for(handler, sleeps) as client:
        assert await write(client, verb) == {"id": "new"}
    assert seen == [verb] * 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(("status", "retry_after"), [(500, None), (502, None), (504, None),
                                                     (503, None), (500, "1")])  # fmt: skip
async def test_a_create_is_not_resent_after_an_ambiguous_5xx(status, retry_after):
    seen: list[str] = []
    sleeps: list[float] = []
    async with client_for(scripted([status], seen, retry_after=retry_after), sleeps) as client:
        with pytest.raises(GraphError) as caught:
            await write(client, "POST")
    assert caught.value.code == "graph.unavailable"
    assert seen == ["POST"]
    assert sleeps == []


@pytest.mark.parametrize("verb", ["PATCH", "PUT"])
@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_updates_are_idempotent_and_retried_on_5xx(verb, status):
    seen: list[str] = []
    sleeps: list[float] = []
    async with client_for(scripted([status], seen), sleeps) as client:
        assert await write(client, verb) == {"id": "new"}
    assert seen == [verb, verb]


@pytest.mark.parametrize(("verb", "resent"), [("POST", False), ("PATCH", True), ("PUT", True)])
async def test_a_lost_answer_is_resent_only_for_updates(verb, resent):
    seen: list[str] = []
    sleeps: list[float] = []
    async with client_for(scripted([httpx.ReadTimeout], seen), sleeps) as client:
        if resent:
            assert await write(client, verb) == {"id": "new"}
        else:
            with pytest.raises(GraphError) as caught:
                await write(client, verb)
            assert caught.value.code == "graph.timeout"
    assert seen == [verb] * (2 if resent else 1)


async def test_a_connection_never_made_is_retried_even_for_a_create():
    seen: list[str] = []
    sleeps: list[float] = []
    async with client_for(scripted([httpx.ConnectError], seen), sleeps) as client:
        assert await write(client, "POST") == {"id": "new"}
    assert seen == ["POST", "POST"]


def test_retry_policy_503_needs_retry_after_unless_idempotent():
    policy = RetryPolicy(max_retries=2)
    assert policy.should_retry(status=503, attempt=0, idempotent=False, retry_after=0.0)
    assert not policy.should_retry(status=503, attempt=0, idempotent=False, retry_after=None)
    assert policy.should_retry(status=503, attempt=0, idempotent=True, retry_after=None)
    assert policy.should_retry(status=429, attempt=0, idempotent=False, retry_after=None)
    assert not policy.should_retry(status=503, attempt=2, idempotent=True, retry_after=5.0)


@pytest.mark.parametrize(
    ("ptype", "verb"),
    [("settingsCatalogPolicy", "PUT"), ("deviceConfiguration", "PATCH"),
     ("deviceCompliancePolicy", "PATCH"), ("roleScopeTag", "PATCH")],
)  # fmt: skip
async def test_update_policy_uses_the_types_verb(ptype, verb):
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth2/v2.0/token"):
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 3600})
        requests.append(request)
        return httpx.Response(204)

    async with client_for(handler, []) as client:
        assert await client.update_policy(ptype, "p1", payload={"description": "d"}) == {}
    assert [r.method for r in requests] == [verb]
    assert requests[0].url.path.endswith("/p1")
    assert requests[0].url.path.startswith("/beta/deviceManagement/")


async def test_method_not_allowed_maps_to_request_invalid():
    assert code_for_status(405) == REQUEST_INVALID
    seen: list[str] = []
    async with client_for(scripted([405], seen), []) as client:
        with pytest.raises(GraphError) as caught:
            await write(client, "PATCH")
    assert (caught.value.code, caught.value.status) == (REQUEST_INVALID, 405)
    assert "405 Method Not Allowed" in caught.value.message
    assert seen == ["PATCH"]
