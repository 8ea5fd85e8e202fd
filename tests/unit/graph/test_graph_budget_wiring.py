"""Which limiter `graph_for` gives a tenant's client: one budget per tenant and app, shared
through Redis in scaled mode (OPSAPP_BROKER=redis), in-process in embedded mode, sized by the
OPSAPP_*GRAPH_BUDGET_* settings. Nothing here talks to Redis or Graph."""

from __future__ import annotations

import pytest

from opsapp.features.graph_access import graph_for
from opsapp.graph.demo import CONTOSO
from opsapp.graph.pacing import SlidingWindowLimiter
from opsapp.graph.shared_pacing import SEND_JITTER_GUARD_S, RedisSlidingWindowLimiter
from opsapp.models import ProviderKind, Tenant
from opsapp.security import encrypt_secret
from opsapp.settings import get_settings

LIVE_TENANT_ID = "11111111-2222-4333-8444-555555555555"


def demo_tenant() -> Tenant:
    return Tenant(name="Contoso", slug="contoso", entra_tenant_id=CONTOSO.entra_tenant_id)


def live_tenant(client_id: str = "app-one") -> Tenant:
    return Tenant(
        name="Live",
        slug="live",
        entra_tenant_id=LIVE_TENANT_ID,
        provider=ProviderKind.client_credentials.value,
        client_id=client_id,
        client_secret_encrypted=encrypt_secret("s3cret-value"),
    )


@pytest.fixture
def mode(monkeypatch):
    def set_mode(broker: str, **env: str) -> None:
        monkeypatch.setenv("OPSAPP_BROKER", broker)
        monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/9")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    return set_mode


async def limiter_of(tenant: Tenant):
    async with graph_for(tenant) as client:
        return client.limiter


async def test_scaled_mode_shares_one_redis_budget_per_tenant_and_app(mode):
    mode("redis", OPSAPP_GRAPH_BUDGET_REQUESTS="900", OPSAPP_GRAPH_BUDGET_WINDOW_SECONDS="10")

    first, again = await limiter_of(live_tenant()), await limiter_of(live_tenant())
    other_app = await limiter_of(live_tenant("app-two"))

    assert isinstance(first, RedisSlidingWindowLimiter)
    assert first is again and other_app is not first
    assert first.key == f"opsapp:graph-budget:{LIVE_TENANT_ID}:app-one"
    assert first.redis_url == "redis://127.0.0.1:6379/9"
    assert first.max_requests == 900
    assert first.window_s == pytest.approx(10 + SEND_JITTER_GUARD_S)
    # Its fallback is this process's limiter of the same tenant, app and budget.
    assert isinstance(first.fallback, SlidingWindowLimiter)
    assert first.fallback.max_requests == 900


async def test_embedded_mode_paces_in_process_with_the_same_budget(mode):
    mode("memory")

    first, again = await limiter_of(live_tenant()), await limiter_of(live_tenant())

    assert isinstance(first, SlidingWindowLimiter) and first is again
    assert first.max_requests == 1000  # Graph's budget by default
    assert first.window_s == pytest.approx(20 + SEND_JITTER_GUARD_S)


@pytest.mark.parametrize("broker", ["memory", "redis"])
async def test_demo_tenants_keep_their_roomier_budget_unless_configured(mode, broker):
    mode(broker)
    default = await limiter_of(demo_tenant())
    assert default.max_requests == 20_000

    mode(broker, OPSAPP_DEMO_GRAPH_BUDGET_REQUESTS="1000")
    real = await limiter_of(demo_tenant())
    assert real.max_requests == 1000
    if broker == "redis":
        assert real.key == f"opsapp:graph-budget:{CONTOSO.entra_tenant_id}:{CONTOSO.client_id}"
