"""The demo Graph's in-memory world and its Python control API (tokens, faults, mutations)."""

from __future__ import annotations

import copy
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from opsapp.graph.demo.data import TenantData
from opsapp.graph.demo.faults import Faults, FaultState
from opsapp.graph.demo.store import Collection
from opsapp.graph.demo.tenants import DEMO_TENANTS, DemoTenant
from opsapp.policy_types import POLICY_TYPES_BY_KEY

SETTINGS_CATALOG = "settingsCatalogPolicy"
UNITS_LOG_MAX = 200_000  # requests kept in a tenant's budget log


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
    # The budget: (arrival time, units, admitted) of every Graph request that reached it, and the
    # units admitted in the current window (what `budget_requests` throttles on).
    units_log: deque[tuple[float, int, bool]] = field(
        default_factory=lambda: deque(maxlen=UNITS_LOG_MAX)
    )
    units: int = 0
    budget_throttled: int = 0
    _budget_window: deque[tuple[float, int]] = field(default_factory=deque)

    def record(self, method: str, path: str, query: dict[str, str]) -> None:
        """Count a Graph request and keep it (method, path, query) for tests to inspect."""
        with self.lock:
            self.graph_requests += 1
            self.recent.append({"method": method, "path": path, "query": query})

    def spend(self, units: int, *, now: float | None = None) -> float | None:
        """Charge a Graph request of ``units`` to the tenant's budget (``Faults.budget_requests``,
        like Graph's per app and tenant throttling): None when admitted, else the seconds until
        it would fit (the request is then answered 429). Every call is logged in ``units_log``."""
        faults = self.faults.faults
        now = time.time() if now is None else now
        with self.lock:
            retry_after = None
            if faults.budget_requests > 0:
                window = self._budget_window
                horizon = now - faults.budget_window_s
                while window and window[0][0] <= horizon:
                    window.popleft()
                used = sum(u for _, u in window)
                need = used + min(units, faults.budget_requests) - faults.budget_requests
                if need > 0:  # wait until `need` units left the window
                    freed = 0
                    for stamp, u in window:
                        freed += u
                        if freed >= need:
                            retry_after = max(stamp + faults.budget_window_s - now, 0.001)
                            break
                else:
                    window.append((now, units))
            admitted = retry_after is None
            self.units_log.append((now, units, admitted))
            if admitted:
                self.units += units
            else:
                self.budget_throttled += 1
            return retry_after


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

    # -- precise edits (what drift tests set up; same code paths as Graph's PATCH/POST/...) ----
    def get_policy(self, tenant_key: str, policy_type: str, policy_id: str) -> dict[str, Any]:
        """One live policy object; KeyError for an unknown tenant, type or id."""
        state = self.tenant(tenant_key)
        with state.lock:
            return copy.deepcopy(_existing(state, policy_type, policy_id))

    def get_assignments(
        self, tenant_key: str, policy_type: str, policy_id: str
    ) -> list[dict[str, Any]]:
        """A policy's assignments as ``GET .../{id}/assignments`` answers them."""
        state = self.tenant(tenant_key)
        with state.lock:
            _existing(state, policy_type, policy_id)
            return copy.deepcopy(state.data.assignments(policy_type, policy_id) or [])

    def get_settings(self, tenant_key: str, policy_id: str) -> list[dict[str, Any]]:
        """A settings-catalog policy's settings as ``GET .../{id}/settings`` answers them."""
        state = self.tenant(tenant_key)
        with state.lock:
            _existing(state, SETTINGS_CATALOG, policy_id)
            return copy.deepcopy(state.data.settings(policy_id) or [])

    def update_policy(
        self, tenant_key: str, policy_type: str, policy_id: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """Merge top-level ``changes`` into a policy like Graph's PATCH (fresh modified stamp)."""
        state = self.tenant(tenant_key)
        with state.lock:
            _existing(state, policy_type, policy_id)
            if not isinstance(changes, dict):
                raise ValueError("changes must be a JSON object")
            _refuse_nested(changes)
            data = state.data
            updated = data.policies[policy_type].update(
                policy_id, copy.deepcopy(changes), stamp=data.stamp()
            )
            assert updated is not None
            return updated

    def set_policy_settings(
        self, tenant_key: str, policy_id: str, settings: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Replace a settings-catalog policy's settings (what ``GET .../settings`` returns)."""
        state = self.tenant(tenant_key)
        with state.lock:
            _existing(state, SETTINGS_CATALOG, policy_id)
            _check_items(settings, "settings")
            return state.data.replace_settings(policy_id, settings)

    def set_assignments(
        self, tenant_key: str, policy_type: str, policy_id: str, assignments: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Replace a policy's assignments like Graph's ``POST .../assign`` (ids ``{id}_{n}``)."""
        state = self.tenant(tenant_key)
        with state.lock:
            _existing(state, policy_type, policy_id)
            if not POLICY_TYPES_BY_KEY[policy_type].has_assignments:
                raise ValueError(f"{policy_type} objects have no assignments")
            _check_items(assignments, "assignments")
            return state.data.assign(policy_type, policy_id, assignments)

    def delete_policy(self, tenant_key: str, policy_type: str, policy_id: str) -> None:
        """Delete a policy like Graph's DELETE."""
        state = self.tenant(tenant_key)
        with state.lock:
            _existing(state, policy_type, policy_id)
            state.data.policies[policy_type].delete(policy_id)

    def create_policy(
        self, tenant_key: str, policy_type: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Create a policy like Graph's POST (new id and timestamps); returns the object."""
        state = self.tenant(tenant_key)
        with state.lock:
            coll = _collection(state, policy_type)
            if not isinstance(body, dict):
                raise ValueError("a policy must be a JSON object")
            if "assignments" in body:
                raise ValueError("assign after creating (set_assignments / PUT .../assignments)")
            if "settings" in body:
                if policy_type != SETTINGS_CATALOG:
                    raise ValueError("only settings-catalog policies take settings")
                _check_items(body["settings"], "settings")
            return coll.create(copy.deepcopy(body), stamp=state.data.stamp())

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
                state.units = state.budget_throttled = 0
                state.units_log.clear()
                state._budget_window.clear()
            self.revoke_tokens(key)

    def units_log(self, tenant_key: str, *, since: float = 0.0) -> list[list[Any]]:
        """``[arrival time, units, admitted]`` of the tenant's Graph requests after ``since``
        (epoch seconds, the server's clock): what a budget benchmark checks windows against."""
        state = self.tenant(tenant_key)
        with state.lock:
            return [[t, u, ok] for t, u, ok in state.units_log if t > since]

    def stats(self, tenant_key: str) -> dict[str, Any]:
        """Counters and the most recent requests of a tenant."""
        state = self.tenant(tenant_key)
        with state.lock:
            return {
                "token_requests": state.token_requests,
                "graph_requests": state.graph_requests,
                "units": state.units,
                "budget_throttled": state.budget_throttled,
                "recent": list(state.recent)[-50:],
                "faults": state.faults.faults.to_json(),
            }


def _collection(state: TenantState, policy_type: str) -> Collection:
    """A policy type's collection; KeyError for unknown types (groups are not policies)."""
    try:
        return state.data.policies[policy_type]
    except KeyError:
        raise KeyError(f"unknown policy type {policy_type!r}") from None


def _existing(state: TenantState, policy_type: str, policy_id: str) -> dict[str, Any]:
    """A live policy; KeyError when the type or the object is unknown (or deleted)."""
    policy = _collection(state, policy_type).get(policy_id)
    if policy is None:
        raise KeyError(f"no {policy_type} with id {policy_id!r}")
    return policy


def _refuse_nested(changes: dict[str, Any]) -> None:
    # Merged as plain properties they would change nothing a sync reads: say so instead.
    for name in ("settings", "assignments"):
        if name in changes:
            raise ValueError(f"{name} are not properties: use PUT .../{name}")


def _check_items(items: Any, what: str) -> None:
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError(f"{what} must be a list of JSON objects")
