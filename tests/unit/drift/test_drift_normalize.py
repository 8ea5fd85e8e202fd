"""drift.normalize: flat setting paths of each policy family, with volatile keys, order and
presentation metadata removed."""

from __future__ import annotations

import random
import time

from opsapp.features.drift.normalize import VOLATILE_KEYS, normalize
from tests.unit.drift import payloads as p


def S(definition: str) -> str:  # noqa: N802 - reads like the path it builds
    return f"settings[id={definition}]"


def test_volatile_keys_are_the_documented_metadata_keys():
    for key in (
        "id",
        "version",
        "createdDateTime",
        "lastModifiedDateTime",
        "modifiedDateTime",
        "settingCount",
        "isAssigned",
        "supportsScopeTags",
        "createdBy",
        "lastModifiedBy",
        "settingInstanceTemplateReference",
        "settingValueTemplateReference",
    ):
        assert key in VOLATILE_KEYS
    # A real setting that merely looks like metadata stays.
    assert "deviceManagementApplicabilityRuleOsEdition" not in VOLATILE_KEYS
    assert "roleScopeTagIds" not in VOLATILE_KEYS  # represented as `scopeTags`, not dropped


def test_settings_catalog_paths_values_children_groups_and_collections():
    flat = normalize(p.settings_catalog_policy(), [], None)

    assert flat[f"{S(p.AV_RTM)}.value"] == f"{p.AV_RTM}_1"
    assert flat[f"{S(p.AV_CPU)}.value"] == 50
    assert flat[f"{S(p.AV_EXT)}.values"] == [".etl", ".log", ".tmp"]
    assert flat[f"{S(p.BL_STARTUP)}.value"] == f"{p.BL_STARTUP}_1"
    assert flat[f"{S(p.BL_STARTUP)}.children[id={p.BL_TPM}].value"] == f"{p.BL_TPM}_2"
    assert flat[f"{S(p.BL_STARTUP)}.children[id={p.BL_NO_TPM}].value"] == f"{p.BL_NO_TPM}_true"
    assert (
        flat[f"{S(p.AV_ASR)}.groups[0].children[id={p.ASR_OFFICE}].value"]
        == f"{p.ASR_OFFICE}_block"
    )
    rule0, rule1 = f"{S(p.FW)}.groups[0].children", f"{S(p.FW)}.groups[1].children"
    assert flat[f"{rule0}[id={p.FW_NAME}].value"] == "Block inbound SMB"
    assert flat[f"{rule0}[id={p.FW_PORTS}].values"] == ["139", "445"]
    assert flat[f"{rule1}[id={p.FW_NAME}].value"] == "Allow inbound RDP"
    assert flat[f"{rule1}[id={p.FW_ACTION}].value"] == f"{p.FW_ACTION}_1"
    # Policy-level properties and the one scope-tag leaf; nothing volatile.
    assert flat["name"] == "WIN - Endpoint baseline"
    assert flat["templateReference.templateFamily"] == "none"
    assert flat["scopeTags"] == ["0"]
    assert len([k for k in flat if k.startswith("settings[")]) == 15
    for path in flat:
        assert "@odata" not in path
        assert "TemplateReference" not in path
        assert "settingDefinitionId" not in path
        assert "[id=0]" not in path and "[id=1]" not in path
    for key in ("id", "settingCount", "isAssigned", "createdDateTime", "lastModifiedDateTime"):
        assert key not in flat
    assert list(flat) == sorted(flat)


def test_settings_catalog_secret_value_is_named_secret_value_and_state_dropped():
    flat = normalize(p.wifi_settings_catalog_policy("tok-1"))
    group = f"{S(p.WIFI)}.groups[0].children"
    assert flat[f"{group}[id={p.WIFI_PASSWORD}].secretValue"] == "tok-1"
    assert f"{group}[id={p.WIFI_PASSWORD}].value" not in flat
    assert f"{group}[id={p.WIFI_PASSWORD}].valueState" not in flat
    assert flat[f"{group}[id={p.WIFI_SSID}].value"] == "CORP-WLAN"


