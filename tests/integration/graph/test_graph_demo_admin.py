"""The demo Graph's admin API over HTTP (what `opsapp demo graph` users and e2e tests call)."""

from __future__ import annotations

import httpx
import pytest

from opsapp.graph import GraphError


@pytest.fixture
async def admin(demo_server, demo):
    async with httpx.AsyncClient(base_url=f"{demo_server.url}/_demo/tenants") as client:
        yield client


async def test_faults_are_set_read_and_cleared_over_http(admin, demo, make_client):
    set_answer = await admin.post("/contoso/faults", json={"forbidden": ["roleScopeTag"]})
    assert set_answer.status_code == 200
    assert (await admin.get("/contoso/faults")).json()["forbidden"] == ["roleScopeTag"]
    client = make_client()
    with pytest.raises(GraphError):
        await client.get("deviceManagement/roleScopeTags")

    assert (await admin.delete("/contoso/faults")).json()["forbidden"] == []
    await client.get("deviceManagement/roleScopeTags")


async def test_faults_are_per_tenant(admin, demo):
    await admin.post(f"/{demo.tenant('fabrikam').tenant.entra_tenant_id}/faults",
                     json={"throttle_first": 3})  # fmt: skip
    assert demo.stats("fabrikam")["faults"]["throttle_first"] == 3
    assert demo.stats("contoso")["faults"]["throttle_first"] == 0


async def test_bad_admin_input_is_refused(admin):
    assert (await admin.post("/contoso/faults", json={"nonsense": 1})).status_code == 400
    assert (await admin.post("/nowhere/faults", json={})).status_code == 404
    assert (await admin.post("/contoso/mutate", json={"policy_type": "nope"})).status_code == 400


async def test_tenants_are_listed_without_credentials(admin, demo_server):
    tenants = (await admin.get(f"{demo_server.url}/_demo/tenants")).json()
    assert {t["slug"] for t in tenants} >= {"contoso", "fabrikam", "woodgrove"}
    assert all("client_secret" not in t for t in tenants)


async def test_reset_restores_the_seeded_state(admin, demo):
    await admin.post("/contoso/mutate", json={"add": 5})
    before = demo.tenant("contoso").data.changes
    assert before > 0
    await admin.post("/contoso/reset")
    assert demo.tenant("contoso").data.changes == 0
