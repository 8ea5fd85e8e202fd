"""Real-shaped Graph payloads (beta) of each policy family drift supports, as captured by a sync.

Every builder returns a fresh object, so a test can mutate its copy freely.
"""

from __future__ import annotations

import base64
from typing import Any

POLICY_ID = "8c0f3a4e-52d1-4c77-9a3e-1f0b6f4d2a10"
GROUP_PILOT = "a1b2c3d4-1111-4a5b-8c9d-0e1f2a3b4c5d"
GROUP_EXCLUDED = "b2c3d4e5-2222-4b6c-9d0e-1f2a3b4c5d6e"
GROUP_NEW = "c3d4e5f6-3333-4c7d-8e1f-2a3b4c5d6e7f"
FILTER_CORP = "f1e2d3c4-4444-4d8e-9f01-3b4c5d6e7f80"
FILTER_KIOSK = "f2e3d4c5-5555-4e9f-8012-4c5d6e7f8091"
ALL_DEVICES_ID = "adadadad-808e-44e2-905a-0b7873a8a531"

CTX = "https://graph.microsoft.com/beta/$metadata"

# --- settings catalog ------------------------------------------------------------------------

AV_RTM = "device_vendor_msft_policy_config_defender_allowrealtimemonitoring"
AV_CPU = "device_vendor_msft_policy_config_defender_avgcpuloadfactor"
AV_EXT = "device_vendor_msft_policy_config_defender_excludedextensions"
AV_ASR = "device_vendor_msft_policy_config_defender_attacksurfacereductionrules"
ASR_OFFICE = f"{AV_ASR}_blockofficecommunicationappfromcreatingchildprocesses"
BL_STARTUP = "device_vendor_msft_bitlocker_systemdrivesrequirestartupauthentication"
BL_TPM = f"{BL_STARTUP}_configuretpmstartupkeyusagedropdown_name"
BL_NO_TPM = f"{BL_STARTUP}_configurenontpmstartupkeyusage_name"
FW = "vendor_msft_firewall_mdmstore_firewallrules_{firewallrulename}"
FW_NAME, FW_DIR, FW_ACTION, FW_PORTS = (
    f"{FW}_name",
    f"{FW}_direction",
    f"{FW}_action",
    f"{FW}_localportranges",
)
WIFI = "com.apple.wifi.managed_com.apple.wifi.managed"
WIFI_SSID = "com.apple.wifi.managed_ssid_str"
WIFI_ENC = "com.apple.wifi.managed_encryptiontype"
WIFI_PASSWORD = "com.apple.wifi.managed_password"

_T = "#microsoft.graph.deviceManagementConfiguration"


def _choice(
    definition: str, value: str, children: list | None = None, template: bool = False
) -> dict:
    return {
        "@odata.type": f"{_T}ChoiceSettingInstance",
        "settingDefinitionId": definition,
        "settingInstanceTemplateReference": (
            {"settingInstanceTemplateId": "f7ff4e1d-0de9-4a7b-9a56-0b1e0b4d1f00"}
            if template
            else None
        ),
        "choiceSettingValue": {
            "settingValueTemplateReference": None,
            "value": value,
            "children": children or [],
        },
    }


def _simple(definition: str, kind: str, value: Any, **extra: Any) -> dict:
    return {
        "@odata.type": f"{_T}SimpleSettingInstance",
        "settingDefinitionId": definition,
        "settingInstanceTemplateReference": None,
        "simpleSettingValue": {
            "@odata.type": f"{_T}{kind}SettingValue",
            "settingValueTemplateReference": None,
            "value": value,
            **extra,
        },
    }


def _simple_collection(definition: str, values: list[str]) -> dict:
    return {
        "@odata.type": f"{_T}SimpleSettingCollectionInstance",
        "settingDefinitionId": definition,
        "settingInstanceTemplateReference": None,
        "simpleSettingCollectionValue": [
            {
                "@odata.type": f"{_T}StringSettingValue",
                "settingValueTemplateReference": None,
                "value": v,
            }
            for v in values
        ],
    }


def _group_collection(definition: str, groups: list[list[dict]]) -> dict:
    return {
        "@odata.type": f"{_T}GroupSettingCollectionInstance",
        "settingDefinitionId": definition,
        "settingInstanceTemplateReference": None,
        "groupSettingCollectionValue": [
            {"settingValueTemplateReference": None, "children": children} for children in groups
        ],
    }


