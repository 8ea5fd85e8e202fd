"""Write bodies: ``write_body`` / ``assignment_body`` on real-shaped Graph payloads of each type."""

from __future__ import annotations

import copy

import pytest

from opsapp.graph.demo import catalog
from opsapp.graph.writes import (
    READ_ONLY_KEYS,
    assignment_body,
    is_read_only,
    read_only_keys_in,
    write_body,
)
from opsapp.policy_types import POLICY_TYPES, POLICY_TYPES_BY_KEY

SC = "settingsCatalogPolicy"
CONTEXT = (
    "https://graph.microsoft.com/beta/$metadata#deviceManagement/configurationPolicies/$entity"
)

# As GET /beta/deviceManagement/configurationPolicies/{id}?$expand=settings returns it.
SETTINGS_CATALOG_POLICY = {
    "@odata.context": CONTEXT,
    "@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
    "id": "5f2c6a2e-0000-4000-8000-000000000001",
    "name": "SC - Defender baseline",
    "description": "Tamper protection on",
    "platforms": "windows10",
    "technologies": "mdm,microsoftSense",
    "createdDateTime": "2024-03-01T10:00:00Z",
    "lastModifiedDateTime": "2024-05-01T10:00:00Z",
    "settingCount": 1,
    "creationSource": None,
    "roleScopeTagIds": ["0", "7"],
    "isAssigned": True,
    "templateReference": {
        "templateId": "0f2034c6-3cd6-4ee1-bd37-f3c0693e9548_1",
        "templateFamily": "endpointSecurityAntivirus",
        "templateDisplayName": "Microsoft Defender Antivirus",
        "templateDisplayVersion": "Version 1",
    },
    "priorityMetaData": None,
    "settings@odata.context": f"{CONTEXT}/settings",
    "settings": [
        {
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting",
            "id": "0",
            "settingInstance": {
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
                "settingDefinitionId": "device_vendor_msft_defender_configuration_tamperprotection",
                "settingInstanceTemplateReference": None,
                "choiceSettingValue": {
                    "value": "device_vendor_msft_defender_configuration_tamperprotection_1",
                    "children": [],
                    "settingValueTemplateReference": None,
                },
            },
            "settingDefinitions@odata.context": f"{CONTEXT}/settings('0')/settingDefinitions",
            "settingDefinitions": [{"id": "device_vendor_msft_defender_configuration_tamper"}],
        }
    ],
}

DEVICE_CONFIGURATION = {
    "@odata.context": "https://graph.microsoft.com/beta/$metadata#deviceManagement/deviceConfigurations/$entity",
    "@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
    "id": "b7e1a1a0-0000-4000-8000-000000000002",
    "lastModifiedDateTime": "2024-05-01T10:00:00Z",
    "createdDateTime": "2024-03-01T10:00:00Z",
    "roleScopeTagIds": ["0"],
    "supportsScopeTags": True,
    "deviceManagementApplicabilityRuleOsEdition": None,
    "deviceManagementApplicabilityRuleOsVersion": None,
    "description": "Restrictions",
    "displayName": "Win - Device restrictions",
    "version": 4,
    "passwordRequired": True,
    "passwordMinimumLength": 12,
    "assignments@odata.context": "https://graph.microsoft.com/beta/$metadata#...assignments",
    "assignments": [{"id": "x_0", "target": {"@odata.type": "#microsoft.graph.allDevices"}}],
}


def test_read_only_vocabulary():
    for key in ("id", "createdDateTime", "lastModifiedDateTime", "version", "settingCount",
                "isAssigned", "supportsScopeTags", "priorityMetaData", "creationSource",
                "assignments", "settingDefinitions", "@odata.context", "@odata.etag"):  # fmt: skip
        assert is_read_only(key), key
    for key in ("@odata.type", "displayName", "roleScopeTagIds", "settings",
                "templateReference", "deviceManagementApplicabilityRuleOsEdition",
                "roleScopeTagIds@odata.type"):  # fmt: skip
        assert not is_read_only(key), key
    assert is_read_only("@odata.nextLink") and is_read_only("settings@odata.context")
    assert "@odata.type" not in READ_ONLY_KEYS
    assert read_only_keys_in({"version": 1, "displayName": "a", "id": "x"}) == ["version", "id"]


def test_settings_catalog_body_keeps_settings_and_template_id_only():
    original = copy.deepcopy(SETTINGS_CATALOG_POLICY)

    body = write_body(SC, SETTINGS_CATALOG_POLICY)

    assert body == {
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
        "name": "SC - Defender baseline",
        "description": "Tamper protection on",
        "platforms": "windows10",
        "technologies": "mdm,microsoftSense",
        "roleScopeTagIds": ["0", "7"],
        "templateReference": {"templateId": "0f2034c6-3cd6-4ee1-bd37-f3c0693e9548_1"},
        "settings": [
            {
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting",
                "settingInstance": SETTINGS_CATALOG_POLICY["settings"][0]["settingInstance"],
            }
        ],
    }
    assert SETTINGS_CATALOG_POLICY == original  # the input is not touched
    body["settings"][0]["settingInstance"]["settingDefinitionId"] = "changed"
    assert SETTINGS_CATALOG_POLICY == original  # a deep copy


