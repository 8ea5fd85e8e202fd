"""Build the Graph client for a tenant: the demo Graph for demo tenants, Microsoft Graph with
the tenant's own app registration otherwise. Both are the same HTTP client code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from opsapp.graph import GraphClient, GraphError, make_graph_client
from opsapp.models import ProviderKind, Tenant
from opsapp.security import SecretUnreadable, decrypt_secret
from opsapp.settings import get_settings


def _build(tenant: Tenant) -> GraphClient:
    settings = get_settings()
    if tenant.provider == ProviderKind.demo:
        if settings.graph_mode == "live":
            raise GraphError("graph.unauthorized", "Demo tenants are disabled in live Graph mode")
        from opsapp.graph.demo import make_demo_graph_client

        return make_demo_graph_client(
            tenant.entra_tenant_id or tenant.slug, base_url=settings.demo_graph_url or None
        )
    if not (tenant.entra_tenant_id and tenant.client_id and tenant.client_secret_encrypted):
        raise GraphError(
            "graph.unauthorized",
            "The tenant has no complete app registration (tenant id, client id, secret)",
        )
    try:
        secret = decrypt_secret(tenant.client_secret_encrypted)
    except SecretUnreadable:
        raise GraphError(
            "graph.unauthorized",
            "The tenant's client secret cannot be decrypted with the current key",
        ) from None
    return make_graph_client(
        tenant_id=tenant.entra_tenant_id,
        client_id=tenant.client_id,
        client_secret=secret,
        graph_base=settings.graph_base_url,
        login_base=settings.login_base_url,
    )


@asynccontextmanager
async def graph_for(tenant: Tenant) -> AsyncIterator[GraphClient]:
    """A Graph client for `tenant`, closed on exit."""
    client = _build(tenant)
    try:
        yield client
    finally:
        await client.aclose()
