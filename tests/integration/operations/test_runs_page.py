"""Monitoring's paged run list (exact has_next without counting), its filter choices, URL
filter parsing that never raises, and the fields run_to_dict adds for the UI."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from opsapp.db import session_scope
from opsapp.models import OperationRun
from opsapp.models.types import utcnow
from opsapp.operations.catalog import OPERATION_TYPES
from opsapp.operations.queries import (
    DEFAULT_WINDOW,
    RunFilters,
    filter_choices,
    list_runs,
    list_runs_page,
    parse_filters,
)
from opsapp.operations.serialize import run_to_dict
from opsapp.operations.status import STATE_BUCKETS
from tests.factories import make_tenant

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
_hashes = itertools.count(1)


def _runs(
    engine, tenant, count, *, run_type="policy.sync", outcome="succeeded", who="Ada", ago=0, at=NOW
):
    rows = [
        OperationRun(
            tenant_id=tenant.id,
            initiator_name=who,
            type=run_type,
            status="completed" if outcome != "pending" else "running",
            outcome=outcome,
            run_identity_hash=f"h{next(_hashes)}",
            created_at=at - timedelta(days=ago, minutes=i),
            updated_at=NOW,
        )
        for i in range(count)
    ]
    with session_scope(engine) as s:
        s.add_all(rows)
    return rows


def _page(engine, tenant, filters=RunFilters(), **kw):
    with session_scope(engine) as s:
        return list_runs_page(
            s, tenant_id=tenant.id, tenant_slug=tenant.slug, filters=filters, now=NOW, **kw
        )


@pytest.mark.parametrize("extra", [0, 1])
def test_has_next_is_exact_at_the_page_boundary(engine, extra):
    tenant, other = make_tenant(engine), make_tenant(engine)
    runs = _runs(engine, tenant, 6 + extra)
    _runs(engine, other, 3)
    first = _page(engine, tenant, page_size=3)
    second = _page(engine, tenant, page=2, page_size=3)
    assert [r["id"] for r in first.rows] == [r.id for r in runs[:3]]  # newest first
    assert (first.has_next, first.total, second.has_next) == (True, None, bool(extra))
    assert [r["id"] for r in second.rows] == [r.id for r in runs[3:6]]
    third = _page(engine, tenant, page=3, page_size=3)
    assert (len(third.rows), third.has_next) == (extra, False)
    assert second.rows[0]["tenant"] == tenant.slug and second.to_dict()["first_index"] == 4


def test_the_page_applies_the_same_filters_as_list_runs(engine):
    tenant = make_tenant(engine)
    _runs(engine, tenant, 2, run_type="inventory.sync", outcome="failed", who="Bob")
    _runs(engine, tenant, 2, run_type="inventory.sync", outcome="succeeded")
    _runs(engine, tenant, 1, run_type="policy.sync", outcome="pending")
    _runs(engine, tenant, 2, run_type="inventory.sync", outcome="failed", ago=40)
    cases = [
        RunFilters(),
        RunFilters(type="inventory.sync"),
        RunFilters(state="failed"),
        RunFilters(state="failed", since=None),
        RunFilters(state="active"),
        RunFilters(initiator="Bob"),
    ]
    with session_scope(engine) as s:
        for filters in cases:
            listed = [r.id for r in list_runs(s, tenant_id=tenant.id, filters=filters, now=NOW)]
            paged = list_runs_page(
                s, tenant_id=tenant.id, tenant_slug=tenant.slug, filters=filters, now=NOW
            )
            assert [r["id"] for r in paged.rows] == listed, filters
    assert [len(_page(engine, tenant, f).rows) for f in cases] == [5, 4, 2, 4, 1, 2]


def test_filter_choices(engine):
    tenant = make_tenant(engine)
    _runs(engine, tenant, 1, who="Bob", at=utcnow())  # initiators() looks at the last 30 days
    _runs(engine, tenant, 1, who="Ada", at=utcnow())
    _runs(engine, tenant, 1, who="Long gone", at=utcnow(), ago=31)
    with session_scope(engine) as s:
        choices = filter_choices(s, tenant_id=tenant.id)
    assert [t["value"] for t in choices["types"]] == list(OPERATION_TYPES)
    assert {"value": "inventory.sync", "label": "Inventory sync"} in choices["types"]
    assert [x["value"] for x in choices["states"]] == list(STATE_BUCKETS)
    assert [x["value"] for x in choices["ranges"]] == ["24h", "7d", "30d", "90d", "all"]
    assert choices["ranges"][0]["label"] == "Last 24 hours"
    assert choices["ranges"][-1]["label"] == "All time"
    assert choices["initiators"] == ["Ada", "Bob"]


def test_parse_filters_keeps_good_values_and_explains_dropped_ones():
    assert parse_filters({}) == (RunFilters(since=DEFAULT_WINDOW), [])
    filters, errors = parse_filters(
        {"type": "policy.sync", "state": "failed", "range": "all", "initiator": " Ada "}
    )
    assert errors == []
    assert filters == RunFilters(type="policy.sync", state="failed", since=None, initiator="Ada")
    assert parse_filters({"range": "24h"})[0].since == timedelta(hours=24)
    assert parse_filters({"type": ["inventory.sync", "x"]})[0].type == "inventory.sync"

    garbage, errors = parse_filters(
        {"type": "x'; drop", "state": "exploded", "range": "forever", "initiator": ""}
    )
    assert garbage == RunFilters()
    assert errors == [
        "Unknown operation type 'x'; drop' — showing all types",
        "Unknown state 'exploded' — showing all states",
        "Unknown time range 'forever' — showing the last 30 days",
    ]


def test_run_to_dict_adds_progress_state_counts_and_links(engine):
    tenant = make_tenant(engine)
    (running,) = _runs(engine, tenant, 1, run_type="backup_set.add_policies", outcome="pending")
    running.summary_counts = {"failed": 1, "processed": 2, "total": 3}
    running.context = {"inputs": {"backup_set_id": 4}}
    data = run_to_dict(running, tenant_slug="contoso")
    assert (data["progress_percent"], data["is_active"], data["state_bucket"]) == (
        66,
        True,
        "active",
    )
    assert data["counts_list"] == [
        {"key": "total", "label": "Total", "value": 3},
        {"key": "processed", "label": "Processed", "value": 2},
        {"key": "failed", "label": "Failed", "value": 1},
    ]
    assert data["related_links"][0] == {"label": "Backup set", "url": "/t/contoso/backup-sets/4"}
    assert data["status"] == "running" and data["view_url"] == f"/t/contoso/operations/{running.id}"

    running.status, running.outcome = "completed", "partially_succeeded"
    running.summary_counts = {"total": 0, "processed": 0}
    done = run_to_dict(running, tenant_slug="contoso")
    assert (done["progress_percent"], done["is_active"]) == (None, False)
    assert done["state_bucket"] == "partially_succeeded"
    running.summary_counts = {"total": 2, "processed": 5}
    assert run_to_dict(running, tenant_slug="contoso")["progress_percent"] == 100
