"""Precise policy edits through the demo Graph's admin API, read back by a real Graph client.

Drift tests need exact changes ("this setting of that policy"), not ``mutate``'s random ones:
each edit here goes over HTTP to ``/_demo/tenants/{tenant}/policies/...`` and is then proven
visible through Graph's own paths (object, listing, ``/assignments``, ``/settings``).
"""

from __future__ import annotations

import httpx
import pytest

from opsapp.graph import GraphError

DC = "deviceConfiguration"
SC = "settingsCatalogPolicy"
GROUP_TARGET = "#microsoft.graph.groupAssignmentTarget"


@pytest.fixture
async def admin(demo_server, demo):
    async with httpx.AsyncClient(base_url=f"{demo_server.url}/_demo/tenants/contoso") as client:
        yield client


async def _ids(client, policy_type: str) -> list[str]:
    return [p["id"] async for p in client.list_policies(policy_type)]


def _setting(definition: str, value: str, n: int = 0) -> dict:
    return {
        "id": str(n),
        "settingInstance": {
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
            "settingDefinitionId": definition,
            "choiceSettingValue": {"value": f"{definition}_{value}", "children": []},
        },
    }


async def test_patched_setting_is_visible_with_a_newer_modified_stamp(admin, make_client):
    client = make_client()
    policy_id = (await _ids(client, DC))[3]
    before = await client.get_policy(DC, policy_id)

    answer = await admin.patch(
        f"/policies/{DC}/{policy_id}", json={"passwordRequired": "drifted", "id": "ignored"}
    )

    assert answer.status_code == 200
    assert answer.json()["passwordRequired"] == "drifted"
    after = await client.get_policy(DC, policy_id)
    assert after["passwordRequired"] == "drifted"
    assert after["id"] == policy_id
    assert after["lastModifiedDateTime"] > before["lastModifiedDateTime"]
    unchanged = {
        k: v for k, v in after.items() if k not in ("passwordRequired", "lastModifiedDateTime")
    }
    assert unchanged == {k: v for k, v in before.items() if k in unchanged}
    assert (await admin.get(f"/policies/{DC}/{policy_id}")).json() == after