def _wrap(instances: list[dict]) -> list[dict]:
    return [{"id": str(i), "settingInstance": inst} for i, inst in enumerate(instances)]


def settings_catalog_policy() -> dict:
    """Defender AV + BitLocker + firewall rules: nested children and a group collection."""
    return {
        "@odata.context": f"{CTX}#deviceManagement/configurationPolicies/$entity",
        "createdDateTime": "2024-03-11T09:12:44.1234567Z",
        "creationSource": None,
        "description": "Defender AV, BitLocker startup and firewall baseline",
        "lastModifiedDateTime": "2024-05-02T13:40:01.7654321Z",
        "name": "WIN - Endpoint baseline",
        "platforms": "windows10",
        "priorityMetaData": None,
        "roleScopeTagIds": ["0"],
        "settingCount": 6,
        "technologies": "mdm,microsoftSense",
        "id": POLICY_ID,
        "isAssigned": True,
        "templateReference": {
            "templateId": "",
            "templateFamily": "none",
            "templateDisplayName": None,
            "templateDisplayVersion": None,
        },
        "settings": _wrap(
            [
                _choice(AV_RTM, f"{AV_RTM}_1", template=True),
                _simple(AV_CPU, "Integer", 50),
                _simple_collection(AV_EXT, [".log", ".tmp", ".etl"]),
                _choice(
                    BL_STARTUP,
                    f"{BL_STARTUP}_1",
                    [
                        _choice(BL_TPM, f"{BL_TPM}_2"),
                        _choice(BL_NO_TPM, f"{BL_NO_TPM}_true"),
                    ],
                ),
                {
                    "@odata.type": f"{_T}GroupSettingCollectionInstance",
                    "settingDefinitionId": AV_ASR,
                    "settingInstanceTemplateReference": None,
                    "groupSettingCollectionValue": [
                        {
                            "settingValueTemplateReference": None,
                            "children": [_choice(ASR_OFFICE, f"{ASR_OFFICE}_block")],
                        }
                    ],
                },
                _group_collection(
                    FW,
                    [
                        [
                            _simple(FW_NAME, "String", "Block inbound SMB"),
                            _choice(FW_DIR, f"{FW_DIR}_in"),
                            _choice(FW_ACTION, f"{FW_ACTION}_0"),
                            _simple_collection(FW_PORTS, ["445", "139"]),
                        ],
                        [
                            _simple(FW_NAME, "String", "Allow inbound RDP"),
                            _choice(FW_DIR, f"{FW_DIR}_in"),
                            _choice(FW_ACTION, f"{FW_ACTION}_1"),
                            _simple_collection(FW_PORTS, ["3389"]),
                        ],
                    ],
                ),
            ]
        ),
    }


def wifi_settings_catalog_policy(
    password_token: str = "eyJ2IjoxLCJrIjoiZW5jcnlwdGVkVmFsdWVUb2tlbjEifQ==",
) -> dict:
    """macOS Wi-Fi: a group collection whose children include a secret simple setting."""
    return {
        "@odata.context": f"{CTX}#deviceManagement/configurationPolicies/$entity",
        "createdDateTime": "2024-04-01T08:00:00Z",
        "description": "",
        "lastModifiedDateTime": "2024-04-01T08:00:00Z",
        "name": "MAC - Corp Wi-Fi",
        "platforms": "macOS",
        "roleScopeTagIds": ["0"],
        "settingCount": 1,
        "technologies": "mdm,appleRemoteManagement",
        "id": "9d1e2f30-6a7b-4c8d-9e0f-a1b2c3d4e5f6",
        "settings": _wrap(
            [
                _group_collection(
                    WIFI,
                    [
                        [
                            _simple(WIFI_SSID, "String", "CORP-WLAN"),
                            _choice(WIFI_ENC, f"{WIFI_ENC}_2"),
                            _simple(
                                WIFI_PASSWORD,
                                "Secret",
                                password_token,
                                valueState="encryptedValueToken",
                            ),
                        ]
                    ],
                )
            ]
        ),
    }


# --- device configuration --------------------------------------------------------------------


