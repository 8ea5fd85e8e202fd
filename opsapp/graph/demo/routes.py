"""Resolve one Graph request (path below the version root) against a demo tenant.

Shared by the HTTP endpoint and ``$batch`` so both behave identically (403 faults included).

Policy writes follow Graph's rules, with the vocabulary of ``opsapp.graph.writes`` (what the
restore payload shaper strips is exactly what is refused here):

- a create (POST to a collection) needs ``@odata.type`` (400 otherwise);
- a POST/PATCH/PUT body with a read-only top-level property answers 400 naming it;
- ``settings`` are only taken by settings-catalog policies (a list of objects);
- updates use the type's verb (``PolicyType.update_method``): PATCH elsewhere, PUT on
  configurationPolicies; the other verb answers 405;
- PUT replaces a configurationPolicy's properties (server-managed ones such as ``id`` and
  ``createdDateTime`` stay) and its settings (``body["settings"]``; missing = none).

Refused writes change nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from opsapp.graph.demo.answers import Answer, error
from opsapp.graph.demo.data import GROUPS, number_settings
from opsapp.graph.demo.faults import matches
from opsapp.graph.demo.state import SETTINGS_CATALOG, DemoGraph, TenantState
from opsapp.graph.writes import ODATA_TYPE, is_read_only, read_only_keys_in
from opsapp.policy_types import POLICY_TYPES, POLICY_TYPES_BY_KEY

Item = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One Graph call as the router sees it."""

    demo: DemoGraph
    state: TenantState
    method: str
    version: str
    path: str  # below the version root, no leading slash
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: Any
    base_url: str  # "http://host:port/" for nextLinks
    token: str | None

    def fail(self, status: int, message: str, **kw: Any) -> Answer:
        """A Graph error answer honouring the tenant's leak fault."""
        leak = self.state.faults.faults.leak_secrets
        return error(status, message, tenant=self.state.tenant, leak=leak, token=self.token, **kw)


def resolve(call: Call) -> Answer:
    """Answer a call (caller holds the tenant lock)."""
    faults = call.state.faults.faults
    if matches(faults.forbidden, call.path) or (faults.read_only and call.method != "GET"):
        return call.fail(403, "Application is not authorized to perform this operation.")
    segments = call.path.split("/")
    if segments[0] == GROUPS:
        return _groups(call, segments[1:])
    for ptype in POLICY_TYPES:
        prefix = ptype.graph_path.split("/")
        if segments[: len(prefix)] == prefix:
            if call.version != ptype.api_version:
                return call.fail(400, f"Resource not found for the segment '{prefix[-1]}'.")
            return _policies(call, ptype.key, segments[len(prefix) :])
    return call.fail(400, f"Resource not found for the segment '{segments[0]}'.")


def _policies(call: Call, key: str, rest: list[str]) -> Answer:
    data = call.state.data
    coll = data.policies[key]
    method = call.method
    if not rest:
        if method == "GET":
            return _page(call, lambda cursor, top: coll.page(cursor=cursor, top=top))
        if method == "POST" and isinstance(call.body, dict):
            return _create(call, key)
        return call.fail(400, "Unsupported request on a collection.")
    object_id, tail = rest[0], rest[1:]
    if coll.get(object_id) is None:
        return call.fail(404, f"Resource '{object_id}' does not exist.")
    if not tail:
        if method == "GET":
            return Answer(200, _select(coll.get(object_id), call.query))
        if method in ("PATCH", "PUT"):
            return _update(call, key, object_id)
        if method == "DELETE":
            coll.delete(object_id)
            return Answer(204)
    elif tail == ["assignments"] and method == "GET":
        items = data.assignments(key, object_id) or []
        return _page(call, _slicer(items))
    elif tail == ["assign"] and method == "POST" and isinstance(call.body, dict):
        assignments = data.assign(key, object_id, list(call.body.get("assignments") or []))
        return Answer(200, {"value": assignments})
    elif tail == ["settings"] and method == "GET" and key == "settingsCatalogPolicy":
        return _page(call, _slicer(data.settings(object_id) or []))
    return call.fail(400, "Unsupported request on this resource.")