def test_device_configuration_body():
    body = write_body("deviceConfiguration", DEVICE_CONFIGURATION)
    assert body == {
        "@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
        "roleScopeTagIds": ["0"],
        "deviceManagementApplicabilityRuleOsEdition": None,
        "deviceManagementApplicabilityRuleOsVersion": None,
        "description": "Restrictions",
        "displayName": "Win - Device restrictions",
        "passwordRequired": True,
        "passwordMinimumLength": 12,
    }


def test_scope_tags_can_be_left_out():
    body = write_body("deviceConfiguration", DEVICE_CONFIGURATION, include_scope_tags=False)
    assert "roleScopeTagIds" not in body
    assert body["displayName"] == "Win - Device restrictions"
    assert "roleScopeTagIds" not in write_body(
        SC, SETTINGS_CATALOG_POLICY, include_scope_tags=False
    )


@pytest.mark.parametrize("ptype", [t.key for t in POLICY_TYPES])
def test_every_demo_shape_becomes_a_clean_body(ptype):
    policy = catalog.make_policy(key=ptype, seed=3, index=7, object_id="id-7")
    policy["@odata.context"] = "https://graph.microsoft.com/beta/$metadata#x/$entity"

    body = write_body(ptype, policy)

    assert body["@odata.type"] == policy["@odata.type"]
    assert not read_only_keys_in(body)
    name_field = "name" if ptype == SC else "displayName"
    assert body[name_field] == policy[name_field]
    dropped = set(policy) - set(body)
    assert dropped == {k for k in policy if is_read_only(k)}
    assert {"id", "createdDateTime", "lastModifiedDateTime", "@odata.context"} <= dropped


def test_unknown_type_is_refused():
    with pytest.raises(ValueError, match="unsupported policy type"):
        write_body("mobileApp", {})
    assert POLICY_TYPES_BY_KEY[SC].update_method == "PUT"
    assert {t.update_method for t in POLICY_TYPES if t.key != SC} == {"PATCH"}


# -- assignments ----------------------------------------------------------------------------

GROUP = "#microsoft.graph.groupAssignmentTarget"
EXCLUDE = "#microsoft.graph.exclusionGroupAssignmentTarget"

# As GET .../configurationPolicies/{id}/assignments returns them.
ASSIGNMENTS = [
    {
        "id": "pol_g1",
        "source": "direct",
        "sourceId": "pol",
        "target": {
            "@odata.type": GROUP,
            "deviceAndAppManagementAssignmentFilterId": None,
            "deviceAndAppManagementAssignmentFilterType": "none",
            "groupId": "g1",
        },
    },
    {
        "id": "pol_g2",
        "source": "direct",
        "sourceId": "pol",
        "target": {"@odata.type": EXCLUDE, "groupId": "g2"},
    },
    {
        "@odata.type": "#microsoft.graph.deviceConfigurationAssignment",
        "id": "pol_all",
        "intent": "apply",
        "source": "direct",
        "sourceId": "pol",
        "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"},
    },
]


def test_assignment_body_drops_server_keys():
    body = assignment_body(ASSIGNMENTS)
    assert body == [
        {"target": ASSIGNMENTS[0]["target"]},
        {"target": {"@odata.type": EXCLUDE, "groupId": "g2"}},
        {
            "@odata.type": "#microsoft.graph.deviceConfigurationAssignment",
            "intent": "apply",
            "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"},
        },
    ]
    body[0]["target"]["groupId"] = "changed"
    assert ASSIGNMENTS[0]["target"]["groupId"] == "g1"  # deep copies


def test_group_map_rewrites_drops_and_leaves_unknown_groups():
    body = assignment_body(ASSIGNMENTS, group_map={"g1": None, "g2": "g2-new"})
    assert [a["target"].get("groupId") for a in body] == ["g2-new", None]
    assert body[1]["target"]["@odata.type"] == "#microsoft.graph.allDevicesAssignmentTarget"

    unmapped = assignment_body(ASSIGNMENTS, group_map={"other": None})
    assert [a["target"].get("groupId") for a in unmapped] == ["g1", "g2", None]
    assert ASSIGNMENTS[0]["target"]["groupId"] == "g1"


def test_assignment_body_of_nothing():
    assert assignment_body([]) == []
    with pytest.raises(TypeError):
        assignment_body(["not-an-object"])  # type: ignore[list-item]