def test_settings_catalog_choice_collection_is_an_unordered_values_leaf_with_children():
    definition = "user_vendor_msft_policy_config_office_allowedaddins"
    child = f"{definition}_mode"
    instance = {
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingCollectionInstance",
        "settingDefinitionId": definition,
        "choiceSettingCollectionValue": [
            {"value": f"{definition}_b", "children": []},
            {"value": f"{definition}_a", "children": [p._choice(child, f"{child}_1")]},
        ],
    }
    policy = {"name": "x", "settings": [{"id": "0", "settingInstance": instance}]}
    assert normalize(policy) == {
        "name": "x",
        f"{S(definition)}.values": [f"{definition}_a", f"{definition}_b"],
        f"{S(definition)}.values[value={definition}_a].children[id={child}].value": f"{child}_1",
    }


def test_device_configuration_nested_objects_and_unordered_scalar_lists():
    flat = normalize(p.windows10_general_configuration())
    assert flat["passwordMinimumLength"] == 8
    assert flat["defenderDetectedMalwareActions.severeSeverity"] == "block"
    assert flat["windows10AppsForceUpdateSchedule.recurrence"] == "daily"
    assert flat["edgeSearchEngine.edgeSearchEngineType"] == "default"
    assert flat["defenderFileExtensionsToExclude"] == [".etl", ".log"]
    assert flat["deviceManagementApplicabilityRuleOsEdition.osEditionTypes"] == [
        "windows10Education",
        "windows10Enterprise",
    ]
    assert flat["scopeTags"] == ["0", "3"]
    # None leaves and empty lists are absent; the type annotation and metadata too.
    for gone in (
        "privacyAccessControls",
        "enterpriseCloudPrintDiscoveryMaxLimit",
        "deviceManagementApplicabilityRuleOsVersion",
        "roleScopeTagIds",
        "supportsScopeTags",
        "version",
        "edgeSearchEngine.@odata.type",
    ):
        assert gone not in flat


def test_custom_configuration_keys_oma_settings_by_uri_and_names_encrypted_values_secret():
    flat = normalize(p.windows10_custom_configuration())
    cortana = f"omaSettings[omaUri={p.CORTANA}]"
    wlan = f"omaSettings[omaUri={p.WLAN_URI}]"
    proxy = f"omaSettings[omaUri={p.PROXY_URI}]"
    assert flat[f"{cortana}.value"] == 0
    assert flat[f"{cortana}.displayName"] == "Disable Cortana"
    assert flat[f"{wlan}.value"] == p.WLAN_XML_B64
    assert flat[f"{wlan}.fileName"] == "corp-wlan.xml"
    assert flat[f"{proxy}.secretValue"] == p.PROXY_SECRET
    assert f"{proxy}.value" not in flat
    assert f"{cortana}.omaUri" not in flat  # the identity lives in the path


def test_compliance_scheduled_actions_keyed_by_rule_and_action_type():
    flat = normalize(p.windows10_compliance_policy())
    rule = "scheduledActionsForRule[ruleName=PasswordRequired].scheduledActionConfigurations"
    assert flat[f"{rule}[actionType=block].gracePeriodHours"] == 12
    assert flat[f"{rule}[actionType=block].notificationTemplateId"] == ""
    assert flat[f"{rule}[actionType=notification].notificationMessageCCList"] == [p.GROUP_PILOT]
    assert f"{rule}[actionType=block].notificationMessageCCList" not in flat  # empty list
    # Build ranges have no identity key: sorted by content, keyed by position.
    assert flat["validOperatingSystemBuildRanges[0].description"] == "Win 10 22H2"
    assert flat["validOperatingSystemBuildRanges[1].lowestVersion"] == "10.0.22631.0"
    assert not [k for k in flat if "@odata" in k or k.endswith(".id")]


def test_compliance_duplicate_action_types_fall_back_to_unordered_positions():
    policy = p.windows10_compliance_policy()
    actions = policy["scheduledActionsForRule"][0]["scheduledActionConfigurations"]
    second = dict(actions[1], id="4f5a6b7c-8d9e-4f0a-1b2c-3d4e5f6a7b8c", gracePeriodHours=72)
    actions.append(second)
    flat = normalize(policy)
    rule = "scheduledActionsForRule[ruleName=PasswordRequired].scheduledActionConfigurations"
    assert [k for k in flat if k.startswith(rule) and k.endswith("gracePeriodHours")] == [
        f"{rule}[0].gracePeriodHours",
        f"{rule}[1].gracePeriodHours",
        f"{rule}[2].gracePeriodHours",
    ]
    assert flat[f"{rule}[0].actionType"] == "block"  # canonical order: actionType sorts first
    assert [flat[f"{rule}[{i}].gracePeriodHours"] for i in (1, 2)] == [24, 72]


