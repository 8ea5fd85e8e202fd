"""Client-credentials token flow against the demo login endpoint: caching, refresh, rejection."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest

from opsapp.graph import GraphError
from opsapp.graph.demo import CONTOSO, FABRIKAM, DemoGraph, create_demo_app, make_demo_graph_client

DC = "deviceConfiguration"


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_one_token_serves_many_calls(make_client, demo):
    client = make_client()
    for _ in range(5):
        assert [p async for p in client.list_policies("roleScopeTag")]
    await asyncio.gather(*(client.get("deviceManagement/roleScopeTags") for _ in range(10)))
    assert client.token_requests == 1
    assert demo.stats("contoso")["token_requests"] == 1


async def test_concurrent_first_calls_fetch_a_single_token(make_client, demo):
    client = make_client()
    await asyncio.gather(*(client.get("deviceManagement/assignmentFilters") for _ in range(8)))
    assert demo.stats("contoso")["token_requests"] == 1


async def test_token_is_refreshed_shortly_before_it_expires(make_client, demo):
    clock = FakeClock()
    client = make_client(clock=clock)  # demo tokens live 3600 s, refreshed 120 s early
    await client.get("deviceManagement/roleScopeTags")
    clock.now += 3600 - 121
    await client.get("deviceManagement/roleScopeTags")
    assert client.token_requests == 1
    clock.now += 2
    await client.get("deviceManagement/roleScopeTags")
    assert client.token_requests == 2
    assert demo.stats("contoso")["token_requests"] == 2


async def test_short_lived_tokens_are_refreshed(make_client, demo):
    demo.set_faults("contoso", token_ttl_s=10)
    clock = FakeClock()
    client = make_client(clock=clock)
    await client.get("deviceManagement/roleScopeTags")
    clock.now += 6  # past half of a 10 s lifetime
    await client.get("deviceManagement/roleScopeTags")
    assert client.token_requests == 2


async def test_revoked_token_is_refreshed_once_on_401(make_client, demo, demo_server):
    client = make_client()
    await client.get("deviceManagement/roleScopeTags")
    demo.revoke_tokens("contoso")

    await client.get("deviceManagement/roleScopeTags")  # 401 -> new token -> retry succeeds

    assert client.token_requests == 2


async def test_token_expired_on_the_server_is_refreshed():
    # The server's clock runs ahead of the client's: the client still trusts an expired token.
    server_clock = FakeClock()
    app = create_demo_app(demo=DemoGraph(clock=server_clock))
    async with make_demo_graph_client(CONTOSO, app=app) as client:
        await client.get("deviceManagement/roleScopeTags")
        server_clock.now += 4000
        await client.get("deviceManagement/roleScopeTags")
        assert client.token_requests == 2


async def test_persistent_401_gives_up_after_one_refresh():
    class AlwaysLate(FakeClock):
        def __call__(self) -> float:  # every token is expired by the time it is checked
            self.now += 10_000
            return self.now

    app = create_demo_app(demo=DemoGraph(clock=AlwaysLate()))
    async with make_demo_graph_client(CONTOSO, app=app) as client:
        with pytest.raises(GraphError) as caught:
            await client.get("deviceManagement/roleScopeTags")
        assert (caught.value.code, caught.value.status) == ("graph.unauthorized", 401)
        assert client.token_requests == 2


async def test_wrong_secret_is_unauthorized(make_client, demo):
    client = make_client(dataclasses.replace(CONTOSO, client_secret="not-the-secret"))
    with pytest.raises(GraphError) as caught:
        await client.get_policy(DC, "x")
    assert caught.value.code == "graph.unauthorized"
    assert demo.stats("contoso")["graph_requests"] == 0


async def test_credentials_of_another_tenant_are_unauthorized(make_client):
    mixed = dataclasses.replace(FABRIKAM, client_secret=CONTOSO.client_secret)
    with pytest.raises(GraphError) as caught:
        await make_client(mixed).get_policy(DC, "x")
    assert caught.value.code == "graph.unauthorized"


async def test_unknown_tenant_is_unauthorized(make_client):
    stranger = dataclasses.replace(CONTOSO, entra_tenant_id="00000000-0000-0000-0000-000000000000")
    with pytest.raises(GraphError) as caught:
        await make_client(stranger).get_policy(DC, "x")
    assert caught.value.code == "graph.unauthorized"


async def test_graph_refuses_calls_without_a_valid_bearer(demo_server):
    async with httpx.AsyncClient(base_url=demo_server.url) as raw:
        missing = await raw.get("/beta/deviceManagement/roleScopeTags")
        forged = await raw.get(
            "/beta/deviceManagement/roleScopeTags", headers={"Authorization": "Bearer forged"}
        )
    assert missing.status_code == forged.status_code == 401
