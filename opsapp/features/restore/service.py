"""What the pages and the command line call: preview with the tenant's Graph client."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from opsapp.db import get_engine, session_scope
from opsapp.features.graph_access import graph_for
from opsapp.features.restore.preview import preview
from opsapp.models import Tenant
from opsapp.operations.access import NotFound


async def preview_restore(
    *,
    tenant_id: int,
    restore_id: int,
    user_id: int | None,
    user_name: str,
    engine: Engine | None = None,
) -> dict[str, int]:
    """Plan the restore against the live tenant (see preview.preview)."""
    engine = engine or get_engine()
    with session_scope(engine) as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound()
        session.expunge(tenant)
    async with graph_for(tenant) as graph:
        return await preview(
            engine,
            graph,
            tenant_id=tenant_id,
            restore_id=restore_id,
            user_id=user_id,
            user_name=user_name,
        )
