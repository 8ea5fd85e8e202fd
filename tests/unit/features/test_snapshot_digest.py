"""Snapshot.digest hashes the three canonical encodings it also stores: it must stay exactly
content_hash of {"payload", "assignments", "scope_tags"} (what every stored hash is)."""

import pytest

from opsapp.features.policies.snapshots import Snapshot
from opsapp.features.reconcile import content_hash
from opsapp.graph.demo import CONTOSO
from opsapp.graph.demo.data import TenantData


def _expected(snap: Snapshot) -> str:
    return content_hash(
        {
            "payload": snap.stored_payload,
            "assignments": snap.assignments,
            "scope_tags": snap.scope_tags,
        }
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "a", "displayName": "Zürich ✓ \u2028", "@odata.type": "#x", "@odata.etag": "e"},
        {"id": "b", "roleScopeTagIds": ["2", "0"], "nested": {"z": [1, {"b": None, "a": 1.5}]}},
        {"id": "c"},
    ],
)
def test_digest_is_the_content_hash_of_the_snapshot(payload):
    snap = Snapshot("deviceConfiguration", payload["id"], payload, [{"id": "x", "t": {"k": "ü"}}])
    assert snap.digest == _expected(snap)
    settings = Snapshot("settingsCatalogPolicy", "s", payload, [], settings=[{"id": "0", "v": 1}])
    assert settings.digest == _expected(settings)


def test_digest_matches_on_generated_demo_policies():
    data = TenantData(CONTOSO)
    for key, coll in data.policies.items():
        for index in range(min(coll.base_count, 5)):
            policy = coll.get(coll.id_at(index))
            assignments = data.assignments(key, policy["id"]) or []
            snap = Snapshot(key, policy["id"], policy, assignments)
            if key == "settingsCatalogPolicy":
                snap.settings = data.settings(policy["id"])
            assert snap.digest == _expected(snap)
