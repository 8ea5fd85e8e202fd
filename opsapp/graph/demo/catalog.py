"""Deterministic object shapes for the demo Graph, one small recipe per policy type.

Each object is computed from (tenant seed, type, index) on demand, so a 50 000-object tenant
costs nothing until a page of it is read. Types in ``opsapp.policy_types`` without a recipe
here still get a generic shape.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Shape:
    odata_types: tuple[str, ...]
    prefixes: tuple[str, ...]  # display-name prefixes, as admins name things
    fields: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # field -> choices
    name_field: str = "displayName"


_BOOL = (True, False)
_NAMES = ("Baseline", "Security", "Kiosk", "Pilot", "Finance", "Sales", "Frontline", "BYOD")

SHAPES: dict[str, Shape] = {
    "deviceConfiguration": Shape(
        ("#microsoft.graph.windows10GeneralConfiguration",
         "#microsoft.graph.windows10EndpointProtectionConfiguration",
         "#microsoft.graph.iosGeneralDeviceConfiguration",
         "#microsoft.graph.androidWorkProfileGeneralDeviceConfiguration"),
        ("Win - Device restrictions", "Win - Endpoint protection", "iOS", "Android"),
        {"passwordRequired": _BOOL, "passwordMinimumLength": (6, 8, 12, 14),
         "storageRequireDeviceEncryption": _BOOL, "screenCaptureBlocked": _BOOL,
         "bluetoothBlocked": _BOOL, "version": (1, 2, 3, 5, 8)},
    ),
    "settingsCatalogPolicy": Shape(
        ("#microsoft.graph.deviceManagementConfigurationPolicy",),
        ("SC", "Settings", "Edge", "Defender"),
        {"platforms": ("windows10", "macOS", "iOS"), "technologies": ("mdm", "mdm,microsoftSense"),
         "settingCount": (1, 2, 3, 5, 8, 13), "isAssigned": _BOOL},
        name_field="name",
    ),
    "deviceCompliancePolicy": Shape(
        ("#microsoft.graph.windows10CompliancePolicy", "#microsoft.graph.iosCompliancePolicy",
         "#microsoft.graph.androidWorkProfileCompliancePolicy",
         "#microsoft.graph.macOSCompliancePolicy"),
        ("Windows compliance", "iOS compliance", "Android compliance", "macOS compliance"),
        {"passwordRequired": _BOOL, "passwordMinimumLength": (6, 8, 12),
         "osMinimumVersion": ("10.0.19045", "10.0.22621", "17.0", "14.0"),
         "bitLockerEnabled": _BOOL, "secureBootEnabled": _BOOL, "version": (1, 2, 4)},
    ),
    "groupPolicyConfiguration": Shape(
        ("#microsoft.graph.groupPolicyConfiguration",),
        ("ADMX", "Admin template", "GPO"),
        {"policyConfigurationIngestionType": ("builtIn", "custom", "mixed")},
    ),
    "windowsAutopilotDeploymentProfile": Shape(
        ("#microsoft.graph.azureADWindowsAutopilotDeploymentProfile",
         "#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile"),
        ("Autopilot - Entra joined", "Autopilot - Hybrid joined"),
        {"language": ("os-default", "en-US", "de-DE"), "extractHardwareHash": _BOOL,
         "deviceNameTemplate": ("CORP-%SERIAL%", "LAP-%RAND:5%", ""), "deviceType": ("windowsPc",)},
    ),
    "deviceEnrollmentConfiguration": Shape(
        ("#microsoft.graph.deviceEnrollmentLimitConfiguration",
         "#microsoft.graph.deviceEnrollmentPlatformRestrictionsConfiguration",
         "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration"),
        ("Enrollment limit", "Platform restriction", "ESP"),
        {"priority": (1, 2, 3, 4, 5, 10), "limit": (5, 10, 15)},
    ),
    "assignmentFilter": Shape(
        ("#microsoft.graph.deviceAndAppManagementAssignmentFilter",),
        ("Filter",),
        {"platform": ("windows10AndLater", "iOS", "androidForWork", "macOS"),
         "rule": ('(device.manufacturer -eq "Contoso")', '(device.model -startsWith "Surface")',
                  '(device.deviceOwnership -eq "Corporate")'),
         "assignmentFilterManagementType": ("devices",)},
    ),
    "roleScopeTag": Shape(
        ("#microsoft.graph.roleScopeTag",), ("Scope",), {"isBuiltIn": (False,)}
    ),
}  # fmt: skip

_GENERIC = Shape(("#microsoft.graph.entity",), ("Object",))


def make_policy(*, key: str, seed: int, index: int, object_id: str) -> dict[str, Any]:
    """The deterministic object ``index`` of policy type ``key``."""
    rng = random.Random(f"{seed}:{key}:{index}")
    shape = SHAPES.get(key, _GENERIC)
    created = EPOCH + timedelta(days=rng.randrange(300), seconds=rng.randrange(86400))
    modified = created + timedelta(days=rng.randrange(200), seconds=rng.randrange(86400))
    kind = rng.randrange(len(shape.odata_types))
    # Prefixes parallel to the @odata.types name the platform; otherwise any prefix goes.
    paired = len(shape.prefixes) == len(shape.odata_types)
    prefix = shape.prefixes[kind] if paired else rng.choice(shape.prefixes)
    name = f"{prefix} - {rng.choice(_NAMES)} {index:05d}"
    item: dict[str, Any] = {
        "@odata.type": shape.odata_types[kind],
        "id": object_id,
        shape.name_field: name,
        "description": f"Demo {key} #{index}",
        "createdDateTime": iso(created),
        "lastModifiedDateTime": iso(modified),
        "roleScopeTagIds": ["0"],
    }
    for name_, choices in shape.fields.items():
        item[name_] = rng.choice(choices)
    return item


def make_group(*, seed: int, index: int, object_id: str) -> dict[str, Any]:
    """The deterministic Entra group ``index``."""
    rng = random.Random(f"{seed}:groups:{index}")
    kind = rng.choice(("security", "security", "m365", "dynamic"))
    name = f"{rng.choice(('SG', 'GRP', 'Team'))}-{rng.choice(_NAMES)}-{index:05d}"
    return {
        "id": object_id,
        "displayName": name,
        "description": f"Demo group #{index}",
        "groupTypes": {"m365": ["Unified"], "dynamic": ["DynamicMembership"]}.get(kind, []),
        "securityEnabled": kind != "m365",
        "mailEnabled": kind == "m365",
        "mailNickname": name.lower(),
        "createdDateTime": iso(EPOCH + timedelta(days=rng.randrange(600))),
    }


def member_count(*, seed: int, index: int) -> int:
    """Members of group ``index`` (deterministic, skewed towards small groups)."""
    rng = random.Random(f"{seed}:members:{index}")
    return int(rng.paretovariate(1.2) * 3) - 3


def make_assignments(
    *, seed: int, key: str, index: int, policy_id: str, group_id_at: Any, group_count: int
) -> list[dict[str, Any]]:
    """0–3 deterministic assignments; ``group_id_at(i)`` names the i-th demo group."""
    rng = random.Random(f"{seed}:{key}:assign:{index}")
    assignments = []
    for n in range(rng.choice((0, 1, 1, 2, 3))):
        roll = rng.random()
        if roll < 0.1:
            target = {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}
        elif roll < 0.2:
            target = {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}
        else:
            excluded = roll > 0.9
            target = {
                "@odata.type": "#microsoft.graph."
                + ("exclusionGroupAssignmentTarget" if excluded else "groupAssignmentTarget"),
                "groupId": group_id_at(rng.randrange(group_count)),
            }
        target["deviceAndAppManagementAssignmentFilterId"] = None
        target["deviceAndAppManagementAssignmentFilterType"] = "none"
        assignments.append({"id": f"{policy_id}_{n}", "target": target})
    return assignments


def make_settings(*, seed: int, index: int, count: int) -> list[dict[str, Any]]:
    """Settings of settings-catalog policy ``index`` (``count`` choice settings)."""
    rng = random.Random(f"{seed}:settings:{index}")
    areas = ("defender", "browser", "update", "bitlocker", "firewall", "experience")
    settings = []
    for n in range(count):
        definition = f"device_vendor_msft_policy_config_{rng.choice(areas)}_setting{n}"
        settings.append(
            {
                "id": str(n),
                "settingInstance": {
                    "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
                    "settingDefinitionId": definition,
                    "choiceSettingValue": {
                        "value": f"{definition}_{rng.randrange(3)}",
                        "children": [],
                    },
                },
            }
        )
    return settings


def iso(moment: datetime) -> str:
    """Graph's timestamp format (UTC, ``Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
