"""drift.diff: only real setting changes are reported, with masked values and a raw-value
fingerprint."""

from __future__ import annotations

import json
import re

from opsapp.features.drift.diff import Change, Diff, compare, diff, fingerprint_of, side_by_side
from opsapp.features.drift.normalize import normalize
from opsapp.features.drift.secrets import BLOB_MASK, SECRET_MASK
from tests.unit.drift import payloads as p

NEW_STAMP = "2025-01-01T00:00:00.0000000Z"
CC_RULE = "scheduledActionsForRule[ruleName=PasswordRequired].scheduledActionConfigurations"


def S(definition: str) -> str:  # noqa: N802
    return f"settings[id={definition}]"


def v(payload: dict, assigned: list[dict] | None = None, tags: list[str] | None = None) -> dict:
    return p.version(payload, assigned, tags)


def restamp(obj, parent: str = ""):
    """Every volatile key changed at every depth: ids, stamps, versions, OData annotations.
    (A referenced definition/presentation keeps its id: that is the setting's identity.)"""
    if isinstance(obj, list):
        return [restamp(x, parent) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for key, value in obj.items():
        if key == "id" and isinstance(value, str) and parent not in ("definition", "presentation"):
            value = "new-" + value
        elif key in ("createdDateTime", "lastModifiedDateTime", "modifiedDateTime"):
            value = NEW_STAMP
        elif key in ("version", "settingCount"):
            value = 99
        elif key in ("isAssigned", "supportsScopeTags"):
            value = not value
        elif key == "@odata.context":
            value = value + "/v2"
        out[key] = restamp(value, key)
    out["@odata.etag"] = 'W/"JzQ0Ow=="'
    return out


# --- nothing changed -------------------------------------------------------------------------


def test_volatile_only_changes_are_no_drift_for_every_family():
    for build in (
        p.settings_catalog_policy,
        p.wifi_settings_catalog_policy,
        p.windows10_general_configuration,
        p.windows10_custom_configuration,
        p.windows10_compliance_policy,
        p.admin_template_policy,
    ):
        old = v(build())
        new = v(restamp(build()), restamp(p.assignments()))
        result = compare(old, new)
        assert result.changed is False, (build.__name__, result.paths)
        assert result.changes == () and result.paths == [] and result.fingerprint == ""


def test_settings_renumbered_and_template_references_changed_is_no_drift():
    new = p.settings_catalog_policy()
    for index, item in enumerate(reversed(new["settings"])):
        item["id"] = str(index)
        item["settingInstance"]["settingInstanceTemplateReference"] = {
            "settingInstanceTemplateId": "00000000-aaaa-4bbb-8ccc-000000000000"
        }
    new["settings"].reverse()
    assert compare(v(p.settings_catalog_policy()), v(new)).changed is False


def test_definition_and_presentation_metadata_and_bind_form_are_no_drift():
    new = p.admin_template_policy()
    first = new["definitionValues"][0]
    first["definition"]["displayName"] = "Configure the home page URL (renamed in catalogue)"
    first["definition"]["explainText"] = "Updated help text"
    first["presentationValues"][0]["presentation"]["label"] = "Home page"
    assert compare(v(p.admin_template_policy()), v(new)).changed is False
    assert (
        compare(v(p.admin_template_policy()), v(p.admin_template_policy_bind_form())).changed
        is False
    )


def test_order_only_differences_are_no_drift():
    cases = []
    # Scalar lists, nested in an object too.
    config = p.windows10_general_configuration()
    config["defenderFileExtensionsToExclude"].reverse()
    config["deviceManagementApplicabilityRuleOsEdition"]["osEditionTypes"].reverse()
    cases.append((p.windows10_general_configuration(), config))
    # Settings list order and simple collection order (also inside a group collection).
    catalog = p.settings_catalog_policy()
    catalog["settings"].reverse()
    catalog["settings"][3]["settingInstance"]["simpleSettingCollectionValue"].reverse()
    for group in catalog["settings"][0]["settingInstance"]["groupSettingCollectionValue"]:
        group["children"].reverse()
    cases.append((p.settings_catalog_policy(), catalog))
    # definitionValues order.
    template = p.admin_template_policy()
    template["definitionValues"].reverse()
    cases.append((p.admin_template_policy(), template))
    # omaSettings order.
    custom = p.windows10_custom_configuration()
    custom["omaSettings"].reverse()
    cases.append((p.windows10_custom_configuration(), custom))
    # Scheduled actions and build ranges (the latter without an identity key).
    compliance = p.windows10_compliance_policy()
    compliance["scheduledActionsForRule"][0]["scheduledActionConfigurations"].reverse()
    compliance["validOperatingSystemBuildRanges"].reverse()
    cases.append((p.windows10_compliance_policy(), compliance))
    for old, new in cases:
        result = compare(v(old), v(new))
        assert result.changed is False, result.paths
    # Assignment order and scope tag order.
    reordered = list(reversed(p.assignments()))
    assert (
        compare(v(p.settings_catalog_policy(), tags=["0", "3"]),
                v(p.settings_catalog_policy(), reordered, ["3", "0"])).changed
        is False
    )  # fmt: skip


def test_absent_null_and_empty_list_are_the_same():
    old = p.windows10_general_configuration()
    new = p.windows10_general_configuration()
    del new["privacyAccessControls"]  # was []
    new["edgeHomeButtonConfiguration"] = None  # was absent
    del new["enterpriseCloudPrintDiscoveryMaxLimit"]  # was None
    assert compare(v(old), v(new)).changed is False


# --- real changes ----------------------------------------------------------------------------


def test_one_setting_change_is_exactly_that_path():
    new = p.windows10_general_configuration()
    new["passwordMinimumLength"] = 12
    new["lastModifiedDateTime"] = NEW_STAMP
    new["version"] = 8
    result = compare(v(p.windows10_general_configuration()), v(new))
    assert result.changes == (Change("passwordMinimumLength", 8, 12),)
    assert result.changes[0].kind == "changed"
    assert result.changes[0].to_json() == {
        "path": "passwordMinimumLength",
        "old": 8,
        "new": 12,
        "kind": "changed",
    }
    assert re.fullmatch(r"[0-9a-f]{64}", result.fingerprint)


def test_nested_object_change_and_scalar_list_member_change():
    new = p.windows10_general_configuration()
    new["defenderDetectedMalwareActions"]["lowSeverity"] = "quarantine"
    new["defenderFileExtensionsToExclude"].append(".tmp")
    result = compare(v(p.windows10_general_configuration()), v(new))
    assert [c.to_json() for c in result.changes] == [
        {
            "path": "defenderDetectedMalwareActions.lowSeverity",
            "old": "clean",
            "new": "quarantine",
            "kind": "changed",
        },
        {
            "path": "defenderFileExtensionsToExclude",
            "old": [".etl", ".log"],
            "new": [".etl", ".log", ".tmp"],
            "kind": "changed",
        },
    ]


def test_settings_catalog_value_child_and_group_child_changes():
    new = p.settings_catalog_policy()
    by_def = {
        s["settingInstance"]["settingDefinitionId"]: s["settingInstance"] for s in new["settings"]
    }
    by_def[p.AV_RTM]["choiceSettingValue"]["value"] = f"{p.AV_RTM}_0"
    by_def[p.BL_STARTUP]["choiceSettingValue"]["children"][0]["choiceSettingValue"]["value"] = (
        f"{p.BL_TPM}_0"
    )
    rdp = by_def[p.FW]["groupSettingCollectionValue"][1]["children"]
    rdp[3]["simpleSettingCollectionValue"][0]["value"] = "3390"
    result = compare(v(p.settings_catalog_policy()), v(new))
    assert [(c.path, c.old, c.new) for c in result.changes] == [
        (f"{S(p.BL_STARTUP)}.children[id={p.BL_TPM}].value", f"{p.BL_TPM}_2", f"{p.BL_TPM}_0"),
        (f"{S(p.AV_RTM)}.value", f"{p.AV_RTM}_1", f"{p.AV_RTM}_0"),
        (f"{S(p.FW)}.groups[1].children[id={p.FW_PORTS}].values", ["3389"], ["3390"]),
    ]


def test_settings_catalog_setting_added_and_removed():
    new = p.settings_catalog_policy()
    removed = new["settings"].pop(1)  # avgcpuloadfactor
    assert removed["settingInstance"]["settingDefinitionId"] == p.AV_CPU
    added = "device_vendor_msft_policy_config_defender_allowcloudprotection"
    new["settings"].append({"id": "9", "settingInstance": p._choice(added, f"{added}_1")})
    result = compare(v(p.settings_catalog_policy()), v(new))
    assert [c.to_json() for c in result.changes] == [
        {"path": f"{S(added)}.value", "old": None, "new": f"{added}_1", "kind": "added"},
        {"path": f"{S(p.AV_CPU)}.value", "old": 50, "new": None, "kind": "removed"},
    ]


def test_compliance_grace_period_change():
    new = p.windows10_compliance_policy()
    new["scheduledActionsForRule"][0]["scheduledActionConfigurations"][0]["gracePeriodHours"] = 0
    result = compare(v(p.windows10_compliance_policy()), v(new))
    assert result.changes == (Change(f"{CC_RULE}[actionType=block].gracePeriodHours", 12, 0),)


def test_admin_template_enabled_and_presentation_value_change():
    new = p.admin_template_policy()
    new["definitionValues"][0]["presentationValues"][0]["value"] = "https://portal.contoso.com"
    new["definitionValues"][1]["enabled"] = False
    result = compare(v(p.admin_template_policy()), v(new))
    home = f"definitionValues[definition={p.DEF_HOMEPAGE}]"
    assert [(c.path, c.old, c.new) for c in result.changes] == [
        (
            f"{home}.presentationValues[presentation={p.PRES_HOMEPAGE}].value",
            "https://intranet.contoso.com",
            "https://portal.contoso.com",
        ),
        (f"definitionValues[definition={p.DEF_SMARTSCREEN}].enabled", True, False),
    ]


def test_assignment_added_removed_and_filter_changed():
    base = p.assignments()
    new = p.assignments()
    new[0]["target"]["deviceAndAppManagementAssignmentFilterId"] = p.FILTER_KIOSK
    new[0]["target"]["deviceAndAppManagementAssignmentFilterType"] = "exclude"
    del new[1]  # the exclusion
    new.append(
        {
            "id": f"{p.POLICY_ID}_{p.GROUP_NEW}",
            "source": "direct",
            "sourceId": p.POLICY_ID,
            "intent": "apply",
            "target": {
                "@odata.type": "#microsoft.graph.groupAssignmentTarget",
                "deviceAndAppManagementAssignmentFilterId": None,
                "deviceAndAppManagementAssignmentFilterType": "none",
                "groupId": p.GROUP_NEW,
            },
        }
    )
    result = compare(v(p.settings_catalog_policy(), base), v(p.settings_catalog_policy(), new))
    assert [c.to_json() for c in result.changes] == [
        {
            "path": f"assignments[exclude:{p.GROUP_EXCLUDED}].assigned",
            "old": True,
            "new": None,
            "kind": "removed",
        },
        {
            "path": f"assignments[exclude:{p.GROUP_EXCLUDED}].intent",
            "old": "apply",
            "new": None,
            "kind": "removed",
        },
        {
            "path": f"assignments[include:{p.GROUP_PILOT}].filter",
            "old": f"include:{p.FILTER_CORP}",
            "new": f"exclude:{p.FILTER_KIOSK}",
            "kind": "changed",
        },
        {
            "path": f"assignments[include:{p.GROUP_NEW}].assigned",
            "old": None,
            "new": True,
            "kind": "added",
        },
        {
            "path": f"assignments[include:{p.GROUP_NEW}].intent",
            "old": None,
            "new": "apply",
            "kind": "added",
        },
    ]


def test_filter_removed_from_an_assignment():
    new = p.assignments()
    new[0]["target"]["deviceAndAppManagementAssignmentFilterType"] = "none"
    result = compare(
        v(p.windows10_general_configuration()), v(p.windows10_general_configuration(), new)
    )
    assert result.changes == (
        Change(f"assignments[include:{p.GROUP_PILOT}].filter", f"include:{p.FILTER_CORP}", None),
    )
    assert result.changes[0].kind == "removed"


def test_include_assignments_false_ignores_assignment_changes():
    old = v(p.windows10_compliance_policy())
    new = v(p.windows10_compliance_policy(), p.assignments()[:1])
    assert compare(old, new).paths == [
        "assignments[allDevices].assigned",
        f"assignments[exclude:{p.GROUP_EXCLUDED}].assigned",
        f"assignments[exclude:{p.GROUP_EXCLUDED}].intent",
    ]
    assert compare(old, new, include_assignments=False).changed is False


def test_scope_tag_change():
    old = v(p.windows10_general_configuration(), tags=["0", "3"])
    new = v(p.windows10_general_configuration(), tags=["0", "5"])
    assert compare(old, new).changes == (Change("scopeTags", ["0", "3"], ["0", "5"]),)


def test_type_changes_are_changes():
    assert diff({"a": True}, {"a": 1}).paths == ["a"]
    assert diff({"a": ["1"]}, {"a": [1]}).paths == ["a"]
    assert diff({"a": 1}, {"a": 1}).changed is False


# --- secrets and fingerprints ----------------------------------------------------------------


def test_secret_change_is_masked_but_changes_the_fingerprint():
    old = normalize(p.wifi_settings_catalog_policy("old-encrypted-token-AAAA"))
    new = normalize(p.wifi_settings_catalog_policy("new-encrypted-token-BBBB"))
    result = diff(old, new)
    path = f"{S(p.WIFI)}.groups[0].children[id={p.WIFI_PASSWORD}].secretValue"
    assert result.changes == (Change(path, SECRET_MASK, SECRET_MASK),)
    assert result.changes[0].kind == "changed"
    other = diff(old, normalize(p.wifi_settings_catalog_policy("new-encrypted-token-CCCC")))
    assert other.paths == [path]
    assert other.fingerprint != result.fingerprint
    serialized = json.dumps([c.to_json() for c in result.changes]) + result.fingerprint
    assert "encrypted-token" not in serialized
    rows = side_by_side(old, new)
    assert {"path": path, "old": SECRET_MASK, "new": SECRET_MASK, "changed": True} in rows
    assert "encrypted-token" not in json.dumps(rows)


def test_encrypted_oma_setting_and_blob_are_masked_plain_counters_are_not():
    new = p.windows10_custom_configuration()
    new["omaSettings"][1]["value"] = p.WLAN_XML_B64[::-1][:-1] + "="
    new["omaSettings"][2]["value"] = "UmVuZXdlZFByb3h5U2VjcmV0"
    new["omaSettings"][2]["secretReferenceValueId"] = "6f7a8b9c-0d1e-4f2a-b3c4-d5e6f7a8b9c0_PROXY"
    result = compare(v(p.windows10_custom_configuration()), v(new))
    proxy = f"omaSettings[omaUri={p.PROXY_URI}]"
    assert [c.to_json() for c in result.changes] == [
        {
            "path": f"{proxy}.secretReferenceValueId",
            "old": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9_PROXY",
            "new": "6f7a8b9c-0d1e-4f2a-b3c4-d5e6f7a8b9c0_PROXY",
            "kind": "changed",
        },
        {"path": f"{proxy}.secretValue", "old": SECRET_MASK, "new": SECRET_MASK, "kind": "changed"},
        {
            "path": f"omaSettings[omaUri={p.WLAN_URI}].value",
            "old": BLOB_MASK,
            "new": BLOB_MASK,
            "kind": "changed",
        },
    ]
    assert p.PROXY_SECRET not in json.dumps([c.to_json() for c in result.changes])

    counter = p.windows10_compliance_policy()
    counter["passwordMinimumLength"] = 14
    shown = compare(v(p.windows10_compliance_policy()), v(counter))
    assert shown.changes == (Change("passwordMinimumLength", 8, 14),)


def test_side_by_side_lists_every_path_with_changed_flags():
    old = {"a": 1, "b": "x", "wiFiPassword": "p1"}
    new = {"b": "y", "c": True, "wiFiPassword": "p1"}
    assert side_by_side(old, new) == [
        {"path": "a", "old": 1, "new": None, "changed": True},
        {"path": "b", "old": "x", "new": "y", "changed": True},
        {"path": "c", "old": None, "new": True, "changed": True},
        {"path": "wiFiPassword", "old": SECRET_MASK, "new": SECRET_MASK, "changed": False},
    ]


def test_fingerprint_is_deterministic_and_specific():
    old = normalize(p.windows10_general_configuration())
    new = dict(old, passwordMinimumLength=10)
    first, again = diff(old, new), diff(dict(old), dict(new))
    assert isinstance(first, Diff) and first.fingerprint == again.fingerprint
    assert diff(old, dict(old, passwordMinimumLength=11)).fingerprint != first.fingerprint
    assert diff(old, dict(new, displayName="other")).fingerprint != first.fingerprint


def test_fingerprint_of_added_and_removed_findings():
    flat = normalize(p.wifi_settings_catalog_policy("token-1"))
    fp = fingerprint_of("added", flat)
    assert re.fullmatch(r"[0-9a-f]{64}", fp)
    assert fingerprint_of("added", dict(reversed(list(flat.items())))) == fp
    assert fingerprint_of("removed", flat) != fp
    assert fingerprint_of("added", normalize(p.wifi_settings_catalog_policy("token-2"))) != fp
