"""The live Graph client against the demo Graph over real loopback HTTP: reads and writes."""

from __future__ import annotations

import httpx
import pytest

from opsapp.graph import GraphClient, GraphError
from opsapp.graph.demo import CONTOSO, WOODGROVE, create_demo_app, make_demo_graph_client
from opsapp.graph.pacing import SlidingWindowLimiter
from opsapp.policy_types import POLICY_TYPES


async def test_client_satisfies_the_graph_client_protocol(make_client):
    assert isinstance(make_client(), GraphClient)


async def test_listing_streams_every_object_across_many_pages(make_client, demo):
    # given a tenant whose device configurations span several pages
    expected = demo.tenant("contoso").data.policies["deviceConfiguration"].live_count()
    assert expected > 3 * demo.page_size
    client = make_client()

    # when the client lists them
    ids = [p["id"] async for p in client.list_policies("deviceConfiguration")]

    # then every object arrives exactly once, one request per page (the server answers fewer
    # than the 999 asked a page: nextLinks are followed)
    assert len(ids) == len(set(ids)) == expected
    pages = [r for r in demo.stats("contoso")["recent"] if r["method"] == "GET"]
    assert len(pages) == -(-expected // demo.page_size)
    assert pages[0]["query"] == {"$top": "999"}
    assert all("$skiptoken" in r["query"] for r in pages[1:])


@pytest.mark.parametrize("ptype", POLICY_TYPES, ids=lambda t: t.key)
async def test_listing_asks_for_large_pages_where_intune_takes_top(make_client, demo, ptype):
    # Intune's policy collections take $top=999; assignment filters and scope tags keep the
    # service's default page size
    client = make_client()
    await anext(client.list_policies(ptype.key))
    query = demo.stats("contoso")["recent"][0]["query"]
    small = ptype.key in ("assignmentFilter", "roleScopeTag")
    assert query.get("$top") == (None if small else "999")


async def test_iteration_is_lazy_one_page_at_a_time(make_client, demo):
    client = make_client()
    stream = client.list_policies("settingsCatalogPolicy")
    first = await anext(stream)
    assert first["id"]
    assert demo.stats("contoso")["graph_requests"] == 1
    await stream.aclose()


async def test_select_is_sent_and_honoured(make_client, demo):
    client = make_client()
    items = [
        i async for i in client.list_policies("deviceCompliancePolicy", select=["displayName"])
    ]
    assert items
    assert all(set(i) <= {"id", "@odata.type", "displayName"} for i in items)
    queries = [r["query"] for r in demo.stats("contoso")["recent"]]
    assert queries[0]["$select"] == "displayName"
    assert all(q.get("$select") == "displayName" for q in queries)  # nextLinks keep it


@pytest.mark.parametrize("ptype", POLICY_TYPES, ids=lambda t: t.key)
async def test_every_supported_type_is_read_from_its_real_path(make_client, demo, ptype):
    client = make_client()
    items = [i async for i in client.list_policies(ptype.key)]
    assert len(items) == demo.tenant("contoso").data.policies[ptype.key].live_count()
    first = demo.stats("contoso")["recent"][0]["path"]
    assert first == ptype.graph_path
    name_field = "name" if ptype.key == "settingsCatalogPolicy" else "displayName"
    assert {"id", "@odata.type", name_field, "lastModifiedDateTime"} <= set(items[0])


async def test_wrong_api_version_is_a_request_error(make_client):
    client = make_client()
    with pytest.raises(GraphError) as caught:
        await client.get("deviceManagement/configurationPolicies", api_version="v1.0")
    assert caught.value.code == "graph.request_invalid"


async def test_batch_get_keeps_order_and_reports_failures_per_item(make_client, demo):
    client = make_client()
    ids = [p["id"] async for p in client.list_policies("deviceConfiguration")][:44]
    paths = [f"deviceManagement/deviceConfigurations/{i}" for i in ids]
    paths.insert(7, "deviceManagement/deviceConfigurations/00000000-dead-beef-0000-000000000000")

    results = await client.batch_get(paths)

    assert len(results) == 45
    assert isinstance(results[7], GraphError) and results[7].code == "graph.not_found"
    good = [r for i, r in enumerate(results) if i != 7]
    assert [r["id"] for r in good] == ids
    batches = [r for r in demo.stats("contoso")["recent"] if r["path"] == "$batch"]
    assert len(batches) == 3  # 20 + 20 + 5


async def test_assignments_via_batch_match_single_reads(make_client):
    client = make_client()
    ids = [p["id"] async for p in client.list_policies("settingsCatalogPolicy")][:30]
    many = await client.list_assignments_many("settingsCatalogPolicy", ids)
    for policy_id in ids[:5]:
        assert many[policy_id] == await client.list_assignments("settingsCatalogPolicy", policy_id)
    assert sum(len(v) for v in many.values()) > 0
    assert await client.list_assignments("roleScopeTag", "any") == []


async def test_groups_stream_with_member_counts(make_client, demo):
    client = make_client()
    groups = [g async for g in client.iter_groups()]
    data = demo.tenant("contoso").data
    assert len(groups) == data.groups.live_count()
    for group in groups[:25]:
        assert group["memberCount"] == data.member_count(group["id"])
    assert {"displayName", "groupTypes", "securityEnabled", "mailEnabled"} <= set(groups[0])
    assert demo.stats("contoso")["recent"][0]["path"] == "groups"


async def test_settings_catalog_settings_are_listed(make_client, demo):
    client = make_client()
    policy = await anext(client.list_policies("settingsCatalogPolicy"))
    settings = [s async for s in client.iter_policy_settings(policy["id"])]
    assert len(settings) == policy["settingCount"]
    assert settings[0]["settingInstance"]["settingDefinitionId"]


async def test_writes_change_the_tenant(make_client):
    client = make_client()
    created = await client.create_policy(
        "deviceCompliancePolicy",
        payload={"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "R"},
    )
    await client.update_policy(
        "deviceCompliancePolicy", created["id"], payload={"displayName": "S"}
    )
    target = {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}
    await client.assign_policy(
        "deviceCompliancePolicy", created["id"], assignments=[{"target": target}]
    )

    listed = {p["id"]: p async for p in client.list_policies("deviceCompliancePolicy")}
    assert listed[created["id"]]["displayName"] == "S"
    assignments = await client.list_assignments("deviceCompliancePolicy", created["id"])
    assert [a["target"] for a in assignments] == [target]


async def test_a_second_sync_sees_mutations(make_client, demo_server):
    client = make_client()

    async def snapshot() -> dict[str, str]:
        return {
            p["id"]: p["lastModifiedDateTime"]
            async for p in client.list_policies("deviceConfiguration")
        }

    before = await snapshot()
    async with httpx.AsyncClient(base_url=demo_server.url) as admin:
        answer = await admin.post(
            "/_demo/tenants/contoso/mutate",
            json={
                "policy_type": "deviceConfiguration",
                "modify": 3,
                "add": 2,
                "remove": 1,
                "seed": 7,
            },
        )
    changes = answer.raise_for_status().json()
    after = await snapshot()

    assert set(after) - set(before) == {c["id"] for c in changes["added"]}
    assert set(before) - set(after) == {c["id"] for c in changes["removed"]}
    modified = {k for k in before.keys() & after.keys() if before[k] != after[k]}
    assert modified  # a modified object may also have been removed by the same mutation
    assert modified == {c["id"] for c in changes["modified"]} & after.keys()


async def test_in_process_transport_serves_the_same_tenant():
    # Demo mode without sockets: same client code, same deterministic objects (fresh app).
    loopback_free = create_demo_app(page_size=40)
    async with make_demo_graph_client(CONTOSO, app=loopback_free) as client:
        first = [p["id"] async for p in client.list_policies("assignmentFilter")]
    async with make_demo_graph_client("contoso", app=create_demo_app()) as client:
        second = [p["id"] async for p in client.list_policies("assignmentFilter")]
    assert first == second and first


async def test_shared_in_process_demo_app_needs_no_server():
    async with make_demo_graph_client("fabrikam") as client:
        first = await anext(client.list_policies("deviceEnrollmentConfiguration"))
    assert first["id"]


async def test_a_large_tenant_pages_through_loopback(make_client, demo):
    client = make_client(WOODGROVE)
    count = 0
    async for _ in client.iter_collection(
        "deviceManagement/deviceConfigurations", select=["id", "displayName"], page_size=999
    ):
        count += 1
    assert count == demo.tenant("woodgrove").data.policies["deviceConfiguration"].live_count()
    assert count > 10_000


async def test_every_request_goes_through_the_tenant_pacer(make_client, demo):
    class FakeTime:
        def __init__(self) -> None:
            self.now, self.slept = 0.0, []

        def clock(self) -> float:
            return self.now

        async def sleep(self, seconds: float) -> None:
            self.slept.append(seconds)
            self.now += seconds

    fake = FakeTime()
    pacer = SlidingWindowLimiter(max_requests=2, window_s=20.0, clock=fake.clock, sleep=fake.sleep)
    client = make_client(limiter=pacer)

    await drain_ids(client.list_policies("deviceConfiguration"))  # 4 pages of 25

    assert demo.stats("contoso")["graph_requests"] == 4
    assert fake.slept == [20.0]  # pages 3 and 4 waited for the window to roll over


async def drain_ids(stream) -> list[str]:
    return [item["id"] async for item in stream]
