"""What a Graph write body may carry: the one vocabulary of the restore payload shaper and of the
demo Graph's write checks (so the demo refuses exactly what the shaper strips).

A policy as Graph returns it (or as a backup stored it) is not a valid write body: Graph refuses
server-managed properties (``id``, timestamps, ``version``, counters, ``@odata.context`` …) and
navigation properties (``assignments``, set through ``/assign``). ``write_body`` turns a read
object into a POST (create) / PATCH / PUT (update) body; ``assignment_body`` turns assignments as
``GET …/assignments`` answers them into what ``POST …/assign`` takes.

Decisions for properties whose writability is not obvious:

- ``deviceManagementApplicabilityRuleOsEdition`` (and the other applicability rules of a device
  configuration) is writable: kept.
- ``creationSource`` (settings catalog) is provenance Graph stamps itself ("PolicyCopy", a
  baseline …); a restore must not claim one: treated as read-only, dropped.
- ``templateReference`` (settings catalog) is kept: template-based policies (endpoint security,
  baselines) need its ``templateId`` on create, and an update carries the same ``templateId``
  (the template of a policy never changes). Its other members (``templateFamily``,
  ``templateDisplayName``, ``templateDisplayVersion``) are read-only, so only ``templateId``
  is written.
- ``isBuiltIn`` (scope tags) is read-only: dropped.
- Annotations: ``@odata.type`` (top level, ``prop@odata.type``) is kept — Graph needs it to pick
  the derived type on create; every other ``@odata.*`` annotation is dropped.
"""

from __future__ import annotations

import copy
from typing import Any

from opsapp.policy_types import POLICY_TYPES_BY_KEY

Json = dict[str, Any]

SETTINGS_CATALOG_KEY = "settingsCatalogPolicy"
ODATA_TYPE = "@odata.type"

READ_ONLY_KEYS: frozenset[str] = frozenset(
    {
        # server-managed on every supported type
        "id",
        "createdDateTime",
        "lastModifiedDateTime",
        "version",
        "supportsScopeTags",
        # settings catalog: counters, state and provenance Graph computes
        "settingCount",
        "isAssigned",
        "creationSource",  # decision above: provenance, not configuration
        "priorityMetaData",
        # scope tags
        "isBuiltIn",
        # navigation properties: not part of the object's body
        "assignments",  # set through POST .../assign (``assignment_body``)
        "settingDefinitions",
        # annotations of a read answer (any other ``@odata.*`` except the type: see is_read_only)
        "@odata.context",
        "@odata.etag",
        "@odata.id",
        "@odata.editLink",
        "@odata.readLink",
    }
)

# Members of a settings-catalog ``templateReference`` that Graph computes from ``templateId``.
TEMPLATE_REFERENCE_WRITABLE = ("templateId",)
# Per-assignment keys ``POST .../assign`` does not take (server-assigned or computed).
ASSIGNMENT_READ_ONLY_KEYS: frozenset[str] = frozenset({"id", "source", "sourceId"})


def is_read_only(key: str) -> bool:
    """Whether a top-level property name may not appear in a write body."""
    return key in READ_ONLY_KEYS or _is_dropped_annotation(key)


def _is_dropped_annotation(key: str) -> bool:
    # "@odata.context", "@odata.nextLink", "prop@odata.navigationLink" … but not the types.
    return "@odata." in key and not key.endswith(ODATA_TYPE)


def read_only_keys_in(body: Json) -> list[str]:
    """The read-only top-level keys a write body carries, in body order (demo checks)."""
    return [key for key in body if is_read_only(key)]


def write_body(policy_type: str, payload: Json, *, include_scope_tags: bool = True) -> Json:
    """A deep copy of ``payload`` fit for POST (create) or an update of ``policy_type``.

    Drops read-only properties (``READ_ONLY_KEYS`` and annotations other than ``@odata.type``)
    at the top level; keeps ``@odata.type``. Without ``include_scope_tags``, ``roleScopeTagIds``
    is dropped too (the target tenant's scope tags differ: Graph applies its default).
    Settings catalog keeps its ``settings`` list (part of POST and PUT bodies), each item without
    ``id``, ``settingDefinitions`` and annotations other than ``@odata.type``; its
    ``templateReference`` is reduced to ``templateId``.
    """
    if policy_type not in POLICY_TYPES_BY_KEY:
        raise ValueError(f"unsupported policy type {policy_type!r}")
    if not isinstance(payload, dict):
        raise TypeError("a policy payload must be a JSON object")
    body = {k: copy.deepcopy(v) for k, v in payload.items() if not is_read_only(k)}
    if not include_scope_tags:
        body.pop("roleScopeTagIds", None)
    if policy_type == SETTINGS_CATALOG_KEY:
        if isinstance(body.get("settings"), list):
            body["settings"] = [_setting_body(s) for s in body["settings"]]
        reference = body.get("templateReference")
        if isinstance(reference, dict):
            body["templateReference"] = {
                k: v for k, v in reference.items() if k in TEMPLATE_REFERENCE_WRITABLE
            }
    return body


def _setting_body(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    return {
        k: v
        for k, v in item.items()
        if k not in ("id", "settingDefinitions") and not _is_dropped_annotation(k)
    }


def assignment_body(
    assignments: list[Json], *, group_map: dict[str, str | None] | None = None
) -> list[Json]:
    """Assignments as ``POST .../assign`` takes them (deep copies, input order kept).

    Drops ``id``, ``source``, ``sourceId`` and annotations other than ``@odata.type``.
    ``group_map`` maps a target's ``groupId`` to the group to use instead, or to None to drop
    that assignment (the group has no counterpart); group ids it does not name stay as they are.
    Targets without a ``groupId`` (all devices, all users) are never dropped or changed.
    """
    result: list[Json] = []
    for assignment in assignments:
        if not isinstance(assignment, dict):
            raise TypeError("an assignment must be a JSON object")
        body = {
            k: copy.deepcopy(v)
            for k, v in assignment.items()
            if k not in ASSIGNMENT_READ_ONLY_KEYS and not _is_dropped_annotation(k)
        }
        target = body.get("target")
        if group_map is not None and isinstance(target, dict) and "groupId" in target:
            group_id = target["groupId"]
            if group_id in group_map:
                mapped = group_map[group_id]
                if mapped is None:
                    continue
                target["groupId"] = mapped
        result.append(body)
    return result
