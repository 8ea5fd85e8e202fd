"""Build the Graph client for a tenant: the demo Graph for demo tenants, Microsoft Graph with
the tenant's own app registration otherwise. Both are the same HTTP client code.

Every client of a tenant and app paces to one request budget (OPSAPP_GRAPH_BUDGET_*): shared by
all workers through Redis in scaled mode (OPSAPP_BROKER=redis), in-process in embedded mode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from opsapp.graph import GraphClient, GraphError, make_graph_client
from opsapp.graph.pacing import Pacer
from opsapp.graph.shared_pacing import budget_limiter
from opsapp.models import ProviderKind, Tenant
from opsapp.security import SecretUnreadable, decrypt_secret
from opsapp.settings import Settings, get_settings


def _limiter(settings: Settings, *, tenant_id: str, client_id: str, demo: bool) -> Pacer:
    """The tenant and app's budget: every worker's (Redis) in scaled mode, else this process's."""
    return budget_limiter(
        tenant_id,
        client_id,
        max_requests=(
            settings.demo_graph_budget_requests if demo else settings.graph_budget_requests
        ),
        window_s=settings.graph_budget_window_seconds,
        shared=settings.broker == "redis",
        redis_url=settings.redis_url,
    )


def _build(tenant: Tenant) -> GraphClient:
    settings = get_settings()
    if tenant.provider == ProviderKind.demo:
        if settings.graph_mode == "live":
            raise GraphError("graph.unauthorized", "Demo tenants are disabled in live Graph mode")
        from opsapp.graph.demo import find_demo_tenant, make_demo_graph_client

        demo = find_demo_tenant(tenant.entra_tenant_id or tenant.slug)
        if demo is None:
            raise ValueError(f"unknown demo tenant {tenant.entra_tenant_id or tenant.slug!r}")
        return make_demo_graph_client(
            demo,
            base_url=settings.demo_graph_url or None,
            limiter=_limiter(
                settings, tenant_id=demo.entra_tenant_id, client_id=demo.client_id, demo=True
            ),
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
        limiter=_limiter(
            settings, tenant_id=tenant.entra_tenant_id, client_id=tenant.client_id, demo=False
        ),
    )


@asynccontextmanager
async def graph_for(tenant: Tenant) -> AsyncIterator[GraphClient]:
    """A Graph client for `tenant`, closed on exit."""
    client = _build(tenant)
    try:
        yield client
    finally:
        await client.aclose()