def windows10_general_configuration() -> dict:
    return {
        "@odata.context": f"{CTX}#deviceManagement/deviceConfigurations/$entity",
        "@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
        "id": "4f1d9c2e-7b3a-4e8f-a0b1-c2d3e4f5a6b7",
        "lastModifiedDateTime": "2024-05-10T07:31:12.0000000Z",
        "roleScopeTagIds": ["0", "3"],
        "supportsScopeTags": True,
        "deviceManagementApplicabilityRuleOsEdition": {
            "osEditionTypes": ["windows10Enterprise", "windows10Education"],
            "name": "Enterprise and Education only",
            "ruleType": "include",
        },
        "deviceManagementApplicabilityRuleOsVersion": None,
        "deviceManagementApplicabilityRuleDeviceMode": None,
        "createdDateTime": "2023-11-02T10:00:00.0000000Z",
        "description": "Device restrictions for corporate laptops",
        "displayName": "WIN - Device restrictions",
        "version": 7,
        "passwordRequired": True,
        "passwordBlockSimple": True,
        "passwordMinimumLength": 8,
        "passwordExpirationDays": 45,
        "passwordMinutesOfInactivityBeforeScreenTimeout": 15,
        "passwordRequiredType": "alphanumeric",
        "defenderScanType": "quick",
        "defenderScheduledScanTime": "02:00:00.0000000",
        "defenderFileExtensionsToExclude": [".log", ".etl"],
        "defenderProcessesToExclude": ["C:\\Tools\\agent.exe"],
        "defenderDetectedMalwareActions": {
            "lowSeverity": "clean",
            "moderateSeverity": "quarantine",
            "highSeverity": "remove",
            "severeSeverity": "block",
        },
        "edgeSearchEngine": {
            "@odata.type": "#microsoft.graph.edgeSearchEngine",
            "edgeSearchEngineType": "default",
        },
        "windows10AppsForceUpdateSchedule": {
            "startDateTime": "2024-01-01T03:00:00Z",
            "recurrence": "daily",
            "runImmediatelyIfAfterStartDateTime": False,
        },
        "privacyAccessControls": [],
        "appsBlockWindowsStoreOriginatedApps": False,
        "startMenuPinnedFolderDocuments": "notConfigured",
        "enterpriseCloudPrintDiscoveryMaxLimit": None,
    }


WLAN_XML = (
    '<?xml version="1.0"?><WLANProfile xmlns="http://www.microsoft.com/networking/WLAN/profile/v1">'
    "<name>CORP-WLAN</name><SSIDConfig><SSID><name>CORP-WLAN</name></SSID></SSIDConfig>"
    "<MSM><security><authEncryption><authentication>WPA2</authentication></authEncryption>"
    "</security></MSM></WLANProfile>"
)
WLAN_XML_B64 = base64.b64encode(WLAN_XML.encode()).decode()
PROXY_SECRET = "Wm9vcGVyU2VjcmV0UHJveHkhMjAyNA"  # Graph's encrypted rendering: short, opaque
CORTANA = "./Vendor/MSFT/Policy/Config/Experience/AllowCortana"
WLAN_URI = "./Vendor/MSFT/WiFi/Profile/CORP-WLAN/WlanXml"
PROXY_URI = "./Vendor/MSFT/Policy/Config/Connectivity/ProxyPassword"


def windows10_custom_configuration() -> dict:
    return {
        "@odata.type": "#microsoft.graph.windows10CustomConfiguration",
        "id": "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d",
        "lastModifiedDateTime": "2024-05-10T07:31:12.0000000Z",
        "roleScopeTagIds": ["0"],
        "supportsScopeTags": True,
        "createdDateTime": "2024-02-02T10:00:00.0000000Z",
        "description": "OMA-URI settings",
        "displayName": "WIN - Custom OMA-URI",
        "version": 3,
        "omaSettings": [
            {
                "@odata.type": "#microsoft.graph.omaSettingInteger",
                "displayName": "Disable Cortana",
                "description": None,
                "omaUri": CORTANA,
                "secretReferenceValueId": None,
                "isEncrypted": False,
                "value": 0,
                "isReadOnly": False,
            },
            {
                "@odata.type": "#microsoft.graph.omaSettingStringXml",
                "displayName": "Corporate Wi-Fi profile",
                "description": "WPA2 enterprise",
                "omaUri": WLAN_URI,
                "secretReferenceValueId": None,
                "isEncrypted": False,
                "fileName": "corp-wlan.xml",
                "value": WLAN_XML_B64,
            },
            {
                "@odata.type": "#microsoft.graph.omaSettingString",
                "displayName": "Proxy password",
                "description": None,
                "omaUri": PROXY_URI,
                "secretReferenceValueId": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9_PROXY",
                "isEncrypted": True,
                "value": PROXY_SECRET,
            },
        ],
    }