async def test_replaced_assignments_are_read_back_at_graphs_assignments_path(
    admin, make_client, demo
):
    client = make_client()
    policy_id = (await _ids(client, DC))[5]
    group_id = demo.tenant("contoso").data.groups.id_at(4)
    stamp_before = (await client.get_policy(DC, policy_id))["lastModifiedDateTime"]
    wanted = [
        {"target": {"@odata.type": GROUP_TARGET, "groupId": group_id}},
        {"id": "client-ids-are-replaced",
         "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}},
    ]  # fmt: skip

    answer = await admin.put(
        f"/policies/{DC}/{policy_id}/assignments", json={"assignments": wanted}
    )

    assert answer.status_code == 200
    expected = [
        {"id": f"{policy_id}_0", "target": wanted[0]["target"]},
        {"id": f"{policy_id}_1", "target": wanted[1]["target"]},
    ]
    assert answer.json() == expected
    assert await client.list_assignments(DC, policy_id) == expected
    many = await client.list_assignments_many(DC, [policy_id])  # the $batch path syncs use
    assert many[policy_id] == expected
    assert (await admin.get(f"/policies/{DC}/{policy_id}/assignments")).json() == expected
    stamp_after = (await client.get_policy(DC, policy_id))["lastModifiedDateTime"]
    assert stamp_after > stamp_before


async def test_assignments_can_be_emptied(admin, make_client):
    client = make_client()
    policy_id = (await _ids(client, DC))[1]
    answer = await admin.put(f"/policies/{DC}/{policy_id}/assignments", json={"assignments": []})
    assert answer.status_code == 200
    assert await client.list_assignments(DC, policy_id) == []


async def test_replaced_settings_are_read_back_at_graphs_settings_path(admin, make_client):
    client = make_client()
    policy_id = (await _ids(client, SC))[2]
    before = await client.get_policy(SC, policy_id)
    wanted = [
        _setting("device_vendor_msft_policy_config_defender_setting0", "2"),
        _setting("device_vendor_msft_policy_config_firewall_setting1", "0", n=1),
    ]

    answer = await admin.put(f"/policies/{SC}/{policy_id}/settings", json={"settings": wanted})

    assert answer.status_code == 200
    assert answer.json() == wanted
    assert [s async for s in client.iter_policy_settings(policy_id)] == wanted
    assert (await client.list_policy_settings_many([policy_id]))[policy_id] == wanted
    after = await client.get_policy(SC, policy_id)
    assert after["settingCount"] == 2
    assert after["lastModifiedDateTime"] > before["lastModifiedDateTime"]
    assert (await admin.get(f"/policies/{SC}/{policy_id}/settings")).json() == wanted


async def test_deleted_policy_is_404_and_gone_from_the_listing(admin, make_client):
    client = make_client()
    ids = await _ids(client, DC)
    policy_id = ids[7]

    answer = await admin.delete(f"/policies/{DC}/{policy_id}")

    assert answer.status_code == 200
    assert answer.json() == {"deleted": True}
    with pytest.raises(GraphError) as caught:
        await client.get_policy(DC, policy_id)
    assert caught.value.status == 404
    assert await _ids(client, DC) == [i for i in ids if i != policy_id]
    assert (await admin.delete(f"/policies/{DC}/{policy_id}")).status_code == 404
    assert (await admin.get(f"/policies/{DC}/{policy_id}")).status_code == 404


async def test_created_policy_appears_in_the_listing(admin, make_client):
    client = make_client()
    ids = await _ids(client, DC)
    body = {
        "@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
        "displayName": "Added by the drift test",
        "passwordRequired": True,
    }

    answer = await admin.post(f"/policies/{DC}", json=body)

    assert answer.status_code == 200
    created = answer.json()
    assert created["id"] not in ids
    assert body.items() <= created.items()
    assert created["lastModifiedDateTime"] == created["createdDateTime"]
    listed = {p["id"]: p async for p in client.list_policies(DC)}
    assert list(listed) == [*ids, created["id"]]
    assert listed[created["id"]] == created
    assert await client.get_policy(DC, created["id"]) == created
    assert await client.list_assignments(DC, created["id"]) == []


async def test_created_settings_catalog_policy_keeps_its_settings(admin, make_client):
    client = make_client()
    wanted = [_setting("device_vendor_msft_policy_config_update_setting0", "1")]
    body = {"name": "New baseline", "platforms": "windows10", "settings": wanted}

    created = (await admin.post(f"/policies/{SC}", json=body)).raise_for_status().json()

    assert created["settingCount"] == 1
    assert "settings" not in created
    assert [s async for s in client.iter_policy_settings(created["id"])] == wanted


async def test_a_drift_scenario_shows_exactly_the_four_edits(admin, make_client, demo):
    # given a first sync of device configurations
    client = make_client()
    before = {p["id"]: p async for p in client.list_policies(DC)}
    changed, reassigned, removed = list(before)[10:13]
    group_id = demo.tenant("contoso").data.groups.id_at(0)

    # when one setting, one assignment set, one deletion and one addition happen
    await admin.patch(f"/policies/{DC}/{changed}", json={"description": "edited in portal"})
    await admin.put(
        f"/policies/{DC}/{reassigned}/assignments",
        json={"assignments": [{"target": {"@odata.type": GROUP_TARGET, "groupId": group_id}}]},
    )
    await admin.delete(f"/policies/{DC}/{removed}")
    added = (await admin.post(f"/policies/{DC}", json={"displayName": "N"})).json()["id"]

    # then a second sync sees exactly those
    after = {p["id"]: p async for p in client.list_policies(DC)}
    assert set(before) - set(after) == {removed}
    assert set(after) - set(before) == {added}
    modified = {i for i in before.keys() & after.keys() if before[i] != after[i]}
    assert modified == {changed, reassigned}
    assert after[changed]["description"] == "edited in portal"
    targets = [a["target"] for a in await client.list_assignments(DC, reassigned)]
    assert targets == [{"@odata.type": GROUP_TARGET, "groupId": group_id}]


def _world(demo) -> tuple:
    data = demo.tenant("contoso").data
    return (
        data.changes,
        {k: (dict(c.overrides), list(c.created), set(c.deleted), dict(c.assignments),
             dict(c.settings)) for k, c in data.policies.items()},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("PATCH", "/policies/{dc}/{dc_id}", b"{not json", 400),
        ("PATCH", "/policies/{dc}/{dc_id}", [1, 2], 400),
        ("PATCH", "/policies/{dc}/{dc_id}", None, 400),
        ("PATCH", "/policies/{dc}/{dc_id}", {"settings": []}, 400),
        ("PATCH", "/policies/{dc}/00000000-dead-beef-0000-000000000000", {"a": 1}, 404),
        ("PATCH", "/policies/nope/{dc_id}", {"a": 1}, 404),
        ("PATCH", "/policies/groups/{dc_id}", {"a": 1}, 404),
        ("PATCH", "/policies/{sc}/{dc_id}", {"a": 1}, 404),  # id of another type
        ("GET", "/policies/{dc}/00000000-dead-beef-0000-000000000000", None, 404),
        ("DELETE", "/policies/nope/{dc_id}", None, 404),
        ("POST", "/policies/nope", {"displayName": "x"}, 404),
        ("POST", "/policies/{dc}", "a string", 400),
        ("POST", "/policies/{dc}", {"displayName": "x", "settings": []}, 400),
        ("POST", "/policies/{dc}", {"displayName": "x", "assignments": []}, 400),
        ("POST", "/policies/{sc}", {"name": "x", "settings": "nope"}, 400),
        ("PUT", "/policies/{dc}/{dc_id}/assignments", {"assignments": "nope"}, 400),
        ("PUT", "/policies/{dc}/{dc_id}/assignments", {"assignments": [1]}, 400),
        ("PUT", "/policies/{dc}/{dc_id}/assignments", [], 400),
        ("PUT", "/policies/{dc}/{dc_id}/assignments", {"other": []}, 400),
        ("PUT", "/policies/roleScopeTag/{tag_id}/assignments", {"assignments": []}, 400),
        ("PUT", "/policies/{dc}/00000000-dead-beef-0000-000000000000/assignments",
         {"assignments": []}, 404),
        ("PUT", "/policies/{sc}/{sc_id}/settings", {"settings": {"a": 1}}, 400),
        ("PUT", "/policies/{sc}/{sc_id}/settings", {}, 400),
        ("PUT", "/policies/{dc}/{dc_id}/settings", {"settings": []}, 400),  # not settings catalog
        ("PUT", "/policies/{sc}/{dc_id}/settings", {"settings": []}, 404),
    ],
)  # fmt: skip
async def test_bad_input_is_refused_and_changes_nothing(admin, demo, method, path, body, status):
    data = demo.tenant("contoso").data
    path = path.format(
        dc=DC, sc=SC, dc_id=data.policies[DC].id_at(0), sc_id=data.policies[SC].id_at(0),
        tag_id=data.policies["roleScopeTag"].id_at(0),
    )  # fmt: skip
    before = _world(demo)
    kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
    if body is None:
        kwargs = {}

    answer = await admin.request(method, path, **kwargs)

    assert answer.status_code == status
    assert "error" in answer.json()
    assert _world(demo) == before


