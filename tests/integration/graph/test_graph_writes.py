"""Policy writes against the demo Graph (real loopback): shaped bodies round-trip, Graph's write
rules (read-only properties, ``@odata.type``, verb per type) refuse raw ones and change nothing,
the ``read_only`` fault, and how writes are retried."""

from __future__ import annotations

import httpx
import pytest

from opsapp.graph import GraphError
from opsapp.graph.demo import CONTOSO
from opsapp.graph.writes import assignment_body, write_body
from opsapp.policy_types import POLICY_TYPES, POLICY_TYPES_BY_KEY

DC = "deviceConfiguration"
SC = "settingsCatalogPolicy"
COMPLIANCE = "deviceCompliancePolicy"
GROUP_TARGET = "#microsoft.graph.groupAssignmentTarget"
CHOICE = "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance"
NAME = {SC: "name"}  # every other type names objects with displayName


def name_field(ptype: str) -> str:
    return NAME.get(ptype, "displayName")


def path_of(ptype: str, *rest: str) -> str:
    t = POLICY_TYPES_BY_KEY[ptype]
    return "/".join((f"/{t.api_version}", t.graph_path, *rest))


def setting(definition: str, value: int) -> dict:
    return {
        "settingInstance": {
            "@odata.type": CHOICE,
            "settingDefinitionId": definition,
            "choiceSettingValue": {"value": f"{definition}_{value}", "children": []},
        }
    }


@pytest.fixture
async def raw(demo_server, demo):
    """A plain httpx client with a valid contoso token: sends bodies the client would shape."""
    async with httpx.AsyncClient(base_url=demo_server.url) as client:
        answer = await client.post(
            f"/{CONTOSO.entra_tenant_id}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "client_id": CONTOSO.client_id,
                  "client_secret": CONTOSO.client_secret,
                  "scope": "https://graph.microsoft.com/.default"},
        )  # fmt: skip
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield client


async def first(client, ptype: str) -> dict:
    return await anext(client.list_policies(ptype))


async def ids(client, ptype: str) -> list[str]:
    return [p["id"] async for p in client.list_policies(ptype)]


def graph_message(answer: httpx.Response) -> str:
    return answer.json()["error"]["message"]


# -- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("ptype", [t.key for t in POLICY_TYPES])
async def test_a_fetched_policy_shaped_by_write_body_can_be_created(make_client, demo, ptype):
    client = make_client()
    source = await client.get_policy(ptype, (await first(client, ptype))["id"])
    body = write_body(ptype, source)
    body[name_field(ptype)] = f"Restored {ptype}"
    if ptype == SC:
        body["settings"] = [s async for s in client.iter_policy_settings(source["id"])]
        body = write_body(SC, body)  # the settings as GET returned them, shaped too
    before = demo.tenant("contoso").data.policies[ptype].live_count()

    created = await client.create_policy(ptype, payload=body)

    assert created["id"] != source["id"]
    listed = {p["id"]: p async for p in client.list_policies(ptype)}
    assert len(listed) == before + 1
    assert listed[created["id"]][name_field(ptype)] == f"Restored {ptype}"
    assert listed[created["id"]]["@odata.type"] == source["@odata.type"]
    if ptype == SC:
        copied = [s async for s in client.iter_policy_settings(created["id"])]
        original = [s async for s in client.iter_policy_settings(source["id"])]
        assert [s["settingInstance"] for s in copied] == [s["settingInstance"] for s in original]
        assert listed[created["id"]]["settingCount"] == len(original)


@pytest.mark.parametrize("ptype", [t.key for t in POLICY_TYPES if t.key != SC])
async def test_update_policy_patches_the_other_types(make_client, ptype):
    client = make_client()
    policy_id = (await ids(client, ptype))[1]
    before = await client.get_policy(ptype, policy_id)

    await client.update_policy(ptype, policy_id, payload={"description": "restored"})

    after = await client.get_policy(ptype, policy_id)
    assert after["description"] == "restored"
    assert after["lastModifiedDateTime"] > before["lastModifiedDateTime"]
    assert {k: v for k, v in after.items() if k not in ("description", "lastModifiedDateTime")} == {
        k: v for k, v in before.items() if k not in ("description", "lastModifiedDateTime")
    }


