"""The demo Graph's own request budget (``Faults.budget_requests``): it throttles like Graph
(429 with Retry-After once a tenant's units in the window are spent, a $batch costing one unit
per sub-request) and logs every request's arrival and units for budget benchmarks."""

from __future__ import annotations

import httpx
import pytest

from opsapp.graph import GraphError

DC = "deviceConfiguration"
PATH = "deviceManagement/deviceConfigurations"


async def test_requests_over_the_budget_are_answered_429_and_logged(make_client, demo, sleeps):
    demo.set_faults("contoso", budget_requests=4, budget_window_s=60)
    client = make_client(max_retries=1)
    policy_ids = []
    async for policy in client.iter_collection(PATH, page_size=3):  # one page: 1 unit
        policy_ids.append(policy["id"])
        if len(policy_ids) == 3:
            break

    await client.list_assignments_many(DC, policy_ids)  # a $batch of 3: 3 units, 4 spent
    with pytest.raises(GraphError) as caught:
        await client.get_policy(DC, policy_ids[0])  # 1 more does not fit: 429, retried, 429

    assert (caught.value.status, caught.value.code) == (429, "graph.throttled")
    assert 0 < caught.value.retry_after <= 60
    assert len(sleeps) == 1  # the client honoured Retry-After once, as for any 429
    stats = demo.stats("contoso")
    assert (stats["units"], stats["budget_throttled"]) == (4, 2)
    log = demo.units_log("contoso")
    assert [(units, admitted) for _, units, admitted in log] == [
        (1, True), (3, True), (1, False), (1, False),
    ]  # fmt: skip


async def test_the_budget_log_is_served_by_the_admin_api(make_client, demo, demo_server):
    demo.set_faults("contoso", budget_requests=100)
    client = make_client()
    await client.get_policy(DC, [p["id"] async for p in client.list_policies(DC)][0])

    async with httpx.AsyncClient(base_url=demo_server.url) as raw:
        log = (await raw.get("/_demo/tenants/contoso/units")).json()
        since = (await raw.get("/_demo/tenants/contoso/units", params={"since": log[0][0]})).json()
        stats = (await raw.get("/_demo/tenants/contoso/stats")).json()

    assert [row[1:] for row in log][-1] == [1, True]
    assert len(since) == len(log) - 1
    assert stats["units"] == sum(row[1] for row in log)


async def test_without_a_budget_nothing_is_throttled(make_client, demo):
    client = make_client()
    assert len([p async for p in client.list_policies(DC)]) > 0
    assert demo.stats("contoso")["budget_throttled"] == 0