# --- compliance ------------------------------------------------------------------------------

NOTIFY_TEMPLATE = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def windows10_compliance_policy() -> dict:
    return {
        "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
        "roleScopeTagIds": ["0"],
        "id": "7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e",
        "createdDateTime": "2023-09-01T12:00:00.0000000Z",
        "description": "Corporate Windows compliance",
        "lastModifiedDateTime": "2024-05-01T12:00:00.0000000Z",
        "displayName": "WIN - Compliance",
        "version": 4,
        "passwordRequired": True,
        "passwordBlockSimple": True,
        "passwordRequiredToUnlockFromIdle": False,
        "passwordMinutesOfInactivityBeforeLock": 15,
        "passwordExpirationDays": None,
        "passwordMinimumLength": 8,
        "passwordRequiredType": "deviceDefault",
        "osMinimumVersion": "10.0.19045",
        "osMaximumVersion": None,
        "bitLockerEnabled": True,
        "secureBootEnabled": True,
        "codeIntegrityEnabled": True,
        "deviceThreatProtectionEnabled": False,
        "deviceThreatProtectionRequiredSecurityLevel": "unavailable",
        "validOperatingSystemBuildRanges": [
            {
                "description": "Win 11 23H2",
                "lowestVersion": "10.0.22631.0",
                "highestVersion": "10.0.22631.9999",
            },
            {
                "description": "Win 10 22H2",
                "lowestVersion": "10.0.19045.0",
                "highestVersion": "10.0.19045.9999",
            },
        ],
        "scheduledActionsForRule@odata.context": (
            f"{CTX}#deviceManagement/deviceCompliancePolicies('7b8c9d0e')/scheduledActionsForRule"
        ),
        "scheduledActionsForRule": [
            {
                "id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                "ruleName": "PasswordRequired",
                "scheduledActionConfigurations@odata.context": f"{CTX}#scheduledActionConfigurations",
                "scheduledActionConfigurations": [
                    {
                        "id": "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
                        "gracePeriodHours": 12,
                        "actionType": "block",
                        "notificationTemplateId": "",
                        "notificationMessageCCList": [],
                    },
                    {
                        "id": "3e4f5a6b-7c8d-4e9f-0a1b-2c3d4e5f6a7b",
                        "gracePeriodHours": 24,
                        "actionType": "notification",
                        "notificationTemplateId": NOTIFY_TEMPLATE,
                        "notificationMessageCCList": [GROUP_PILOT],
                    },
                ],
            }
        ],
    }


# --- administrative templates ----------------------------------------------------------------

DEF_HOMEPAGE = "bd8d1a2f-5d11-4d3f-9e3e-0f6a3c2b1a90"
DEF_SMARTSCREEN = "c6f1e2d3-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
PRES_HOMEPAGE = "e5f6a7b8-9c0d-4e1f-a2b3-c4d5e6f7a8b9"


