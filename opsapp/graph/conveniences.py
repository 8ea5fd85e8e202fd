"""Domain helpers (policies, assignments, groups) written once on top of the Graph primitives.

Any class providing ``iter_collection``, ``get``, ``post``, ``patch``, ``put`` and ``batch_get``
gets the rest of the ``GraphClient`` interface by inheriting ``GraphConveniences``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from opsapp.graph.client import MAX_BATCH_REQUESTS, Json
from opsapp.graph.errors import GraphError, bad_response
from opsapp.policy_types import POLICY_TYPES_BY_KEY, PolicyType

logger = logging.getLogger("opsapp.graph")

GROUP_FIELDS = ("id", "displayName", "description", "groupTypes", "securityEnabled", "mailEnabled")
SETTINGS_CATALOG_KEY = "settingsCatalogPolicy"


def policy_type(key: str) -> PolicyType:
    """The ``PolicyType`` for a key, or ValueError naming the supported ones."""
    try:
        return POLICY_TYPES_BY_KEY[key]
    except KeyError:
        raise ValueError(f"unsupported policy type {key!r}") from None


class GraphConveniences:
    """Mixin implementing the domain half of ``GraphClient`` over its primitives."""

    # Provided by the concrete client.
    iter_collection: Any
    get: Any
    post: Any
    patch: Any
    put: Any
    batch_get: Any

    async def list_policies(
        self, policy_type_key: str, *, select: Sequence[str] | None = None
    ) -> AsyncIterator[Json]:
        """Stream every object of a supported policy type (`PolicyType.page_size` a page)."""
        ptype = policy_type(policy_type_key)
        async for item in self.iter_collection(
            ptype.graph_path,
            select=select,
            api_version=ptype.api_version,
            page_size=ptype.page_size,
        ):
            yield item

    async def get_policy(self, policy_type_key: str, policy_id: str) -> Json:
        """GET one policy object."""
        ptype = policy_type(policy_type_key)
        return await self.get(f"{ptype.graph_path}/{policy_id}", api_version=ptype.api_version)

    async def list_assignments(self, policy_type_key: str, policy_id: str) -> list[Json]:
        """A policy's assignments; ``[]`` for types that have none."""
        ptype = policy_type(policy_type_key)
        if not ptype.has_assignments:
            return []
        path = f"{ptype.graph_path}/{policy_id}/assignments"
        return [a async for a in self.iter_collection(path, api_version=ptype.api_version)]

    async def list_assignments_many(
        self, policy_type_key: str, policy_ids: Sequence[str]
    ) -> dict[str, list[Json] | GraphError]:
        """Assignments of many policies, 20 per ``$batch`` round trip."""
        ptype = policy_type(policy_type_key)
        ids = list(dict.fromkeys(policy_ids))
        if not ptype.has_assignments:
            return {pid: [] for pid in ids}
        paths = [f"{ptype.graph_path}/{pid}/assignments" for pid in ids]
        answers = await self.batch_get(paths, api_version=ptype.api_version)
        result: dict[str, list[Json] | GraphError] = {}
        for pid, path, answer in zip(ids, paths, answers, strict=True):
            result[pid] = await self._assignments_from(path, answer, ptype.api_version)
        return result

    async def _assignments_from(  # any collection answered inside a $batch
        self, path: str, answer: Json | GraphError, api_version: str
    ) -> list[Json] | GraphError:
        if isinstance(answer, GraphError):
            return answer
        value = answer.get("value")
        if not isinstance(value, list):
            return bad_response(path=path, detail="'value' is not a list")
        if answer.get("@odata.nextLink"):
            # Rare (hundreds of assignments): read the whole collection the ordinary way.
            try:
                return [a async for a in self.iter_collection(path, api_version=api_version)]
            except GraphError as exc:
                return exc
        return value

    async def get_policies_many(
        self, policy_type_key: str, policy_ids: Sequence[str]
    ) -> dict[str, Json | GraphError]:
        """Many policy objects of one type, 20 single-object GETs per ``$batch`` round trip.

        An answer that is not the object asked for (no matching ``id``) is a bad response."""
        ptype = policy_type(policy_type_key)
        ids = list(dict.fromkeys(policy_ids))
        paths = [f"{ptype.graph_path}/{pid}" for pid in ids]
        answers = await self.batch_get(paths, api_version=ptype.api_version)
        result: dict[str, Json | GraphError] = {}
        for pid, path, answer in zip(ids, paths, answers, strict=True):
            if not isinstance(answer, GraphError) and str(answer.get("id")) != pid:
                answer = bad_response(path=path, detail="not the requested object")
            result[pid] = answer
        return result

    async def list_policy_settings_many(
        self, policy_ids: Sequence[str]
    ) -> dict[str, list[Json] | GraphError]:
        """Settings of many settings-catalog policies, 20 per ``$batch`` round trip."""
        ptype = policy_type(SETTINGS_CATALOG_KEY)
        ids = list(dict.fromkeys(policy_ids))
        paths = [f"{ptype.graph_path}/{pid}/settings" for pid in ids]
        answers = await self.batch_get(paths, api_version=ptype.api_version)
        result: dict[str, list[Json] | GraphError] = {}
        for pid, path, answer in zip(ids, paths, answers, strict=True):
            result[pid] = await self._assignments_from(path, answer, ptype.api_version)
        return result

    async def iter_policy_settings(self, policy_id: str) -> AsyncIterator[Json]:
        """Stream a settings-catalog policy's settings."""
        ptype = policy_type(SETTINGS_CATALOG_KEY)
        path = f"{ptype.graph_path}/{policy_id}/settings"
        async for item in self.iter_collection(path, api_version=ptype.api_version):
            yield item

    async def create_policy(self, policy_type_key: str, *, payload: Json) -> Json:
        """Create a policy object (restore)."""
        ptype = policy_type(policy_type_key)
        return await self.post(ptype.graph_path, json=payload, api_version=ptype.api_version)

    async def update_policy(self, policy_type_key: str, policy_id: str, *, payload: Json) -> Json:
        """Update a policy object with its type's verb (restore).

        PATCH merges ``payload``; settings catalog takes PUT, which replaces every property and
        the settings, so its payload must be complete (``opsapp.graph.writes.write_body``).
        """
        ptype = policy_type(policy_type_key)
        path = f"{ptype.graph_path}/{policy_id}"
        send = self.put if ptype.update_method == "PUT" else self.patch
        return await send(path, json=payload, api_version=ptype.api_version)

    async def assign_policy(
        self, policy_type_key: str, policy_id: str, *, assignments: list[Json]
    ) -> Json:
        """Replace a policy's assignments via the ``assign`` action (restore)."""
        ptype = policy_type(policy_type_key)
        path = f"{ptype.graph_path}/{policy_id}/assign"
        body = {"assignments": assignments}
        return await self.post(path, json=body, api_version=ptype.api_version)

    async def iter_groups(self, *, include_member_count: bool = True) -> AsyncIterator[Json]:
        """Stream Entra groups; member counts come 20 at a time through ``$batch``."""
        pending: list[Json] = []
        async for group in self.iter_collection("groups", select=GROUP_FIELDS, api_version="v1.0"):
            if not include_member_count:
                yield group
                continue
            pending.append(group)
            if len(pending) == MAX_BATCH_REQUESTS:
                for counted in await self._with_member_counts(pending):
                    yield counted
                pending = []
        for counted in await self._with_member_counts(pending):
            yield counted

    async def _with_member_counts(self, groups: list[Json]) -> list[Json]:
        if not groups:
            return []
        paths = [f"groups/{g.get('id')}/members/$count" for g in groups]
        try:
            # $count on directory objects is an "advanced query": Graph insists on this header.
            answers = await self.batch_get(
                paths, api_version="v1.0", headers={"ConsistencyLevel": "eventual"}
            )
        except GraphError as exc:
            # Counts are a nicety: the groups themselves still sync without them.
            logger.warning("Graph member counts unavailable for a page of groups: %s", exc.code)
            answers = [exc] * len(groups)
        counted = []
        for group, answer in zip(groups, answers, strict=True):
            count = None if isinstance(answer, GraphError) else answer.get("value")
            counted.append({**group, "memberCount": count if isinstance(count, int) else None})
        return counted