async def test_update_policy_puts_settings_catalog_replacing_its_settings(make_client, demo):
    client = make_client()
    policy_id = (await ids(client, SC))[2]
    before = await client.get_policy(SC, policy_id)
    body = write_body(SC, before)
    body["description"] = "restored"
    body.pop("technologies")  # PUT replaces: what the body lacks is gone
    body["settings"] = [setting("device_vendor_msft_a", 1), setting("device_vendor_msft_b", 2)]

    answer = await client.update_policy(SC, policy_id, payload=body)

    assert answer == {}  # 204
    after = await client.get_policy(SC, policy_id)
    assert after["description"] == "restored"
    assert "technologies" not in after
    assert (after["id"], after["createdDateTime"]) == (policy_id, before["createdDateTime"])
    assert after["lastModifiedDateTime"] > before["lastModifiedDateTime"]
    assert after["settingCount"] == 2
    assert after["isAssigned"] == before["isAssigned"]  # server-managed: survives the PUT
    settings = [s async for s in client.iter_policy_settings(policy_id)]
    assert [s["id"] for s in settings] == ["0", "1"]
    assert [s["settingInstance"] for s in settings] == [
        s["settingInstance"] for s in body["settings"]
    ]
    assert demo.get_settings("contoso", policy_id) == settings


