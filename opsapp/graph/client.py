"""The one Graph interface every service uses; live and demo mode run the same implementation.

Paths are relative to the version root (``deviceManagement/configurationPolicies``); the client
builds ``{graph_base}/{api_version}/{path}``. Every failure raises ``GraphError`` (or, for
``batch_get`` / ``list_assignments_many``, comes back as one per item).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from opsapp.graph.errors import GraphError

Json = dict[str, Any]
Params = Mapping[str, str | int]

MAX_BATCH_REQUESTS = 20  # Graph's limit for one JSON $batch


@runtime_checkable
class GraphClient(Protocol):
    """Async Microsoft Graph client (see ``opsapp.graph.http_client.HttpGraphClient``)."""

    # -- primitives -------------------------------------------------------------------------
    def iter_collection(
        self,
        path: str,
        *,
        select: Sequence[str] | None = None,
        params: Params | None = None,
        api_version: str = "beta",
        page_size: int | None = None,
    ) -> AsyncIterator[Json]:
        """Stream a collection's items across ``@odata.nextLink`` pages, one page in memory."""
        ...

    async def get(
        self,
        path: str,
        *,
        select: Sequence[str] | None = None,
        params: Params | None = None,
        api_version: str = "beta",
    ) -> Json:
        """GET one resource."""
        ...

    async def post(self, path: str, *, json: Json, api_version: str = "beta") -> Json:
        """POST (create / action); returns the answer body, ``{}`` for 204."""
        ...

    async def patch(self, path: str, *, json: Json, api_version: str = "beta") -> Json:
        """PATCH (merge update); returns the answer body, ``{}`` for 204."""
        ...

    async def put(self, path: str, *, json: Json, api_version: str = "beta") -> Json:
        """PUT (full replacement); returns the answer body, ``{}`` for 204."""
        ...

    async def batch_get(
        self,
        paths: Sequence[str],
        *,
        api_version: str = "beta",
        headers: Mapping[str, str] | None = None,
    ) -> list[Json | GraphError]:
        """GET many paths through ``$batch`` (20 per call); results in input order.

        A non-object body (e.g. a ``$count``) comes back as ``{"value": <scalar>}``.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...

    # -- conveniences over opsapp.policy_types ---------------------------------------------
    def list_policies(
        self, policy_type_key: str, *, select: Sequence[str] | None = None
    ) -> AsyncIterator[Json]:
        """Stream every object of a supported policy type (``opsapp.policy_types`` key)."""
        ...

    async def get_policy(self, policy_type_key: str, policy_id: str) -> Json:
        """GET one policy object."""
        ...

    async def list_assignments(self, policy_type_key: str, policy_id: str) -> list[Json]:
        """A policy's assignments (``[]`` for types without assignments)."""
        ...

    async def list_assignments_many(
        self, policy_type_key: str, policy_ids: Sequence[str]
    ) -> dict[str, list[Json] | GraphError]:
        """Assignments of many policies via ``$batch``; a failure is reported per policy."""
        ...

    async def get_policies_many(
        self, policy_type_key: str, policy_ids: Sequence[str]
    ) -> dict[str, Json | GraphError]:
        """Many policy objects via ``$batch``; a failure is reported per policy."""
        ...

    async def list_policy_settings_many(
        self, policy_ids: Sequence[str]
    ) -> dict[str, list[Json] | GraphError]:
        """Settings of many settings-catalog policies via ``$batch``, reported per policy."""
        ...

    def iter_policy_settings(self, policy_id: str) -> AsyncIterator[Json]:
        """Stream a settings-catalog policy's ``/settings``."""
        ...

    async def create_policy(self, policy_type_key: str, *, payload: Json) -> Json:
        """Create a policy object; returns it as Graph answered (with its new ``id``)."""
        ...

    async def update_policy(self, policy_type_key: str, policy_id: str, *, payload: Json) -> Json:
        """Update a policy object with its type's ``update_method`` (PATCH; PUT for settings
        catalog, which replaces the properties and the ``settings`` the payload carries)."""
        ...

    async def assign_policy(
        self, policy_type_key: str, policy_id: str, *, assignments: list[Json]
    ) -> Json:
        """Replace a policy's assignments (``POST /{id}/assign``)."""
        ...

    def iter_groups(self, *, include_member_count: bool = True) -> AsyncIterator[Json]:
        """Stream Entra groups (v1.0); with ``memberCount`` (int or None) added when asked."""
        ...
