"""The demo Graph's data: deterministic, lazy, mutable; fault switches parse strictly."""

from __future__ import annotations

import time

import pytest

from opsapp.graph.demo import CONTOSO, WOODGROVE, Faults
from opsapp.graph.demo.data import TenantData
from opsapp.graph.demo.faults import FaultState, matches
from opsapp.policy_types import POLICY_TYPES


def test_same_seed_same_objects():
    a, b = TenantData(CONTOSO), TenantData(CONTOSO)
    for ptype in POLICY_TYPES:
        assert a.policies[ptype.key].page(cursor=0, top=50) == b.policies[ptype.key].page(
            cursor=0, top=50
        )


def test_every_supported_policy_type_has_objects():
    data = TenantData(CONTOSO)
    assert set(data.policies) == {t.key for t in POLICY_TYPES}
    total = sum(c.live_count() for c in data.policies.values())
    assert abs(total - CONTOSO.size) <= len(POLICY_TYPES)


def test_ids_round_trip_and_foreign_ids_are_unknown():
    coll = TenantData(CONTOSO).policies["deviceConfiguration"]
    object_id = coll.id_at(17)
    assert coll.index_of(object_id) == 17
    assert coll.get(object_id)["id"] == object_id
    other = TenantData(WOODGROVE).policies["deviceConfiguration"].id_at(17)
    assert coll.get(other) is None


def test_a_large_tenant_is_cheap_until_read():
    started = time.perf_counter()
    data = TenantData(WOODGROVE)
    coll = data.policies["settingsCatalogPolicy"]
    items, next_cursor = coll.page(cursor=coll.base_count - 10, top=100)
    assert len(items) == 10 and next_cursor is None
    assert time.perf_counter() - started < 0.5
    assert len(coll.overrides) == 0  # nothing was materialized


def test_mutations_are_deterministic_and_visible():
    a, b = TenantData(CONTOSO), TenantData(CONTOSO)
    change = {"policy_type": "deviceConfiguration", "modify": 4, "add": 2, "remove": 3, "seed": 5}
    done_a, done_b = a.mutate(**change), b.mutate(**change)
    assert done_a == done_b
    coll = a.policies["deviceConfiguration"]
    assert len(done_a["added"]) == 2 and len(done_a["removed"]) >= 1
    for removed in done_a["removed"]:
        assert coll.get(removed["id"]) is None
    for added in done_a["added"]:
        assert coll.get(added["id"])["lastModifiedDateTime"].startswith("2025-06-01")


def test_unknown_type_mutation_changes_nothing():
    data = TenantData(CONTOSO)
    with pytest.raises(KeyError):
        data.mutate(policy_type="nope", modify=1)
    assert data.changes == 0


def test_fault_switches_parse_strictly():
    faults = Faults.from_json({"forbidden": "settingsCatalogPolicy", "throttle_first": 2})
    assert faults.forbidden == ("settingsCatalogPolicy",)
    with pytest.raises(ValueError):
        Faults.from_json({"throtle_first": 2})


def test_fault_targets_match_policy_types_and_prefixes():
    assert matches(("settingsCatalogPolicy",), "deviceManagement/configurationPolicies/x/settings")
    assert not matches(("settingsCatalogPolicy",), "deviceManagement/deviceConfigurations")
    assert matches(("groups",), "groups/abc/members/$count")
    assert matches(("*",), "anything")


def test_random_faults_are_reproducible_from_their_seed():
    def run() -> list:
        state = FaultState(Faults(throttle_rate=0.3, error_rate=0.2, seed=9))
        return [state.request_fault() for _ in range(50)]

    first = run()
    assert first == run()
    assert any(first) and not all(first)