def admin_template_policy() -> dict:
    """A groupPolicyConfiguration captured with $expand=definitionValues($expand=definition,
    presentationValues($expand=presentation))."""
    return {
        "@odata.context": f"{CTX}#deviceManagement/groupPolicyConfigurations/$entity",
        "createdDateTime": "2024-01-15T09:00:00.0000000Z",
        "displayName": "WIN - Edge admin template",
        "description": "",
        "roleScopeTagIds": ["0"],
        "policyConfigurationIngestionType": "builtIn",
        "id": "0e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b",
        "lastModifiedDateTime": "2024-05-03T09:00:00.0000000Z",
        "definitionValues": [
            {
                "createdDateTime": "2024-01-15T09:00:00.0000000Z",
                "enabled": True,
                "configurationType": "policy",
                "id": "1f2a3b4c-5d6e-4f7a-8b9c-0d1e2f3a4b5c",
                "lastModifiedDateTime": "2024-01-15T09:00:00.0000000Z",
                "definition": {
                    "classType": "machine",
                    "displayName": "Configure the home page URL",
                    "explainText": "Configure the default home page URL in Microsoft Edge...",
                    "categoryPath": "\\Microsoft Edge\\Startup, home page and new tab page",
                    "supportedOn": "Microsoft Edge version 77, Windows 7 or later",
                    "policyType": "admxIngested",
                    "id": DEF_HOMEPAGE,
                    "lastModifiedDateTime": "2023-10-05T17:26:42.0000000Z",
                },
                "presentationValues": [
                    {
                        "@odata.type": "#microsoft.graph.groupPolicyPresentationValueText",
                        "lastModifiedDateTime": "2024-01-15T09:00:00.0000000Z",
                        "createdDateTime": "2024-01-15T09:00:00.0000000Z",
                        "id": "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d",
                        "value": "https://intranet.contoso.com",
                        "presentation": {
                            "@odata.type": "#microsoft.graph.groupPolicyPresentationTextBox",
                            "label": "Home page URL",
                            "id": PRES_HOMEPAGE,
                            "lastModifiedDateTime": "2023-10-05T17:26:42.0000000Z",
                            "defaultValue": "",
                            "required": True,
                            "maxLength": 1023,
                        },
                    }
                ],
            },
            {
                "createdDateTime": "2024-01-15T09:00:00.0000000Z",
                "enabled": True,
                "configurationType": "policy",
                "id": "3b4c5d6e-7f8a-4b9c-0d1e-2f3a4b5c6d7e",
                "lastModifiedDateTime": "2024-01-15T09:00:00.0000000Z",
                "definition": {
                    "classType": "machine",
                    "displayName": "Configure Microsoft Defender SmartScreen",
                    "categoryPath": "\\Microsoft Edge\\SmartScreen settings",
                    "policyType": "admxIngested",
                    "id": DEF_SMARTSCREEN,
                },
                "presentationValues": [],
            },
        ],
    }


def admin_template_policy_bind_form() -> dict:
    """The same policy as the restore/import body shape: references as @odata.bind."""
    policy = admin_template_policy()
    base = "https://graph.microsoft.com/beta/deviceManagement"
    for value in policy["definitionValues"]:
        definition = value.pop("definition")
        value["definition@odata.bind"] = f"{base}/groupPolicyDefinitions('{definition['id']}')"
        for pres in value["presentationValues"]:
            presentation = pres.pop("presentation")
            pres["presentation@odata.bind"] = (
                f"{base}/groupPolicyDefinitions('{definition['id']}')"
                f"/presentations('{presentation['id']}')"
            )
    return policy


# --- assignments -----------------------------------------------------------------------------

TARGET = "#microsoft.graph."


def assignments() -> list[dict]:
    return [
        {
            "id": f"{POLICY_ID}_{GROUP_PILOT}",
            "source": "direct",
            "sourceId": POLICY_ID,
            "intent": "apply",
            "target": {
                "@odata.type": f"{TARGET}groupAssignmentTarget",
                "deviceAndAppManagementAssignmentFilterId": FILTER_CORP,
                "deviceAndAppManagementAssignmentFilterType": "include",
                "groupId": GROUP_PILOT,
            },
        },
        {
            "id": f"{POLICY_ID}_{GROUP_EXCLUDED}",
            "source": "direct",
            "sourceId": POLICY_ID,
            "intent": "apply",
            "target": {
                "@odata.type": f"{TARGET}exclusionGroupAssignmentTarget",
                "deviceAndAppManagementAssignmentFilterId": None,
                "deviceAndAppManagementAssignmentFilterType": "none",
                "groupId": GROUP_EXCLUDED,
            },
        },
        {
            "id": f"{POLICY_ID}_{ALL_DEVICES_ID}",
            "source": "direct",
            "sourceId": POLICY_ID,
            "target": {
                "@odata.type": f"{TARGET}allDevicesAssignmentTarget",
                "deviceAndAppManagementAssignmentFilterId": "00000000-0000-0000-0000-000000000000",
                "deviceAndAppManagementAssignmentFilterType": "none",
            },
        },
    ]


def version(
    payload: dict, assigned: list[dict] | None = None, scope_tags: list[str] | None = None
) -> dict:
    """A PolicyVersion as a dict, the shape `compare` takes."""
    return {
        "payload": payload,
        "assignments": assignments() if assigned is None else assigned,
        "scope_tags": sorted(payload.get("roleScopeTagIds") or ["0"])
        if scope_tags is None
        else scope_tags,
    }
