"""The Intune policy types opsapp supports, keyed by a stable token, with their real Graph paths.

This is domain vocabulary shared by the run catalog (default identity inputs), the Graph layer
(where to read them) and the UI (labels). Keep tokens stable: they are stored in run identities.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PolicyType:
    key: str  # stable token stored in run identities and rows
    label: str  # what an admin reads
    graph_path: str  # collection path below the Graph root (v1.0 or beta, see api_version)
    api_version: str = "beta"
    has_assignments: bool = True
    # The verb that updates an object. Settings catalog (configurationPolicies) is updated with
    # PUT: a full replacement of its properties *and* its settings (PATCH cannot change settings
    # and real Graph refuses it there); every other supported type takes PATCH (a merge).
    update_method: str = "PATCH"
    # Listing page size asked of Intune (`$top`). Graph's own default is small (25 for
    # configurationPolicies), and each page is a request, a pacing unit and a round trip; the
    # policy collections take $top=999 in production tools (CIPP, Intune exporters). The service
    # may still answer smaller pages: nextLinks are followed either way. None: the service's
    # default (assignment filters and scope tags: no evidence of 999 there, and they are small).
    page_size: int | None = 999


POLICY_TYPES: tuple[PolicyType, ...] = (
    PolicyType(
        "deviceConfiguration", "Device configuration", "deviceManagement/deviceConfigurations"
    ),
    PolicyType(
        "settingsCatalogPolicy",
        "Settings catalog",
        "deviceManagement/configurationPolicies",
        update_method="PUT",
    ),
    PolicyType(
        "deviceCompliancePolicy", "Compliance policy", "deviceManagement/deviceCompliancePolicies"
    ),
    PolicyType(
        "groupPolicyConfiguration",
        "Administrative template",
        "deviceManagement/groupPolicyConfigurations",
    ),
    PolicyType(
        "windowsAutopilotDeploymentProfile",
        "Autopilot profile",
        "deviceManagement/windowsAutopilotDeploymentProfiles",
    ),
    PolicyType(
        "deviceEnrollmentConfiguration",
        "Enrollment configuration",
        "deviceManagement/deviceEnrollmentConfigurations",
    ),
    PolicyType(
        "assignmentFilter",
        "Assignment filter",
        "deviceManagement/assignmentFilters",
        has_assignments=False,
        page_size=None,
    ),
    PolicyType(
        "roleScopeTag",
        "Scope tag",
        "deviceManagement/roleScopeTags",
        has_assignments=False,
        page_size=None,
    ),
)

POLICY_TYPES_BY_KEY: dict[str, PolicyType] = {t.key: t for t in POLICY_TYPES}
SUPPORTED_POLICY_TYPE_KEYS: tuple[str, ...] = tuple(sorted(POLICY_TYPES_BY_KEY))

# "Foundations" are the objects policies reference rather than policies themselves.
FOUNDATION_TYPE_KEYS: tuple[str, ...] = ("assignmentFilter", "roleScopeTag")
