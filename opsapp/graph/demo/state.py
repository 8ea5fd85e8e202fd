"""The demo Graph's in-memory world and its Python control API (tokens, faults, mutations)."""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from opsapp.graph.demo.data import TenantData
from opsapp.graph.demo.faults import Faults, FaultState
from opsapp.graph.demo.tenants import DEMO_TENANTS, DemoTenant


@dataclass
class TenantState:
    """One demo tenant at runtime: its objects, faults and request counters."""

    tenant: DemoTenant
    data: TenantData
    faults: FaultState = field(default_factory=FaultState)
    token_requests: int = 0
    graph_requests: int = 0
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=500))
    lock: threading.RLock = field(default_factory=threading.RLock)  # writes vs admin thread

    def record(self, method: str, path: str, query: dict[str, str]) -> None:
        """Count a Graph request and keep it (method, path, query) for tests to inspect."""
        with self.lock:
            self.graph_requests += 1
            self.recent.append({"method": method, "path": path, "query": query})


class DemoGraph:
    """All demo tenants plus issued tokens. Share one instance between app and tests."""

    def __init__(
        self,
        *,
        tenants: Iterable[DemoTenant] = DEMO_TENANTS,
        page_size: int = 100,
        max_page_size: int = 999,
        token_ttl_s: int = 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.page_size = page_size
        self.max_page_size = max_page_size
        self.token_ttl_s = token_ttl_s
        self.clock = clock
        self._tenants = {t.slug: TenantState(tenant=t, data=TenantData(t)) for t in tenants}
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (slug, expires_at)
        self._lock = threading.Lock()

    # -- lookup ----------------------------------------------------------------------------
    def tenant(self, key: str) -> TenantState:
        """A tenant by slug or Entra tenant id; KeyError when unknown."""
        key = key.lower()
        for state in self._tenants.values():
            if key in (state.tenant.slug, state.tenant.entra_tenant_id.lower()):
                return state
        raise KeyError(key)

    def tenants(self) -> list[TenantState]:
        """All tenants."""
        return list(self._tenants.values())

    # -- tokens ----------------------------------------------------------------------------
    def issue_token(self, tenant_key: str, *, client_id: str, client_secret: str) -> dict | None:
        """A token answer for valid client credentials, else None."""
        try:
            state = self.tenant(tenant_key)
        except KeyError:
            return None
        with state.lock:
            state.token_requests += 1
        creds_ok = secrets.compare_digest(client_id, state.tenant.client_id) and (
            secrets.compare_digest(client_secret, state.tenant.client_secret)
        )
        if not creds_ok:
            return None
        ttl = state.faults.faults.token_ttl_s or self.token_ttl_s
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = (state.tenant.slug, self.clock() + ttl)
        return {"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl,
                "access_token": token}  # fmt: skip

    def authenticate(self, token: str) -> TenantState | None:
        """The tenant a bearer token belongs to, or None (unknown, revoked or expired)."""
        with self._lock:
            entry = self._tokens.get(token)
            if entry is None:
                return None
            slug, expires_at = entry
            if self.clock() >= expires_at:
                del self._tokens[token]
                return None
        return self._tenants[slug]

    def revoke_tokens(self, tenant_key: str) -> int:
        """Invalidate every token of a tenant (clients must refresh on their next 401)."""
        slug = self.tenant(tenant_key).tenant.slug
        with self._lock:
            doomed = [t for t, (s, _) in self._tokens.items() if s == slug]
            for token in doomed:
                del self._tokens[token]
        return len(doomed)

    # -- control API (also behind /_demo/...) -----------------------------------------------
    def set_faults(self, tenant_key: str, faults: Faults | None = None, **switches: Any) -> Faults:
        """Replace a tenant's faults (a ``Faults`` or keyword switches); counters restart."""
        new = faults or Faults.from_json(switches)
        self.tenant(tenant_key).faults.set(new)
        return new

    def clear_faults(self, tenant_key: str) -> None:
        """Make a tenant healthy again."""
        self.tenant(tenant_key).faults.set(Faults())

    def mutate(self, tenant_key: str, **changes: Any) -> dict[str, list[dict[str, str]]]:
        """Modify / add / remove objects (see ``TenantData.mutate``)."""
        state = self.tenant(tenant_key)
        with state.lock:
            return state.data.mutate(**changes)

    def reset(self, tenant_key: str | None = None) -> None:
        """Back to the seeded state: objects, faults, counters (one tenant or all)."""
        keys = [tenant_key] if tenant_key else list(self._tenants)
        for key in keys:
            state = self.tenant(key)
            with state.lock:
                state.data = TenantData(state.tenant)
                state.faults.set(Faults())
                state.token_requests = state.graph_requests = 0
                state.recent.clear()
            self.revoke_tokens(key)

    def stats(self, tenant_key: str) -> dict[str, Any]:
        """Counters and the most recent requests of a tenant."""
        state = self.tenant(tenant_key)
        with state.lock:
            return {
                "token_requests": state.token_requests,
                "graph_requests": state.graph_requests,
                "recent": list(state.recent)[-50:],
                "faults": state.faults.faults.to_json(),
            }
