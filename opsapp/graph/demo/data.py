"""All objects of one demo tenant: policies per ``opsapp.policy_types`` type, plus Entra groups."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from opsapp.graph.demo import catalog
from opsapp.graph.demo.store import Collection, Item
from opsapp.graph.demo.tenants import DemoTenant
from opsapp.policy_types import POLICY_TYPES

GROUPS = "groups"
# Share of a tenant's size per policy type (types missing here get the default weight).
_TYPE_WEIGHTS = {
    "deviceConfiguration": 25,
    "settingsCatalogPolicy": 30,
    "deviceCompliancePolicy": 12,
    "groupPolicyConfiguration": 12,
    "windowsAutopilotDeploymentProfile": 3,
    "deviceEnrollmentConfiguration": 5,
    "assignmentFilter": 8,
    "roleScopeTag": 5,
}
_DEFAULT_WEIGHT = 5
# Changes get timestamps after every seeded one, advancing one minute per change.
_CHANGE_EPOCH = datetime(2025, 6, 1, tzinfo=UTC)


class TenantData:
    """The tenant's collections; cheap to build whatever the size (objects are lazy)."""

    def __init__(self, tenant: DemoTenant) -> None:
        self.tenant = tenant
        self.changes = 0
        seed = tenant.seed
        total_weight = sum(_TYPE_WEIGHTS.get(t.key, _DEFAULT_WEIGHT) for t in POLICY_TYPES)
        self.policies: dict[str, Collection] = {}
        for ptype in POLICY_TYPES:
            share = _TYPE_WEIGHTS.get(ptype.key, _DEFAULT_WEIGHT) / total_weight
            self.policies[ptype.key] = Collection(
                key=ptype.key,
                seed=seed,
                base_count=max(2, round(tenant.size * share)),
                make=lambda i, oid, key=ptype.key: catalog.make_policy(
                    key=key, seed=seed, index=i, object_id=oid
                ),
            )
        self.groups = Collection(
            key=GROUPS,
            seed=seed,
            base_count=max(20, tenant.size // 2),
            make=lambda i, oid: catalog.make_group(seed=seed, index=i, object_id=oid),
        )

    def collection(self, key: str) -> Collection:
        """A policy type's collection, or the groups for ``"groups"``."""
        return self.groups if key == GROUPS else self.policies[key]

    def stamp(self) -> str:
        """A fresh, deterministic ``lastModifiedDateTime`` for a change."""
        self.changes += 1
        return catalog.iso(_CHANGE_EPOCH + timedelta(minutes=self.changes))

    def assignments(self, key: str, policy_id: str) -> list[Item] | None:
        """A policy's assignments, or None when the policy does not exist."""
        coll = self.policies[key]
        index = coll.index_of(policy_id)
        if index is None or coll.get(policy_id) is None:
            return None
        if policy_id in coll.assignments:
            return coll.assignments[policy_id]
        if index >= coll.base_count:
            return []
        return catalog.make_assignments(
            seed=self.tenant.seed,
            key=key,
            index=index,
            policy_id=policy_id,
            group_id_at=self.groups.id_at,
            group_count=self.groups.base_count,
        )

    def settings(self, policy_id: str, *, key: str = "settingsCatalogPolicy") -> list[Item] | None:
        """A settings-catalog policy's settings, or None when the policy does not exist."""
        coll = self.policies[key]
        policy = coll.get(policy_id)
        if policy is None:
            return None
        if policy_id in coll.settings:
            return coll.settings[policy_id]
        index = coll.index_of(policy_id) or 0
        count = int(policy.get("settingCount") or 0)
        return catalog.make_settings(seed=self.tenant.seed, index=index, count=count)

    def assign(self, key: str, policy_id: str, assignments: list[Item]) -> list[Item]:
        """Replace a policy's assignments like Graph's ``POST .../assign`` and stamp the policy.

        Ids become ``"{policy_id}_{n}"``; the caller has checked that the policy exists.
        """
        coll = self.policies[key]
        stored = [{**copy.deepcopy(a), "id": f"{policy_id}_{n}"} for n, a in enumerate(assignments)]
        coll.assignments[policy_id] = stored
        coll.update(policy_id, {}, stamp=self.stamp())
        return copy.deepcopy(stored)

    def replace_settings(
        self, policy_id: str, settings: list[Item], *, key: str = "settingsCatalogPolicy"
    ) -> list[Item]:
        """Replace a settings-catalog policy's settings (``settingCount`` follows), stamp it."""
        coll = self.policies[key]
        stored = copy.deepcopy(settings)
        coll.settings[policy_id] = stored
        coll.update(policy_id, {"settingCount": len(stored)}, stamp=self.stamp())
        return copy.deepcopy(stored)

    def replace_policy(
        self, key: str, policy_id: str, body: Item, *, keep: Callable[[str], bool]
    ) -> Item:
        """Replace a policy like Graph's PUT on a configurationPolicy; the caller checked it
        exists. Properties ``keep`` names (server-managed: id, createdDateTime …) survive, the
        rest comes from ``body``; ``body["settings"]`` (missing = none) become its settings."""
        coll = self.policies[key]
        current = coll.get(policy_id) or {}
        item = {k: v for k, v in current.items() if keep(k) or k == "@odata.type"}
        item.update(copy.deepcopy({k: v for k, v in body.items() if k != "settings"}))
        settings = number_settings(body.get("settings") or [])
        coll.settings[policy_id] = settings
        item["settingCount"] = len(settings)
        replaced = coll.replace(policy_id, item, stamp=self.stamp())
        assert replaced is not None
        return replaced

    def member_count(self, group_id: str) -> int | None:
        """Members of a group, or None when it does not exist."""
        index = self.groups.index_of(group_id)
        if index is None or self.groups.get(group_id) is None:
            return None
        if index >= self.groups.base_count:
            return 0
        return catalog.member_count(seed=self.tenant.seed, index=index)

    def mutate(
        self, *, policy_type: str | None = None, modify: int = 0, add: int = 0, remove: int = 0,
        seed: int = 0,
    ) -> dict[str, list[dict[str, str]]]:  # fmt: skip
        """Change, add and remove objects deterministically (given ``seed`` and prior changes).

        Returns ``{"modified": [...], "added": [...], "removed": [...]}`` of ``{type, id}``.
        """
        keys = [policy_type] if policy_type else list(self.policies)
        for key in keys:
            self.collection(key)  # KeyError for unknown types, before anything changes
        rng = random.Random(f"{self.tenant.seed}:mutate:{seed}:{self.changes}")
        done: dict[str, list[dict[str, str]]] = {"modified": [], "added": [], "removed": []}
        for _ in range(modify):
            key, coll, object_id = self._pick(rng, keys)
            if object_id and coll.update(
                object_id, self._edit(coll.get(object_id)), stamp=self.stamp()
            ):
                done["modified"].append({"type": key, "id": object_id})
        for _ in range(add):
            key = rng.choice(keys)
            coll = self.collection(key)
            model = coll.get(coll.id_at(0)) or {}
            template = {k: v for k, v in model.items() if k != "id"}
            for name_field in ("displayName", "name"):
                if name_field in template:
                    template[name_field] = f"New {key} {self.changes + 1:05d}"
            created = coll.create(template, stamp=self.stamp())
            done["added"].append({"type": key, "id": created["id"]})
        for _ in range(remove):
            key, coll, object_id = self._pick(rng, keys)
            if object_id and coll.delete(object_id):
                done["removed"].append({"type": key, "id": object_id})
        return done

    def _pick(self, rng: random.Random, keys: list[str]) -> tuple[str, Collection, str | None]:
        key = rng.choice(keys)
        coll = self.collection(key)
        for _ in range(20):  # a few tries: the pick may hit an already deleted object
            object_id = coll.id_at(rng.randrange(coll.base_count + len(coll.created)))
            if object_id not in coll.deleted:
                return key, coll, object_id
        return key, coll, None

    @staticmethod
    def _edit(item: Item | None) -> dict[str, Any]:
        item = item or {}
        patch: dict[str, Any] = {"description": f"{item.get('description', '')} (edited)"}
        for name, value in item.items():
            if isinstance(value, bool) and not name.startswith(("is", "mail", "security")):
                patch[name] = not value  # a real setting change, visible to drift
                break
        return patch


def number_settings(settings: list[Item]) -> list[Item]:
    """Settings as Graph stores them from a write body: copies with ids ``"0"``, ``"1"`` …"""
    return [
        {"id": str(n), **{k: copy.deepcopy(v) for k, v in s.items() if k != "id"}}
        for n, s in enumerate(settings)
    ]
