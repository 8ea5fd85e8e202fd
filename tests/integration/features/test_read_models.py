"""Inventory, policy and group read models on both dialects: search (with LIKE wildcards typed
by the user), filters, sorting both ways, paging, removed rows hidden, tenants kept apart, and
policy payloads shown with their secrets masked."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from opsapp.db import session_scope
from opsapp.features.groups.queries import group_type_choices, list_groups
from opsapp.features.inventory.queries import inventory_type_choices, list_inventory_items
from opsapp.features.policies.queries import (
    PAYLOAD_CAP,
    get_policy_detail,
    list_policies,
    mask_secret_values,
)
from opsapp.models import DirectoryGroup, InventoryItem, Policy, PolicyVersion
from tests.factories import make_tenant

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _add(engine, *rows):
    with session_scope(engine) as s:
        s.add_all(rows)
    return rows


def _names(page):
    return [r["display_name"] for r in page.rows]


@pytest.fixture
def inventory(engine):
    mine, theirs = make_tenant(engine), make_tenant(engine)

    def item(tenant, name, policy_type, days=None, **kw):
        modified = T0 + timedelta(days=days) if days is not None else None
        return InventoryItem(
            tenant_id=tenant.id,
            policy_type=policy_type,
            graph_id=f"g-{name}",
            display_name=name,
            last_modified=modified,
            content_hash="h",
            **kw,
        )

    _add(
        engine,
        item(mine, "beta 100% compliant", "deviceCompliancePolicy", days=3),
        item(mine, "Alpha baseline", "deviceConfiguration", days=1),
        item(mine, "Gamma_test", "settingsCatalogPolicy", days=2),
        item(mine, "delta", "deviceConfiguration"),
        item(mine, "Alpha removed", "deviceConfiguration", days=4, removed_at=T0),
        item(theirs, "Alpha of another tenant", "deviceConfiguration", days=5),
    )
    return mine, theirs


def test_inventory_search_is_case_insensitive_and_takes_wildcards_literally(engine, inventory):
    mine, _ = inventory
    with session_scope(engine) as s:

        def search(text):
            return _names(list_inventory_items(s, tenant_id=mine.id, search=text))

        assert search("ALPHA") == ["Alpha baseline"]  # not removed, not the other tenant's
        assert search("%") == ["beta 100% compliant"]
        assert search("100%") == ["beta 100% compliant"]
        assert search("_") == ["Gamma_test"]
        assert search("a_e") == []  # "_" is not "any character" ("baseline" has "ase")
        assert (
            search("  ")
            == search("")
            == ["Alpha baseline", "beta 100% compliant", "delta", "Gamma_test"]
        )


def test_inventory_filter_sort_and_rows(engine, inventory):
    mine, _ = inventory
    with session_scope(engine) as s:

        def names(**kw):
            return _names(list_inventory_items(s, tenant_id=mine.id, **kw))

        assert names(policy_type="deviceConfiguration") == ["Alpha baseline", "delta"]
        assert names(descending=True) == [
            "Gamma_test",
            "delta",
            "beta 100% compliant",
            "Alpha baseline",
        ]
        # Items Graph gave no modification time sort last in both directions.
        assert names(sort="last_modified") == [
            "Alpha baseline",
            "Gamma_test",
            "beta 100% compliant",
            "delta",
        ]
        assert names(sort="last_modified", descending=True) == [
            "beta 100% compliant",
            "Gamma_test",
            "Alpha baseline",
            "delta",
        ]
        # By the label shown: Compliance policy < Device configuration < Settings catalog.
        assert names(sort="policy_type") == [
            "beta 100% compliant",
            "Alpha baseline",
            "delta",
            "Gamma_test",
        ]
        assert names(sort="no_such_column; drop table") == names()
        row = list_inventory_items(s, tenant_id=mine.id, search="alpha").rows[0]
    assert row == {
        "id": row["id"],
        "display_name": "Alpha baseline",
        "policy_type": "deviceConfiguration",
        "policy_type_label": "Device configuration",
        "graph_id": "g-Alpha baseline",
        "last_modified": (T0 + timedelta(days=1)).isoformat(),
        "observed_at": row["observed_at"],
    }
    json.dumps(row)
    assert {
        "value": "deviceConfiguration",
        "label": "Device configuration",
    } in inventory_type_choices()


def test_inventory_paging_counts_present_items_only(engine, inventory):
    mine, _ = inventory
    with session_scope(engine) as s:
        first = list_inventory_items(s, tenant_id=mine.id, page=1, page_size=3)
        second = list_inventory_items(s, tenant_id=mine.id, page=2, page_size=3)
        beyond = list_inventory_items(s, tenant_id=mine.id, page=3, page_size=3)
    assert (first.total, first.has_next, len(first.rows)) == (4, True, 3)
    assert (second.has_next, _names(second)) == (False, ["Gamma_test"])
    assert second.to_dict()["first_index"] == 4 and second.to_dict()["has_prev"]
    assert (beyond.rows, beyond.has_next, beyond.total) == ([], False, 4)


WIFI_PAYLOAD = {
    "@odata.type": "#microsoft.graph.windowsWifiConfiguration",
    "ssid": "corp",
    "preSharedKey": "hunter2-wifi",
    "preSharedKeyIsSet": True,
    "proxy": {"user": "svc", "password": "p@ss", "client_secret": ""},
    "passwordRequired": True,
    "passwordMinimumLength": 8,
    "settings": [
        {
            "settingDefinitionId": "vendor_msft_thing",
            "simpleSettingValue": {
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationSecretSettingValue",
                "value": "s3cret-value",
            },
        }
    ],
    "credentials": {"username": "admin", "value": "xyz"},
}


def test_mask_secret_values_masks_strings_under_secret_keys_and_keeps_settings():
    masked = mask_secret_values(WIFI_PAYLOAD)
    assert masked["preSharedKey"] == masked["proxy"]["password"] == "[redacted]"
    assert masked["settings"][0]["simpleSettingValue"]["value"] == "[redacted]"
    assert masked["credentials"] == {"username": "[redacted]", "value": "[redacted]"}
    assert masked["proxy"]["client_secret"] == ""  # empty: shows "not set", reveals nothing
    assert masked["passwordRequired"] is True and masked["passwordMinimumLength"] == 8
    assert masked["preSharedKeyIsSet"] is True and masked["ssid"] == "corp"
    assert WIFI_PAYLOAD["preSharedKey"] == "hunter2-wifi"  # the input is not changed


@pytest.fixture
def policies(engine):
    mine, theirs = make_tenant(engine), make_tenant(engine)
    wifi = Policy(
        tenant_id=mine.id,
        policy_type="deviceConfiguration",
        graph_id="w",
        display_name="Wi-Fi corp",
    )
    empty = Policy(
        tenant_id=mine.id, policy_type="roleScopeTag", graph_id="e", display_name="Empty 50%"
    )
    gone = Policy(
        tenant_id=mine.id,
        policy_type="deviceConfiguration",
        graph_id="r",
        display_name="Gone",
        removed_at=T0,
    )
    other = Policy(
        tenant_id=theirs.id,
        policy_type="deviceConfiguration",
        graph_id="o",
        display_name="Wi-Fi theirs",
    )
    _add(engine, wifi, empty, gone, other)
    v1 = PolicyVersion(
        policy_id=wifi.id,
        tenant_id=mine.id,
        version_number=1,
        content_hash="a" * 64,
        payload={"ssid": "old"},
        captured_at=T0,
    )
    v2 = PolicyVersion(
        policy_id=wifi.id,
        tenant_id=mine.id,
        version_number=2,
        content_hash="b" * 64,
        payload=WIFI_PAYLOAD,
        assignments=[{"target": 1}, {"target": 2}],
        scope_tags=["0", "7"],
        captured_at=T0 + timedelta(days=1),
    )
    _add(engine, v1, v2)
    with session_scope(engine) as s:
        row = s.get(Policy, wifi.id)
        row.current_version_id = v2.id
        s.add(row)
    return mine, theirs, wifi, gone, other


def test_list_policies_counts_versions_and_hides_removed_and_foreign(engine, policies):
    mine, _, wifi, *_ = policies
    with session_scope(engine) as s:
        page = list_policies(s, tenant_id=mine.id)
        assert [
            (r["display_name"], r["version_count"], r["current_version_number"]) for r in page.rows
        ] == [
            ("Empty 50%", 0, None),
            ("Wi-Fi corp", 2, 2),
        ]
        assert page.total == 2 and not page.has_next
        assert _names(list_policies(s, tenant_id=mine.id, search="50%")) == ["Empty 50%"]
        assert _names(list_policies(s, tenant_id=mine.id, descending=True)) == [
            "Wi-Fi corp",
            "Empty 50%",
        ]
        assert _names(list_policies(s, tenant_id=mine.id, policy_type="roleScopeTag")) == [
            "Empty 50%"
        ]
        by_type = list_policies(s, tenant_id=mine.id, sort="policy_type", page_size=1)
        assert _names(by_type) == ["Wi-Fi corp"] and by_type.has_next and by_type.total == 2
    assert page.rows[1]["policy_type_label"] == "Device configuration"
    json.dumps(page.to_dict())


def test_policy_detail_lists_versions_newest_first_with_masked_payloads(engine, policies):
    mine, theirs, wifi, gone, other = policies
    with session_scope(engine) as s:
        detail = get_policy_detail(s, tenant_id=mine.id, policy_id=wifi.id)
        assert get_policy_detail(s, tenant_id=mine.id, policy_id=other.id) is None
        assert get_policy_detail(s, tenant_id=theirs.id, policy_id=wifi.id) is None
        assert get_policy_detail(s, tenant_id=mine.id, policy_id=987654) is None
        assert get_policy_detail(s, tenant_id=mine.id, policy_id=gone.id)["removed"] is True
    assert detail["removed"] is False and detail["graph_id"] == "w"
    newest, oldest = detail["versions"]
    assert (newest["version_number"], newest["is_current"], oldest["is_current"]) == (
        2,
        True,
        False,
    )
    assert newest["content_hash_short"] == "b" * 12
    assert (newest["assignment_count"], newest["scope_tags"]) == (2, ["0", "7"])
    text = newest["payload_json"]
    assert "hunter2-wifi" not in text and "p@ss" not in text and "s3cret-value" not in text
    assert json.loads(text)["preSharedKey"] == "[redacted]"
    assert text.index('"passwordMinimumLength"') < text.index('"preSharedKey"')  # sorted keys
    assert '\n  "ssid": "corp"' in text  # indent 2
    json.dumps(detail)


def test_huge_payloads_are_truncated_with_a_marker(engine, policies):
    mine, _, wifi, *_ = policies
    _add(
        engine,
        PolicyVersion(
            policy_id=wifi.id,
            tenant_id=mine.id,
            version_number=3,
            content_hash="c" * 64,
            payload={f"setting{i}": "x" * 100 for i in range(400)},
        ),
    )
    with session_scope(engine) as s:
        text = get_policy_detail(s, tenant_id=mine.id, policy_id=wifi.id)["versions"][0][
            "payload_json"
        ]
    assert len(text) <= PAYLOAD_CAP and text.endswith("… (truncated)")


def test_groups_search_filter_sort_and_tenant_isolation(engine):
    mine, theirs = make_tenant(engine), make_tenant(engine)

    def group(tenant, name, group_type, members, **kw):
        return DirectoryGroup(
            tenant_id=tenant.id,
            graph_id=name,
            display_name=name,
            group_type=group_type,
            member_count=members,
            **kw,
        )

    _add(
        engine,
        group(mine, "Sales_EU", "microsoft365", 40),
        group(mine, "admins", "security", 3),
        group(mine, "Unknown size", "distribution", None),
        group(mine, "Old admins", "security", 9, removed_at=T0),
        group(theirs, "admins elsewhere", "security", 1),
    )
    with session_scope(engine) as s:

        def names(**kw):
            return _names(list_groups(s, tenant_id=mine.id, **kw))

        assert names() == ["admins", "Sales_EU", "Unknown size"]
        assert names(search="ADMIN") == ["admins"]
        assert names(search="_") == ["Sales_EU"]
        assert names(group_type="security") == ["admins"]
        assert names(sort="member_count") == ["admins", "Sales_EU", "Unknown size"]
        assert names(sort="member_count", descending=True) == ["Sales_EU", "admins", "Unknown size"]
        # Labels: Distribution < Microsoft 365 < Security.
        assert names(sort="group_type") == ["Unknown size", "Sales_EU", "admins"]
        page = list_groups(s, tenant_id=mine.id, page=2, page_size=2)
    assert (_names(page), page.total, page.has_next) == (["Unknown size"], 3, False)
    row = page.rows[0]
    assert (row["group_type_label"], row["member_count"]) == ("Distribution", None)
    assert {"value": "microsoft365", "label": "Microsoft 365"} in group_type_choices()
