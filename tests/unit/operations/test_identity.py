from datetime import datetime, timedelta, timezone

import pytest

from opsapp.operations.catalog import OPERATION_TYPES, get_type
from opsapp.operations.identity import InvalidInputs, identity_hash
from opsapp.policy_types import SUPPORTED_POLICY_TYPE_KEYS


def _hash(run_type, inputs, tenant_id=1):
    normalised = get_type(run_type).identity.normalise(inputs)
    return identity_hash(tenant_id=tenant_id, run_type=run_type, normalised_inputs=normalised)


def test_key_order_does_not_change_the_hash():
    a = {"backup_set_id": 4, "policy_ids": [1, 2], "include_assignments": True}
    b = {"include_assignments": True, "policy_ids": [1, 2], "backup_set_id": 4}
    assert _hash("backup_set.add_policies", a) == _hash("backup_set.add_policies", b)


def test_id_list_order_and_duplicates_do_not_change_the_hash():
    a = _hash("backup_set.remove_policies", {"backup_set_id": 4, "item_ids": [3, 1, 2]})
    b = _hash("backup_set.remove_policies", {"backup_set_id": 4, "item_ids": [1, 2, 3, 3, 1]})
    c = _hash("backup_set.remove_policies", {"backup_set_id": "4", "item_ids": ["2", 3, 1]})
    assert a == b == c


def test_defaults_are_filled_in_so_explicit_defaults_hash_the_same():
    implicit = _hash("inventory.sync", {})
    explicit = _hash(
        "inventory.sync",
        {"policy_types": list(reversed(SUPPORTED_POLICY_TYPE_KEYS)), "include_foundations": True},
    )
    assert implicit == explicit


@pytest.mark.parametrize(
    ("run_type", "base", "changed"),
    [
        ("inventory.sync", {}, {"include_foundations": False}),
        ("inventory.sync", {}, {"policy_types": ["deviceConfiguration"]}),
        (
            "policy.sync",
            {"policy_types": ["deviceConfiguration"]},
            {"policy_types": ["roleScopeTag"]},
        ),
        (
            "backup_set.add_policies",
            {"backup_set_id": 1, "policy_ids": [1]},
            {"backup_set_id": 1, "policy_ids": [1, 2]},
        ),
        (
            "backup_set.add_policies",
            {"backup_set_id": 1, "policy_ids": [1]},
            {"backup_set_id": 1, "policy_ids": [1], "include_scope_tags": False},
        ),
        (
            "backup_schedule.retry",
            {"schedule_id": 1, "retried_run_id": 5},
            {"schedule_id": 1, "retried_run_id": 6},
        ),
        ("drift.generate", {"baseline_id": 1}, {"baseline_id": 2}),
    ],
)
def test_any_effective_input_changes_the_hash(run_type, base, changed):
    assert _hash(run_type, base) != _hash(run_type, changed)


def test_tenant_and_type_are_part_of_the_identity():
    assert _hash("directory_groups.sync", {}, tenant_id=1) != _hash(
        "directory_groups.sync", {}, tenant_id=2
    )
    assert _hash("policy.sync", {}) != _hash("inventory.sync", {"include_foundations": True})


def test_scheduled_for_is_normalised_to_utc():
    local = datetime(2026, 11, 26, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    a = _hash("backup_schedule.scheduled", {"schedule_id": 3, "scheduled_for": local.isoformat()})
    b = _hash(
        "backup_schedule.scheduled",
        {"schedule_id": 3, "scheduled_for": "2026-11-26T07:00:00+00:00"},
    )
    assert a == b


def test_the_initiator_is_never_an_identity_input():
    for op in OPERATION_TYPES.values():
        names = {f.name for f in op.identity.fields}
        assert not names & {"user_id", "initiator", "initiator_name", "user"}
    with pytest.raises(InvalidInputs, match="unknown input"):
        get_type("directory_groups.sync").identity.normalise({"user_id": 3})


@pytest.mark.parametrize(
    ("run_type", "inputs", "message"),
    [
        ("backup_set.add_policies", {"backup_set_id": 1, "policy_ids": []}, "No policies selected"),
        ("backup_set.add_policies", {"policy_ids": [1]}, "'backup_set_id' is required"),
        ("backup_set.add_policies", {"backup_set_id": -3, "policy_ids": [1]}, "positive integer"),
        ("backup_set.add_policies", {"backup_set_id": True, "policy_ids": [1]}, "positive integer"),
        ("backup_set.add_policies", {"backup_set_id": 1, "policy_ids": "1,2"}, "must be a list"),
        ("inventory.sync", {"policy_types": ["nope"]}, "unsupported values: nope"),
        ("inventory.sync", {"include_foundations": "yes"}, "true or false"),
        (
            "backup_schedule.scheduled",
            {"schedule_id": 1, "scheduled_for": "2026-01-01T00:00:00"},
            "timezone",
        ),
        ("backup_schedule.scheduled", {"schedule_id": 1, "scheduled_for": "tomorrow"}, "ISO 8601"),
    ],
)
def test_bad_inputs_are_refused_with_a_clear_message(run_type, inputs, message):
    with pytest.raises(InvalidInputs, match=message):
        get_type(run_type).identity.normalise(inputs)


def test_every_type_declares_only_known_count_keys():
    from opsapp.operations.catalog import COUNT_KEYS

    for op in OPERATION_TYPES.values():
        assert set(op.summary_keys) <= set(COUNT_KEYS), op.key
