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


# -- hashes of stored runs must never change -------------------------------------------------
# Computed with the code as it was before the "str" / "int" kinds were added: a change in how an
# existing kind normalises, or in canonical_json, would split stored runs from new starts.
@pytest.mark.parametrize(
    ("run_type", "inputs", "pinned"),
    [
        (
            "backup_set.add_policies",
            {"backup_set_id": 4, "policy_ids": [3, 1, 2], "include_scope_tags": False},
            "957457c38e5348f4ddac29b485906bfe6f1d6bea00f13964787bcd907de0da87",
        ),
        (
            "backup_schedule.scheduled",
            {"schedule_id": 9, "scheduled_for": "2026-11-26T09:00:00+02:00"},
            "e23807d67b42387ce1f1a3181a8c9cf6888267b188c60d1b4204b8768fae7ae6",
        ),
        (
            "backup_schedule.retry",
            {"schedule_id": 9, "retried_run_id": 12},
            "0f286d768e36a77b916eebbd287888979be0542be32e7c5b50c10fbd1c0b2159",
        ),
        (
            "directory_groups.sync",
            {},
            "a579b75c16a49d19bb33da9e61861456972a7ca22eb911dabec8c3a6a9f6cccf",
        ),
    ],
)
def test_identity_hashes_of_existing_kinds_are_pinned(run_type, inputs, pinned):
    assert _hash(run_type, inputs, tenant_id=7) == pinned


# -- the scalar kinds -------------------------------------------------------------------------
def _schema(*fields):
    from opsapp.operations.identity import IdentitySchema

    return IdentitySchema(tuple(fields))


def _field(name, kind, **kwargs):
    from opsapp.operations.identity import IdentityField

    return IdentityField(name, kind, **kwargs)


def test_str_inputs_are_stripped_and_nfc_normalised_so_they_hash_the_same():
    from opsapp.operations.identity import canonical_json

    schema = _schema(_field("label", "str"))
    composed, decomposed = "Caf\u00e9", "Cafe\u0301"
    assert schema.normalise({"label": "  nightly \n"}) == {"label": "nightly"}
    assert schema.normalise({"label": decomposed}) == schema.normalise({"label": composed})
    assert canonical_json(schema.normalise({"label": composed})) == '{"label":"Caf\u00e9"}'


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "'label' must not be empty"),
        ("   ", "'label' must not be empty"),
        (5, "'label' must be a string"),
        (["a"], "'label' must be a string"),
        ("x" * 201, "at most 200 characters"),
        ("two\x00parts", "control characters"),
        ("tab\tinside", "control characters"),
    ],
)
def test_bad_str_inputs_are_refused(value, message):
    with pytest.raises(InvalidInputs, match=message):
        _schema(_field("label", "str")).normalise({"label": value})


def test_str_length_bound_choices_and_defaults():
    assert _schema(_field("label", "str")).normalise({"label": "x" * 200}) == {"label": "x" * 200}
    short = _schema(_field("code", "str", max_length=3))
    with pytest.raises(InvalidInputs, match="at most 3 characters"):
        short.normalise({"code": "abcd"})
    mode = _schema(_field("mode", "str", choices=("full", "delta"), default="full"))
    assert mode.normalise({}) == {"mode": "full"}
    assert mode.normalise({"mode": " delta "}) == {"mode": "delta"}
    assert mode.normalise({"mode": ""}) == {"mode": "full"}  # empty means "not given"
    with pytest.raises(InvalidInputs, match="must be one of: full, delta"):
        mode.normalise({"mode": "Full"})
    optional = _schema(_field("note", "str", default=None))
    assert optional.normalise({"note": "  "}) == {"note": None}
    assert _schema(_field("note", "str", allow_empty=True)).normalise({"note": " "}) == {"note": ""}
    with pytest.raises(InvalidInputs, match="Name it"):
        _schema(_field("name", "str", empty_message="Name it")).normalise({"name": ""})


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), (7, 7), ("12", 12), (" 3 ", 3), (4.0, 4), (2**40, 2**40)],
)
def test_int_inputs_accept_whole_numbers_from_zero(value, expected):
    assert _schema(_field("days", "int")).normalise({"days": value}) == {"days": expected}


@pytest.mark.parametrize("value", [True, False, -1, "-1", 2.5, "2.5", "", "ten", [1], "\u0663"])
def test_int_inputs_refuse_bools_negatives_and_non_integral_values(value):
    with pytest.raises(InvalidInputs, match="'days' must be a whole number"):
        _schema(_field("days", "int")).normalise({"days": value})


def test_int_and_str_defaults_fill_in_and_hash_like_explicit_values():
    schema = _schema(_field("days", "int", default=30), _field("mode", "str", default="full"))
    implicit = identity_hash(tenant_id=1, run_type="t", normalised_inputs=schema.normalise({}))
    explicit = identity_hash(
        tenant_id=1,
        run_type="t",
        normalised_inputs=schema.normalise({"days": "30", "mode": " full"}),
    )
    assert implicit == explicit
    assert schema.normalise({"days": 0}) != schema.normalise({})


def test_field_declarations_are_checked():
    with pytest.raises(ValueError, match="unknown kind 'string'"):
        _field("label", "string")
    with pytest.raises(ValueError, match="choices need a str"):
        _field("days", "int", choices=("1",))
