"""A sync that created many policies refreshes the table's statistics (PostgreSQL ANALYZE), so
that the next sync's per-batch lookups probe the unique index instead of hashing the whole
scope; on SQLite the refresh is a no-op. Both dialects."""

import logging
import re
from types import SimpleNamespace

import sqlalchemy as sa

from opsapp.features.policies import service
from opsapp.features.policies.service import sync_policies
from opsapp.features.policies.snapshots import POLICIES, lookup_known
from opsapp.features.reconcile import bulk_insert, refresh_statistics
from opsapp.models import Policy, PolicyVersion
from opsapp.models.types import utcnow
from opsapp.operations.catalog import get_type
from tests.factories import make_tenant
from tests.integration.features.conftest import Progress

DEVICE_CONFIGURATION = "deviceConfiguration"


async def _sync(engine, graph, tenant):
    return await sync_policies(
        engine=engine,
        graph=graph,
        tenant_id=tenant.id,
        inputs=get_type("policy.sync").identity.normalise({"policy_types": [DEVICE_CONFIGURATION]}),
        run_id=None,
        report_progress=Progress(),
    )


async def test_a_sync_that_created_many_rows_refreshes_statistics(engine, graph, monkeypatch):
    refreshed = []

    def counting(engine_, model):
        refreshed.append(model)
        refresh_statistics(engine_, model)

    monkeypatch.setattr(service, "refresh_statistics", counting)
    tenant = make_tenant(engine)
    monkeypatch.setattr(service, "ANALYZE_AFTER", 10**9)
    first = await _sync(engine, graph, tenant)
    assert first.counts["created"] > 0 and refreshed == []  # below the threshold
    with engine.begin() as conn:
        conn.execute(sa.delete(PolicyVersion.__table__))
        conn.execute(sa.delete(POLICIES))
    monkeypatch.setattr(service, "ANALYZE_AFTER", first.counts["created"])
    again = await _sync(engine, graph, tenant)
    assert again.counts["created"] == first.counts["created"] and refreshed == [Policy]
    unchanged = await _sync(engine, graph, tenant)
    assert unchanged.counts["unchanged"] == first.counts["created"] and refreshed == [Policy]


def _scope_estimate(engine, tenant_id) -> int:
    """The planner's row estimate for one (tenant, type) scope: what decides between a probe
    per key and hashing the whole scope."""
    query = sa.select(POLICIES.c.id).where(
        POLICIES.c.tenant_id == tenant_id, POLICIES.c.policy_type == DEVICE_CONFIGURATION
    )
    compiled = query.compile(engine)
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN {compiled.string}", compiled.params).scalar()
    return int(re.search(r"rows=(\d+)", plan).group(1))


def test_a_refresh_gives_the_planner_the_scopes_size(pg_engine):
    """Loaded without statistics, a 3,000-row scope is planned as a row or two."""
    tenant = make_tenant(pg_engine)
    now = utcnow()
    rows = [
        {"tenant_id": tenant.id, "policy_type": DEVICE_CONFIGURATION, "graph_id": f"g{i:05d}",
         "display_name": "", "content_hash": "h", "created_at": now, "updated_at": now}
        for i in range(3000)
    ]  # fmt: skip
    with pg_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM pg_statistic WHERE starelid = 'policies'::regclass"))
        bulk_insert(conn, POLICIES, rows)
    assert _scope_estimate(pg_engine, tenant.id) < 100
    refresh_statistics(pg_engine, Policy)
    assert _scope_estimate(pg_engine, tenant.id) > 2000
    with pg_engine.connect() as conn:
        known = lookup_known(
            conn, tenant_id=tenant.id, policy_type=DEVICE_CONFIGURATION, graph_ids=["g00012"]
        )
    assert list(known) == ["g00012"]


def test_a_failed_refresh_is_logged_not_raised(engine, caplog):
    missing = SimpleNamespace(__table__=SimpleNamespace(name="no_such_table"))
    with caplog.at_level(logging.WARNING, logger="opsapp.features.reconcile"):
        refresh_statistics(engine, missing)  # SQLite: nothing to do
    if engine.dialect.name == "postgresql":
        assert "ANALYZE no_such_table failed" in caplog.text
    else:
        assert caplog.text == ""