def test_admin_template_keyed_by_definition_and_presentation_ids_metadata_dropped():
    definition = f"definitionValues[definition={p.DEF_HOMEPAGE}]"
    smartscreen = f"definitionValues[definition={p.DEF_SMARTSCREEN}]"
    assert normalize(p.admin_template_policy()) == {
        f"{definition}.configurationType": "policy",
        f"{definition}.enabled": True,
        f"{definition}.presentationValues[presentation={p.PRES_HOMEPAGE}].value": (
            "https://intranet.contoso.com"
        ),
        f"{smartscreen}.configurationType": "policy",
        f"{smartscreen}.enabled": True,
        "description": "",
        "displayName": "WIN - Edge admin template",
        "policyConfigurationIngestionType": "builtIn",
        "scopeTags": ["0"],
    }


def test_admin_template_bind_form_normalizes_like_the_expanded_form():
    assert normalize(p.admin_template_policy_bind_form()) == normalize(p.admin_template_policy())


def test_assignments_become_target_keyed_leaves():
    flat = normalize({"displayName": "x"}, p.assignments(), ["0"])
    assert {k: v for k, v in flat.items() if k.startswith("assignments[")} == {
        "assignments[allDevices].assigned": True,
        f"assignments[exclude:{p.GROUP_EXCLUDED}].assigned": True,
        f"assignments[exclude:{p.GROUP_EXCLUDED}].intent": "apply",
        f"assignments[include:{p.GROUP_PILOT}].assigned": True,
        f"assignments[include:{p.GROUP_PILOT}].filter": f"include:{p.FILTER_CORP}",
        f"assignments[include:{p.GROUP_PILOT}].intent": "apply",
    }


def test_all_licensed_users_and_other_target_types():
    assigned = [
        {"id": "a", "target": {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}},
        {
            "id": "b",
            "target": {
                "@odata.type": "#microsoft.graph.configurationManagerCollectionAssignmentTarget",
                "collectionId": "SMS00001",
            },
        },
    ]
    assert normalize({}, assigned, []) == {
        "assignments[allLicensedUsers].assigned": True,
        "assignments[configurationManagerCollectionAssignmentTarget:SMS00001].assigned": True,
    }


def test_include_assignments_false_and_payload_fallbacks():
    payload = p.windows10_general_configuration()
    payload["assignments"] = p.assignments()  # captured with $expand=assignments
    with_expanded = normalize(payload)
    assert with_expanded["assignments[allDevices].assigned"] is True
    assert with_expanded["scopeTags"] == ["0", "3"]  # from roleScopeTagIds
    without = normalize(payload, p.assignments(), ["7"], include_assignments=False)
    assert not [k for k in without if k.startswith("assignments")]
    assert without["scopeTags"] == ["7"]  # the argument wins over roleScopeTagIds


def test_output_is_deterministic_and_independent_of_input_order():
    policy = p.settings_catalog_policy()
    shuffled = p.settings_catalog_policy()
    random.Random(7).shuffle(shuffled["settings"])
    assigned = p.assignments()
    random.Random(3).shuffle(assigned)
    first = normalize(policy, p.assignments(), ["0"])
    assert list(normalize(shuffled, assigned, ["0"]).items()) == list(first.items())


def test_fifty_setting_policy_normalizes_in_well_under_a_millisecond():
    instances = []
    for i in range(50):
        children = [p._simple(f"child_{i}", "Integer", i)] if i % 3 == 0 else None
        instances.append(p._choice(f"device_vendor_msft_policy_config_x_{i}", f"x_{i}_1", children))
    policy = p.settings_catalog_policy()
    policy["settings"] = p._wrap(instances)
    assigned = p.assignments()
    assert len(normalize(policy, assigned)) > 50
    runs = 200
    start = time.perf_counter()
    for _ in range(runs):
        normalize(policy, assigned)
    per_call = (time.perf_counter() - start) / runs
    assert per_call < 0.002  # ~0.15 ms measured; generous for slow CI machines