def _refused_write(call: Call, key: str) -> Answer | None:
    """The 400 a write body earns (read-only property, misplaced settings), or None."""
    body = call.body
    if not isinstance(body, dict):
        return call.fail(400, "A JSON object is required in the request body.")
    read_only = read_only_keys_in(body)
    if read_only:
        return call.fail(400, f"The property '{read_only[0]}' is read-only and cannot be set.")
    if "settings" in body:
        if key != SETTINGS_CATALOG:
            return call.fail(400, "The property 'settings' does not exist on this type.")
        settings = body["settings"]
        if not isinstance(settings, list) or not all(isinstance(s, dict) for s in settings):
            return call.fail(400, "The property 'settings' must be a collection of objects.")
    return None


def _create(call: Call, key: str) -> Answer:
    if not call.body.get(ODATA_TYPE):
        return call.fail(400, "A value for '@odata.type' is required.")
    refused = _refused_write(call, key)
    if refused is not None:
        return refused
    body = dict(call.body)
    if "settings" in body:
        body["settings"] = number_settings(body["settings"])
    data = call.state.data
    return Answer(201, data.policies[key].create(body, stamp=data.stamp()))


def _update(call: Call, key: str, object_id: str) -> Answer:
    verb = POLICY_TYPES_BY_KEY[key].update_method
    if call.method != verb:
        message = f"The HTTP method '{call.method}' is not allowed for this resource; use {verb}."
        return call.fail(405, message)
    refused = _refused_write(call, key)
    if refused is not None:
        return refused
    data = call.state.data
    if call.method == "PUT":
        data.replace_policy(key, object_id, call.body, keep=is_read_only)
    else:
        data.policies[key].update(object_id, call.body, stamp=data.stamp())
    return Answer(204)


def _groups(call: Call, rest: list[str]) -> Answer:
    groups = call.state.data.groups
    if call.method != "GET":
        return call.fail(400, "Groups are read-only in the demo Graph.")
    if not rest:
        return _page(call, lambda cursor, top: groups.page(cursor=cursor, top=top))
    group = groups.get(rest[0])
    if group is None:
        return call.fail(404, f"Resource '{rest[0]}' does not exist.")
    if len(rest) == 1:
        return Answer(200, _select(group, call.query))
    if rest[1:] == ["members", "$count"]:
        if call.headers.get("consistencylevel", "").lower() != "eventual":
            return call.fail(400, "$count is not supported without ConsistencyLevel: eventual.")
        return Answer(200, call.state.data.member_count(rest[0]), text=True)
    return call.fail(400, "Unsupported request on this group.")


def _slicer(items: list[Item]) -> Callable[[int, int], tuple[list[Item], int | None]]:
    def page(cursor: int, top: int) -> tuple[list[Item], int | None]:
        end = cursor + top
        return items[cursor:end], (end if end < len(items) else None)

    return page


def _page(call: Call, read: Callable[[int, int], tuple[list[Item], int | None]]) -> Answer:
    demo, faults = call.demo, call.state.faults.faults
    try:
        top = int(call.query.get("$top") or faults.page_size or demo.page_size)
        cursor = int(call.query.get("$skiptoken") or 0)
    except ValueError:
        return call.fail(400, "Invalid $top or $skiptoken.")
    if top < 1 or cursor < 0:
        return call.fail(400, "Invalid $top or $skiptoken.")
    items, next_cursor = read(cursor, min(top, demo.max_page_size))
    body: dict[str, Any] = {
        "@odata.context": f"{call.base_url}{call.version}/$metadata#{call.path}",
        "value": [_select(item, call.query) for item in items],
    }
    if next_cursor is not None:
        query = {k: v for k, v in call.query.items() if k != "$skiptoken"}
        query.update({"$top": str(top), "$skiptoken": str(next_cursor)})
        link = f"{call.base_url}{call.version}/{quote(call.path)}?{urlencode(query)}"
        body["@odata.nextLink"] = link
    return Answer(200, body)


def _select(item: Item | None, query: Mapping[str, str]) -> Item | None:
    wanted = query.get("$select")
    if not wanted or item is None:
        return item
    fields = {f.strip() for f in wanted.split(",")} | {"id", "@odata.type"}
    return {k: v for k, v in item.items() if k in fields}