async def test_assign_policy_with_assignment_body(make_client, demo):
    client = make_client()
    groups = demo.tenant("contoso").data.groups
    policy_id = (await ids(client, COMPLIANCE))[0]
    backed_up = [
        {"id": "old_0", "source": "direct", "sourceId": "old",
         "target": {"@odata.type": GROUP_TARGET, "groupId": "old-group-1"}},
        {"id": "old_1", "source": "direct", "sourceId": "old",
         "target": {"@odata.type": GROUP_TARGET, "groupId": "old-group-2"}},
        {"id": "old_2", "source": "direct", "sourceId": "old",
         "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}},
    ]  # fmt: skip
    wanted = assignment_body(
        backed_up, group_map={"old-group-1": groups.id_at(3), "old-group-2": None}
    )

    await client.assign_policy(COMPLIANCE, policy_id, assignments=wanted)

    assigned = await client.list_assignments(COMPLIANCE, policy_id)
    assert [a["target"] for a in assigned] == [
        {"@odata.type": GROUP_TARGET, "groupId": groups.id_at(3)},
        {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"},
    ]
    assert [a["id"] for a in assigned] == [f"{policy_id}_0", f"{policy_id}_1"]


# -- write rules: refused bodies change nothing ---------------------------------------------


@pytest.mark.parametrize(
    ("ptype", "key"),
    [(DC, "id"), (DC, "createdDateTime"), (DC, "version"), (SC, "settingCount"),
     (SC, "isAssigned"), (DC, "@odata.context"), (COMPLIANCE, "assignments"),
     (SC, "settingDefinitions")],
)  # fmt: skip
async def test_read_only_properties_are_refused_on_create(raw, make_client, demo, ptype, key):
    client = make_client()
    fetched = await client.get_policy(ptype, (await first(client, ptype))["id"])
    body = {**write_body(ptype, fetched), key: fetched.get(key, [])}
    before = demo.tenant("contoso").data.policies[ptype].live_count()

    answer = await raw.post(path_of(ptype), json=body)

    assert answer.status_code == 400
    assert graph_message(answer) == f"The property '{key}' is read-only and cannot be set."
    assert demo.tenant("contoso").data.policies[ptype].live_count() == before
    with pytest.raises(GraphError) as caught:
        await client.create_policy(ptype, payload=body)
    assert (caught.value.code, caught.value.status) == ("graph.request_invalid", 400)


@pytest.mark.parametrize("ptype", [DC, SC])
async def test_read_only_properties_are_refused_on_update(raw, make_client, demo, ptype):
    client = make_client()
    policy_id = (await ids(client, ptype))[0]
    fetched = await client.get_policy(ptype, policy_id)
    verb = POLICY_TYPES_BY_KEY[ptype].update_method
    body = {**fetched, "description": "never stored"}  # raw: id, timestamps … still in

    answer = await raw.request(verb, path_of(ptype, policy_id), json=body)

    assert answer.status_code == 400
    assert "is read-only and cannot be set." in graph_message(answer)
    with pytest.raises(GraphError) as caught:
        await client.update_policy(ptype, policy_id, payload=body)
    assert caught.value.code == "graph.request_invalid"
    assert await client.get_policy(ptype, policy_id) == fetched


async def test_create_without_odata_type_is_refused(raw, make_client, demo):
    client = make_client()
    before = demo.tenant("contoso").data.policies[DC].live_count()
    answer = await raw.post(path_of(DC), json={"displayName": "typeless"})
    assert answer.status_code == 400
    assert graph_message(answer) == "A value for '@odata.type' is required."
    assert answer.json()["error"]["code"] == "BadRequest"
    with pytest.raises(GraphError) as caught:
        await client.create_policy(DC, payload={"displayName": "typeless"})
    assert caught.value.code == "graph.request_invalid"
    assert demo.tenant("contoso").data.policies[DC].live_count() == before


@pytest.mark.parametrize(("ptype", "wrong", "right"), [(SC, "PATCH", "PUT"), (DC, "PUT", "PATCH"),
                                                       (COMPLIANCE, "PUT", "PATCH")])  # fmt: skip
async def test_the_wrong_update_verb_is_405(raw, make_client, ptype, wrong, right):
    client = make_client()
    policy_id = (await ids(client, ptype))[0]
    fetched = await client.get_policy(ptype, policy_id)
    body = {"description": "never stored"}

    answer = await raw.request(wrong, path_of(ptype, policy_id), json=body)

    assert answer.status_code == 405
    assert graph_message(answer) == (
        f"The HTTP method '{wrong}' is not allowed for this resource; use {right}."
    )
    send = client.patch if wrong == "PATCH" else client.put
    with pytest.raises(GraphError) as caught:
        await send(path_of(ptype, policy_id).split("/", 2)[2], json=body)
    assert (caught.value.code, caught.value.status) == ("graph.request_invalid", 405)
    assert await client.get_policy(ptype, policy_id) == fetched


async def test_settings_only_go_to_settings_catalog(raw, demo):
    count = demo.tenant("contoso").data.policies[DC].live_count()
    body = {"@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
            "displayName": "x", "settings": [setting("a", 1)]}  # fmt: skip
    answer = await raw.post(path_of(DC), json=body)
    assert answer.status_code == 400
    assert "'settings'" in graph_message(answer)
    sc = {"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
          "name": "x", "settings": "not-a-list"}  # fmt: skip
    assert (await raw.post(path_of(SC), json=sc)).status_code == 400
    assert demo.tenant("contoso").data.policies[DC].live_count() == count


async def test_write_rules_hold_inside_batch(raw, make_client):
    client = make_client()
    sc_id, dc_id = (await ids(client, SC))[0], (await ids(client, DC))[0]
    sc_path, dc_path = path_of(SC, sc_id)[len("/beta") :], path_of(DC, dc_id)[len("/beta") :]
    requests = [
        {"id": "1", "method": "PATCH", "url": sc_path, "body": {"description": "x"}},
        {"id": "2", "method": "PATCH", "url": dc_path, "body": {"id": "x"}},
        {"id": "3", "method": "PATCH", "url": dc_path, "body": {"description": "batched"}},
    ]
    answer = await raw.post("/beta/$batch", json={"requests": requests})
    statuses = {r["id"]: r["status"] for r in answer.json()["responses"]}
    assert statuses == {"1": 405, "2": 400, "3": 204}
    assert (await client.get_policy(DC, dc_id))["description"] == "batched"


# -- read_only fault ----------------------------------------------------------------------------


async def test_read_only_fault_forbids_writes_but_not_reads(raw, make_client, demo, demo_server):
    client = make_client()
    policy_id = (await ids(client, DC))[0]
    before = await client.get_policy(DC, policy_id)
    body = write_body(DC, before)
    count = demo.tenant("contoso").data.policies[DC].live_count()
    demo.set_faults("contoso", read_only=True)

    writes = [
        client.create_policy(DC, payload=body),
        client.update_policy(DC, policy_id, payload={"description": "no"}),
        client.update_policy(SC, (await ids(client, SC))[0], payload={"name": "no"}),
        client.assign_policy(DC, policy_id, assignments=[]),
    ]
    for attempt in writes:
        with pytest.raises(GraphError) as caught:
            await attempt
        assert (caught.value.code, caught.value.status) == ("graph.forbidden", 403)
    deleted = await raw.delete(path_of(DC, policy_id))
    assert deleted.status_code == 403
    assert graph_message(deleted) == "Application is not authorized to perform this operation."

    # Reads still work, single and batched; nothing changed.
    assert await client.get_policy(DC, policy_id) == before
    assert len(await ids(client, DC)) == count
    many = await client.list_assignments_many(DC, [policy_id])
    assert not isinstance(many[policy_id], GraphError)
    # A write inside $batch is refused too, its GET neighbours answer.
    batch = await raw.post("/beta/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": path_of(DC, policy_id)[len("/beta") :]},
        {"id": "2", "method": "PATCH", "url": path_of(DC, policy_id)[len("/beta") :],
         "body": {"description": "no"}},
    ]})  # fmt: skip
    assert {r["id"]: r["status"] for r in batch.json()["responses"]} == {"1": 200, "2": 403}

    # The admin API is not Graph: it still edits.
    async with httpx.AsyncClient(base_url=f"{demo_server.url}/_demo/tenants/contoso") as admin:
        edited = await admin.patch(f"/policies/{DC}/{policy_id}", json={"description": "admin"})
    assert edited.status_code == 200
    assert (await client.get_policy(DC, policy_id))["description"] == "admin"