async def test_unknown_tenant_is_404(demo_server, demo):
    async with httpx.AsyncClient(base_url=demo_server.url) as client:
        data = demo.tenant("contoso").data
        answer = await client.get(
            f"/_demo/tenants/nowhere/policies/{DC}/{data.policies[DC].id_at(0)}"
        )
        assert answer.status_code == 404
        created = await client.post(f"/_demo/tenants/nowhere/policies/{DC}", json={"a": 1})
        assert created.status_code == 404


async def test_tenant_is_addressed_by_entra_id_too(demo_server, demo, make_client):
    entra = demo.tenant("contoso").tenant.entra_tenant_id
    policy_id = demo.tenant("contoso").data.policies[DC].id_at(0)
    async with httpx.AsyncClient(base_url=demo_server.url) as client:
        answer = await client.patch(
            f"/_demo/tenants/{entra}/policies/{DC}/{policy_id}", json={"displayName": "Via id"}
        )
    assert answer.status_code == 200
    assert (await make_client().get_policy(DC, policy_id))["displayName"] == "Via id"


def test_python_api_mirrors_the_http_routes(demo):
    policy_id = demo.tenant("contoso").data.policies[DC].id_at(2)
    updated = demo.update_policy("contoso", DC, policy_id, {"displayName": "Py"})
    assert demo.get_policy("contoso", DC, policy_id) == updated

    assigned = demo.set_assignments("contoso", DC, policy_id, [{"target": {"x": 1}}])
    assigned[0]["target"]["x"] = 2  # answers are copies: the world is not edited by accident
    assert demo.get_assignments("contoso", DC, policy_id) == [
        {"target": {"x": 1}, "id": f"{policy_id}_0"}
    ]

    sc_id = demo.tenant("contoso").data.policies[SC].id_at(0)
    assert demo.set_policy_settings("contoso", sc_id, []) == []
    assert demo.get_settings("contoso", sc_id) == []

    created = demo.create_policy("contoso", DC, {"displayName": "Made"})
    demo.delete_policy("contoso", DC, created["id"])
    with pytest.raises(KeyError):
        demo.get_policy("contoso", DC, created["id"])
    with pytest.raises(KeyError):
        demo.delete_policy("nowhere", DC, policy_id)
    with pytest.raises(KeyError):
        demo.set_policy_settings("contoso", policy_id, [])  # not a settings-catalog id
    with pytest.raises(ValueError):
        demo.update_policy("contoso", DC, policy_id, ["not", "a", "dict"])  # type: ignore[arg-type]
