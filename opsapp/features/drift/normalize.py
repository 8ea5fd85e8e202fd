"""Normalize one captured policy version into a flat, comparable map of setting paths.

`normalize(payload, assignments, scope_tags)` returns ``{path: leaf}`` sorted by path, where a
leaf is a JSON scalar (str, int, float, bool) or a sorted list of scalars. Two versions of the
same policy are equal exactly when their normalized maps are equal, so everything that is not a
setting (ids, timestamps, version counters, OData annotations, list order that carries no
meaning) is removed here and nowhere else.

Rules, in short:

* ``None`` leaves, empty lists and dicts that yield no leaves are dropped: absent == null == [].
* Nested dicts flatten to dotted paths: ``windowsHelloForBusiness.pinMinimumLength``.
* Lists of scalars are unordered: the leaf is the sorted list.
* Lists of dicts are keyed by an identity key when every element has one and the values are
  unique (``omaSettings[omaUri=./Vendor/MSFT/...].value``); the keys are tried in the order of
  `_IDENTITY_KEYS`. Otherwise the list is unordered: its elements are normalized, sorted by their
  canonical JSON and keyed by position (``validOperatingSystemBuildRanges[0].lowestVersion``).
* Settings catalog (``payload["settings"]``): each setting is keyed by its settingDefinitionId,
  ``settings[id=<definitionId>].value``; children nest as ``.children[id=<definitionId>]``,
  group collections as ``.groups[<n>].children[...]`` (positional, in Graph's order), simple
  collections as the sorted ``.values`` leaf, choice collections as the sorted ``.values`` leaf
  plus ``.values[value=<choice>].children[...]`` for choices that have children.
* Secret values are named so `opsapp.features.drift.secrets.is_secret_path` recognises them:
  a settings-catalog ``...SecretSettingValue`` becomes ``<setting>.secretValue`` (collections:
  ``.secretValues``) and the ``value`` of an OMA-URI setting with ``isEncrypted: true`` becomes
  ``omaSettings[omaUri=...].secretValue``.
* Scope tags are one leaf, ``scopeTags`` (sorted), from `scope_tags` or, when that is None, from
  ``payload["roleScopeTagIds"]``.
* Assignments become ``assignments[<target>].assigned = True`` (always), ``.filter`` =
  ``"<include|exclude>:<filterId>"`` and ``.intent``; ``<target>`` is ``include:<groupId>``,
  ``exclude:<groupId>``, ``allDevices``, ``allLicensedUsers`` or the target type's last segment.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Keys that never carry a setting; dropped at every depth (an identity key is read before its
# element's keys are filtered, so "id" still works as the last-resort list identity).
VOLATILE_KEYS: frozenset[str] = frozenset(
    {
        "id",
        "version",
        "createdDateTime",
        "lastModifiedDateTime",
        "modifiedDateTime",
        # Who created/changed the object is audit metadata, not configuration: a different admin
        # saving identical settings is no drift (the audit log answers "who").
        "createdBy",
        "lastModifiedBy",
        # Server-computed summaries of the object itself.
        "settingCount",
        "isAssigned",
        "supportsScopeTags",
        # Settings catalog: template references tie an instance to its template slot (server
        # bookkeeping); an expanded `settingDefinitions` is catalogue metadata, not a value.
        "settingInstanceTemplateReference",
        "settingValueTemplateReference",
        "settingDefinitions",
    }
)
# Any key containing "@odata." is an annotation ("@odata.type", "@odata.context",
# "definition@odata.bind", "scheduledActionsForRule@odata.context", ...): the type is implied by
# the policy, binds are read only for list identity.
_ODATA = "@odata."

# Top-level payload keys represented once, from their own arguments.
_SEPARATE_TOP_LEVEL = frozenset({"roleScopeTagIds", "assignments"})

_SCALARS = (str, int, float, bool)
# Identity keys for lists of dicts, tried in order. "definition"/"presentation" are the admin
# template references: the nested object's id or the id parsed from "<name>@odata.bind".
_IDENTITY_KEYS = (
    "settingDefinitionId",
    "omaUri",
    "ruleName",
    "actionType",
    "definition",
    "presentation",
    "displayName",
    "name",
    "id",
)
_REFERENCE_KEYS = frozenset({"definition", "presentation"})
_BIND_ID = re.compile(r"\('([^']*)'\)\s*$")

_SECRET_SETTING_VALUE = "SecretSettingValue"

_KNOWN_TARGETS = {
    "groupAssignmentTarget": "include",
    "exclusionGroupAssignmentTarget": "exclude",
    "allDevicesAssignmentTarget": "allDevices",
    "allLicensedUsersAssignmentTarget": "allLicensedUsers",
}
_FILTER_ID = "deviceAndAppManagementAssignmentFilterId"
_FILTER_TYPE = "deviceAndAppManagementAssignmentFilterType"
_ASSIGNMENT_HANDLED = frozenset({"id", "source", "sourceId", "target", "intent"})


def normalize(
    payload: dict,
    assignments: list[dict] | None = None,
    scope_tags: list[str] | None = None,
    *,
    include_assignments: bool = True,
) -> dict[str, Any]:
    """The flat ``{path: leaf}`` map of one policy version, sorted by path (see module doc).

    `assignments` None falls back to ``payload["assignments"]`` (an ``$expand=assignments``
    capture), `scope_tags` None to ``payload["roleScopeTagIds"]``.
    """
    payload = payload or {}
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if value is None or key in _SEPARATE_TOP_LEVEL or _volatile(key):
            continue
        if key == "settings" and _is_settings_catalog(value):
            _instances(value, "settings", out)
        else:
            _walk(value, key, out)

    tags = scope_tags if scope_tags is not None else payload.get("roleScopeTagIds")
    if tags:
        out["scopeTags"] = sorted(str(tag) for tag in tags if tag is not None)

    if include_assignments:
        if assignments is None:
            assignments = payload.get("assignments")
        if assignments:
            _assignments(assignments, out)
    return dict(sorted(out.items()))


# --- generic JSON ----------------------------------------------------------------------------


def _volatile(key: str) -> bool:
    return key in VOLATILE_KEYS or _ODATA in key


def _join(prefix: str, key: str) -> str:
    if not prefix:
        return key
    if not key:
        return prefix
    if key[0] == "[":
        return prefix + key
    return f"{prefix}.{key}"


def _walk(value: Any, path: str, out: dict[str, Any]) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        _walk_dict(value, path, out)
    elif isinstance(value, list):
        _walk_list(value, path, out)
    elif isinstance(value, _SCALARS):
        out[path] = value
    else:  # not JSON (should not happen for Graph data): keep it comparable
        out[path] = str(value)


def _walk_dict(obj: dict, prefix: str, out: dict[str, Any], skip: str | None = None) -> None:
    encrypted = obj.get("isEncrypted") is True  # OMA-URI settings with an encrypted value
    for key, value in obj.items():
        if value is None or key == skip or _volatile(key):
            continue
        if encrypted and key == "value":
            key = "secretValue"
        _walk(value, _join(prefix, key), out)


def _walk_list(items: list, path: str, out: dict[str, Any]) -> None:
    values = [item for item in items if item is not None]
    if not values:
        return
    if all(isinstance(item, _SCALARS) for item in values):
        out[path] = _sorted_scalars(values)
        return
    if all(isinstance(item, dict) for item in values):
        identity = _identity(values)
        if identity is not None:
            label, ids = identity
            for item, ident in zip(values, ids, strict=True):
                seg = f"{path}[{label}={ident}]"
                before = len(out)
                # The identity is in the path; a definition/presentation object goes entirely
                # (its displayName, label, explainText... are catalogue metadata).
                _walk_dict(item, seg, out, skip=label)
                if len(out) == before:  # an element with nothing but its identity
                    out[f"{seg}.present"] = True
            return
    _unordered(values, path, out)


def _unordered(values: list, path: str, out: dict[str, Any]) -> None:
    """Elements normalized on their own, sorted by canonical JSON, keyed by position."""
    subs = []
    for item in values:
        sub: dict[str, Any] = {}
        _walk(item, "", sub)
        if sub:
            subs.append((_canonical(sub), sub))
    subs.sort(key=lambda pair: pair[0])
    for index, (_, sub) in enumerate(subs):
        seg = f"{path}[{index}]"
        for key, leaf in sub.items():
            out[_join(seg, key)] = leaf


def _canonical(flat: dict[str, Any]) -> str:
    return json.dumps(sorted(flat.items()), separators=(",", ":"), ensure_ascii=False)


def _sorted_scalars(values: list) -> list:
    # bool/int/float/str never compare across types: group by type name first.
    return sorted(values, key=lambda v: (type(v).__name__, v))


def _reference_id(item: dict, name: str) -> Any:
    ref = item.get(name)
    if isinstance(ref, dict) and ref.get("id") is not None:
        return ref["id"]
    bind = item.get(f"{name}@odata.bind")
    if isinstance(bind, str):
        match = _BIND_ID.search(bind)
        return match.group(1) if match else bind
    return None


def _identity(items: list[dict]) -> tuple[str, list[Any]] | None:
    """(label, one id per item) for the first key every item has; None when the first such key
    is not unique (the list is then treated as unordered)."""
    for key in _IDENTITY_KEYS:
        if key in _REFERENCE_KEYS:
            ids = [_reference_id(item, key) for item in items]
        else:
            ids = [item.get(key) for item in items]
        if all(isinstance(i, str | int) and not isinstance(i, bool) for i in ids):
            return (key, ids) if len(set(ids)) == len(ids) else None
    return None


# --- settings catalog ------------------------------------------------------------------------


def _is_settings_catalog(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(item, dict)
            and (isinstance(item.get("settingInstance"), dict) or "settingDefinitionId" in item)
            for item in value
        )
    )


def _instances(items: list, path: str, out: dict[str, Any]) -> None:
    """A list of setting instances (or {"id", "settingInstance"} wrappers), keyed by definition."""
    pairs = []  # (instance, wrapper or None)
    for item in items:
        if not isinstance(item, dict):
            continue
        inner = item.get("settingInstance")
        pairs.append((inner, item) if isinstance(inner, dict) else (item, None))
    if not pairs:
        return
    ids = [inst.get("settingDefinitionId") for inst, _ in pairs]
    if all(isinstance(i, str) for i in ids) and len(set(ids)) == len(ids):
        for (inst, wrapper), ident in zip(pairs, ids, strict=True):
            seg = f"{path}[id={ident}]"
            _instance(inst, seg, out)
            if wrapper is not None:
                _walk_dict(wrapper, seg, out, skip="settingInstance")
        return
    # Missing or duplicate definition ids (malformed): unordered, keyed by position.
    subs = []
    for inst, wrapper in pairs:
        sub: dict[str, Any] = {}
        _instance(inst, "", sub)
        if wrapper is not None:
            _walk_dict(wrapper, "", sub, skip="settingInstance")
        if sub:
            subs.append((_canonical(sub), sub))
    subs.sort(key=lambda pair: pair[0])
    for index, (_, sub) in enumerate(subs):
        for key, leaf in sub.items():
            out[_join(f"{path}[{index}]", key)] = leaf


def _instance(inst: dict, seg: str, out: dict[str, Any]) -> None:
    for key, value in inst.items():
        if value is None or key == "settingDefinitionId" or _volatile(key):
            continue
        if key == "choiceSettingValue" and isinstance(value, dict):
            _choice_value(value, seg, out)
        elif key == "simpleSettingValue" and isinstance(value, dict):
            _simple_value(value, seg, out)
        elif key == "groupSettingValue" and isinstance(value, dict):
            _group_value(value, seg, out)
        elif key == "simpleSettingCollectionValue" and isinstance(value, list):
            _simple_collection(value, seg, out)
        elif key == "choiceSettingCollectionValue" and isinstance(value, list):
            _choice_collection(value, seg, out)
        elif key == "groupSettingCollectionValue" and isinstance(value, list):
            for index, group in enumerate(value):
                if isinstance(group, dict):
                    _group_value(group, f"{seg}.groups[{index}]", out)
        else:
            _walk(value, _join(seg, key), out)


def _choice_value(value: dict, seg: str, out: dict[str, Any]) -> None:
    """A choice value (or a group of a group collection): its children, then its other keys."""
    for key, item in value.items():
        if item is None or _volatile(key):
            continue
        if key == "children":
            if item:
                _instances(item, _join(seg, "children"), out)
        else:  # "value" and anything Graph may add
            _walk(item, _join(seg, key), out)


def _simple_value(value: dict, seg: str, out: dict[str, Any]) -> None:
    secret = _SECRET_SETTING_VALUE in (value.get("@odata.type") or "")
    for key, item in value.items():
        if item is None or _volatile(key):
            continue
        if secret and key == "valueState":
            # How Graph rendered the secret ("encryptedValueToken", "notEncrypted"), not a setting.
            continue
        if secret and key == "value":
            key = "secretValue"
        _walk(item, _join(seg, key), out)


# A group of a group collection is walked like a choice value: its children, then any other key.
_group_value = _choice_value


def _simple_collection(values: list, seg: str, out: dict[str, Any]) -> None:
    scalars = []
    secret = False
    for item in values:
        if isinstance(item, dict):
            secret = secret or _SECRET_SETTING_VALUE in (item.get("@odata.type") or "")
            item = item.get("value")
        if isinstance(item, _SCALARS):
            scalars.append(item)
    if scalars:
        out[_join(seg, "secretValues" if secret else "values")] = _sorted_scalars(scalars)


def _choice_collection(values: list, seg: str, out: dict[str, Any]) -> None:
    choices = []
    for item in values:
        if not isinstance(item, dict):
            continue
        choice = item.get("value")
        if isinstance(choice, _SCALARS):
            choices.append(choice)
        children = item.get("children")
        if children:
            _instances(children, f"{seg}.values[value={choice}].children", out)
    if choices:
        out[_join(seg, "values")] = _sorted_scalars(choices)


# --- assignments -----------------------------------------------------------------------------


def _target_key(target: dict) -> str:
    odata_type = target.get("@odata.type") or ""
    kind = odata_type.rsplit(".", 1)[-1].lstrip("#")
    group_id = target.get("groupId")
    mapped = _KNOWN_TARGETS.get(kind)
    if mapped in ("include", "exclude"):
        return f"{mapped}:{group_id}"
    if mapped:
        return mapped
    if not kind:
        return f"include:{group_id}" if group_id else "unknown"
    # Other target types: the type's last segment, plus the object it names, if any, so two
    # targets of one type do not collapse into one key.
    other = group_id or target.get("collectionId")
    return f"{kind}:{other}" if other else kind


def _assignment_leaves(assignment: dict) -> dict[str, Any]:
    leaves: dict[str, Any] = {"assigned": True}
    target = assignment.get("target") or {}
    filter_type = target.get(_FILTER_TYPE)
    if filter_type not in (None, "none"):
        leaves["filter"] = f"{filter_type}:{target.get(_FILTER_ID) or ''}"
    if assignment.get("intent") is not None:
        leaves["intent"] = assignment["intent"]
    for key, value in assignment.items():  # e.g. app assignment "settings"
        if key not in _ASSIGNMENT_HANDLED and value is not None and not _volatile(key):
            _walk(value, key, leaves)
    return leaves


def _assignments(assignments: list[dict], out: dict[str, Any]) -> None:
    entries = [
        (_target_key(a.get("target") or {}), _assignment_leaves(a))
        for a in assignments
        if isinstance(a, dict)
    ]
    counts: dict[str, int] = {}
    for key, _ in entries:
        counts[key] = counts.get(key, 0) + 1
    if any(n > 1 for n in counts.values()):  # same target twice: number them deterministically
        entries.sort(key=lambda entry: (entry[0], _canonical(entry[1])))
        seen: dict[str, int] = {}
        numbered = []
        for key, leaves in entries:
            if counts[key] > 1:
                seen[key] = seen.get(key, 0) + 1
                key = f"{key}#{seen[key]}"
            numbered.append((key, leaves))
        entries = numbered
    for key, leaves in entries:
        seg = f"assignments[{key}]"
        for leaf_key, leaf in leaves.items():
            out[f"{seg}.{leaf_key}"] = leaf
