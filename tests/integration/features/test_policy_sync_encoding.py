"""The write path's encodings, which policy.sync runs per object: the bulk INSERT's JSON document
(pre-encoded RawJSON spliced in, datetimes as ISO 8601) and the first sync's key filter. The
document is checked against a plain per-row encoding; the rows it carries are read back on
SQLite and PostgreSQL."""

import json
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from opsapp.features import reconcile
from opsapp.features.reconcile import KeyFilter, RawJSON, bulk_insert
from opsapp.models import Policy, PolicyVersion
from opsapp.operations.identity import canonical_json
from tests.factories import make_tenant

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _reference(rows):
    """The document `pg_document` must mean: every row encoded on its own, raw values parsed."""
    return [
        {n: json.loads(v) if isinstance(v, RawJSON) else v for n, v in row.items()}
        | {n: v.isoformat() for n, v in row.items() if isinstance(v, datetime)}
        for row in rows
    ]


def _version_rows(payloads):
    return [
        {
            "policy_id": i + 1,
            "version_number": 1,
            "captured_at": NOW,
            "payload": RawJSON(canonical_json(payload)),
            "assignments": RawJSON(canonical_json([{"id": f"a{i}"}])),
            "scope_tags": RawJSON(canonical_json(["0"])),
        }
        for i, payload in enumerate(payloads)
    ]


def test_plain_rows_encode_in_one_document():
    rows = [
        {"id": 1, "name": 'Zoë "quoted" \\ ✓', "at": NOW, "gone": None, "n": 1.5},
        {"id": 2, "name": "", "at": datetime(2020, 5, 6, tzinfo=UTC), "gone": NOW, "n": 0},
    ]
    assert json.loads(reconcile.pg_document(rows)) == _reference(rows)


def test_raw_values_are_spliced_in_each_rows_place():
    rows = _version_rows(
        [{"displayName": f"p{i}", "nested": {"b": [1, 2], "a": None}} for i in range(5)]
    )
    document = reconcile.pg_document(rows)
    assert json.loads(document) == _reference(rows)
    assert canonical_json({"b": [1, 2], "a": None}) in document  # spliced, not re-encoded


def test_a_value_holding_the_slot_marker_is_encoded_as_itself():
    # orjson embeds raw values as they are (no slot markers): a plain value that looks like the
    # standard encoder's slot is just a string
    rows = _version_rows([{"displayName": "plain"}, {"displayName": "other"}])
    rows[1]["content_hash"] = reconcile._RAW_SLOT
    rows[0]["content_hash"] = "h0"
    assert json.loads(reconcile.pg_document(rows)) == _reference(rows)


def test_the_standard_encoder_falls_back_to_rows_one_by_one_on_a_slot_marker(monkeypatch):
    rows = _version_rows([{"displayName": "plain"}, {"displayName": "other"}])
    rows[1]["content_hash"] = reconcile._RAW_SLOT  # a plain value that looks like a slot
    rows[0]["content_hash"] = "h0"
    by_row = []
    real = reconcile._pg_document_by_row
    monkeypatch.setattr(
        reconcile, "_pg_document_by_row", lambda r, raw: by_row.append(1) or real(r, raw)
    )
    document = reconcile._pg_document_std(rows, ["payload", "assignments", "scope_tags"])
    assert json.loads(document) == _reference(rows)
    assert by_row == [1]


def test_what_orjson_cannot_encode_takes_the_standard_encoder(monkeypatch):
    # an integer past 64 bits: orjson refuses it, the standard encoder writes it exactly
    rows = _version_rows([{"displayName": "big"}])
    rows[0]["version_number"] = 2**70
    used = []
    real = reconcile._pg_document_std
    monkeypatch.setattr(
        reconcile, "_pg_document_std", lambda r, raw: used.append(raw) or real(r, raw)
    )
    assert json.loads(reconcile.pg_document(rows)) == _reference(rows)
    assert used == [["payload", "assignments", "scope_tags"]]


def test_a_type_json_cannot_encode_is_refused():
    with pytest.raises(TypeError, match="Decimal"):
        from decimal import Decimal

        reconcile.pg_document([{"id": 1, "amount": Decimal("1.5")}])


def test_bulk_insert_stores_raw_and_plain_values_as_given(engine):
    """What the document carries arrives in the columns, on both dialects (SQLite gets values,
    PostgreSQL the pre-encoded text)."""
    tenant = make_tenant(engine)
    payloads = [{"displayName": f"Zoë {i}", "list": [i, {"k": None}]} for i in range(3)]
    payloads.append({"displayName": reconcile._RAW_SLOT})  # the marker inside a raw value
    with engine.begin() as conn:
        policy_ids = [
            row_id
            for (row_id,) in bulk_insert(
                conn,
                Policy.__table__,
                [
                    {
                        "tenant_id": tenant.id,
                        "policy_type": "t",
                        "graph_id": f"g{i}",
                        "display_name": p["displayName"],
                        "content_hash": "h",
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                    for i, p in enumerate(payloads)
                ],
                returning=["id"],
            )
        ]
        rows = []
        for policy_id, payload in zip(policy_ids, payloads, strict=True):
            encoded = (canonical_json(payload), canonical_json([{"id": "a"}]), "[]")
            if conn.dialect.name == "postgresql":
                values = [RawJSON(text) for text in encoded]
            else:
                values = [payload, [{"id": "a"}], []]
            rows.append(
                {"policy_id": policy_id, "tenant_id": tenant.id, "version_number": 1,
                 "content_hash": f"h{policy_id}", "captured_at": NOW,
                 **dict(zip(("payload", "assignments", "scope_tags"), values, strict=True))}
            )  # fmt: skip
        bulk_insert(conn, PolicyVersion.__table__, rows)
    with Session(engine) as s:
        versions = s.exec(select(PolicyVersion).order_by(PolicyVersion.policy_id)).all()
        policies = s.exec(select(Policy).order_by(Policy.id)).all()
    assert [v.payload for v in versions] == payloads
    assert all(v.assignments == [{"id": "a"}] and v.scope_tags == [] for v in versions)
    assert all(v.captured_at == NOW for v in versions)
    assert [p.display_name for p in policies] == [p["displayName"] for p in payloads]
    assert all(p.created_at == NOW and p.removed_at is None for p in policies)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Policy.__table__)).scalar() == 4


def test_the_key_filter_never_misses_what_was_added():
    keys = [str(uuid.uuid4()) for _ in range(20_000)]
    kept = KeyFilter()
    for key in keys[:10_000]:
        kept.add(key)
    assert all(key in kept for key in keys[:10_000])
    false_positives = sum(key in kept for key in keys[10_000:])
    assert false_positives <= 5  # ~0 expected at 10,000 keys in 4 Mi bits


def test_an_empty_key_filter_holds_nothing():
    assert "anything" not in KeyFilter() and "" not in KeyFilter()