# -- retries of writes ----------------------------------------------------------------------


async def test_throttled_writes_are_retried_then_succeed(make_client, demo, sleeps):
    client = make_client()
    policy_id = (await ids(client, DC))[0]
    body = write_body(DC, await client.get_policy(DC, policy_id))
    count = demo.tenant("contoso").data.policies[DC].live_count()

    demo.set_faults("contoso", throttle_first=2, retry_after_s=2)
    created = await client.create_policy(DC, payload=body)
    demo.set_faults("contoso", throttle_first=1, retry_after_s=2)
    await client.update_policy(DC, policy_id, payload={"description": "after 429"})
    demo.set_faults("contoso", error_first=1, error_status=503, retry_after_s=1)
    await client.assign_policy(DC, policy_id, assignments=[])

    assert len(sleeps) == 4
    assert demo.tenant("contoso").data.policies[DC].live_count() == count + 1  # created once
    assert (await client.get_policy(DC, created["id"]))["displayName"] == body["displayName"]
    assert (await client.get_policy(DC, policy_id))["description"] == "after 429"
    methods = [r["method"] for r in demo.stats("contoso")["recent"] if r["method"] != "GET"]
    assert methods == ["POST"] * 3 + ["PATCH"] * 2 + ["POST"] * 2


async def test_a_create_is_not_retried_on_500(make_client, demo, sleeps):
    client = make_client()
    body = write_body(DC, await first(client, DC))
    count = demo.tenant("contoso").data.policies[DC].live_count()
    demo.reset("contoso")  # fresh counters: only the POST below is recorded
    demo.set_faults("contoso", error_first=1, error_status=500)

    with pytest.raises(GraphError) as caught:
        await client.create_policy(DC, payload=body)

    assert (caught.value.code, caught.value.status) == ("graph.unavailable", 500)
    recent = demo.stats("contoso")["recent"]
    assert [(r["method"], r["path"]) for r in recent] == [
        ("POST", POLICY_TYPES_BY_KEY[DC].graph_path)
    ]
    assert sleeps == []
    assert demo.tenant("contoso").data.policies[DC].live_count() == count


@pytest.mark.parametrize("ptype", [DC, SC])
async def test_updates_are_retried_on_500(make_client, demo, sleeps, ptype):
    client = make_client()
    policy_id = (await ids(client, ptype))[0]
    body = {**write_body(ptype, await client.get_policy(ptype, policy_id)), "description": "ok"}
    demo.reset("contoso")
    demo.set_faults("contoso", error_first=1, error_status=500)

    await client.update_policy(ptype, policy_id, payload=body)

    verb = POLICY_TYPES_BY_KEY[ptype].update_method
    assert [r["method"] for r in demo.stats("contoso")["recent"]] == [verb, verb]
    assert len(sleeps) == 1
    assert (await client.get_policy(ptype, policy_id))["description"] == "ok"
