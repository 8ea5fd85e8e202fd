"""The demo run history: a month of completed, primitive-valid runs for the demo tenants only,
seeded once, never into a database that holds a real tenant, and never in the way of real starts."""

import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from opsapp.db import session_scope
from opsapp.demo_history import seed_demo_history
from opsapp.demo_seed import DemoSeedRefused, seed_demo
from opsapp.graph.demo.tenants import DEMO_TENANTS
from opsapp.models import Membership, Notification, OperationRun, ProviderKind, Role, Tenant, User
from opsapp.models.types import utcnow
from opsapp.operations import catalog
from opsapp.operations.access import can
from opsapp.operations.failures import MESSAGE_CAP, sanitize_text
from opsapp.operations.identity import identity_hash
from opsapp.operations.results import decide_outcome
from opsapp.operations.service import ensure_run
from opsapp.tenancy import create_tenant

# The catalog's own types (tests elsewhere register extra ones at run time).
BUILT_IN_TYPES = {t.key for t in catalog._TYPES}
STABLE_CODES = {
    "graph.throttled",
    "graph.forbidden",
    "graph.unavailable",
    "worker.lost",
    "queue.dispatch_failed",
}
OUTCOMES = {"succeeded", "partially_succeeded", "failed"}
SYNC_TYPES = ("inventory.sync", "policy.sync", "directory_groups.sync")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _runs(engine) -> list[OperationRun]:
    with session_scope(engine) as session:
        return list(session.exec(select(OperationRun).order_by(OperationRun.id)))


def _count(engine, model) -> int:
    with session_scope(engine) as session:
        return session.exec(select(sa.func.count()).select_from(model)).one()


def _tenants(engine) -> dict[int, Tenant]:
    with session_scope(engine) as session:
        return {t.id: t for t in session.exec(select(Tenant))}


def _roles(engine) -> dict[tuple[int, int], tuple[Role, str]]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(
                Membership.tenant_id, Membership.user_id, Membership.role, User.display_name
            ).join(User, User.id == Membership.user_id)
        ).all()
    return {(t, u): (Role(role), name) for t, u, role, name in rows}


@pytest.fixture
def seeded(engine):
    before = utcnow()
    result = seed_demo(engine)
    return result, before, utcnow()


def test_every_demo_tenant_gets_a_month_of_valid_completed_runs(engine, seeded):
    result, before, after = seeded
    assert result["history"] == {"runs": len(_runs(engine)), "skipped": None}
    tenants, roles = _tenants(engine), _roles(engine)
    by_tenant: dict[str, list[OperationRun]] = defaultdict(list)
    secrets = [d.client_secret for d in DEMO_TENANTS]

    for run in _runs(engine):
        by_tenant[tenants[run.tenant_id].slug].append(run)
        op = catalog.OPERATION_TYPES[run.type]
        assert run.status == "completed" and run.outcome in OUTCOMES
        # Identity exactly as the primitive computes it.
        inputs = run.context["inputs"]
        assert run.context["demo_history"] is True
        assert op.identity.normalise(inputs) == inputs
        assert run.run_identity_hash == identity_hash(
            tenant_id=run.tenant_id, run_type=run.type, normalised_inputs=inputs
        )
        # Timeline inside the window, in order.
        assert before - timedelta(days=30) <= run.created_at
        assert run.completed_at <= after and run.updated_at == run.completed_at
        if run.started_at is None:  # a dispatch failure: queued → completed, never attempted
            assert run.attempts == 0 and [f["code"] for f in run.failures] == [
                "queue.dispatch_failed"
            ]
        else:
            assert run.created_at < run.started_at < run.completed_at and run.attempts == 1
            assert run.completed_at - run.started_at < timedelta(minutes=10)
        # Counts within the catalog, consistent with the outcome.
        counts = run.summary_counts
        assert set(counts) <= set(op.summary_keys)
        assert all(isinstance(v, int) and v >= 0 for v in counts.values())
        fatal = run.failures[0] if run.outcome == "failed" else None
        assert decide_outcome(counts, run.failures, fatal).value == run.outcome
        if run.outcome == "succeeded":
            assert run.failures == [] and counts.get("failed", 0) == 0
            assert counts.get("processed") == counts.get("total")
        else:
            assert run.failures and (counts.get("failed", 0) > 0 or run.started_at is None)
        # Failures: stable codes, sanitized, short, no secret.
        for failure in run.failures:
            assert failure["code"] in STABLE_CODES
            assert failure["message"] == sanitize_text(failure["message"])
            assert len(failure["message"]) <= MESSAGE_CAP and failure["count"] >= 1
        assert not any(s in json.dumps(run.failures) for s in secrets)
        # Initiator: the scheduler, or a member allowed to start this type here.
        if run.type == "backup_schedule.scheduled":
            assert (run.user_id, run.initiator_name) == (None, "System")
        else:
            role, name = roles[(run.tenant_id, run.user_id)]
            assert can(role, op.capability) and role != Role.readonly
            assert run.initiator_name == name

    runs = {r.id: r for r in _runs(engine)}
    for retry in (r for r in runs.values() if r.type == "backup_schedule.retry"):
        retried = runs[retry.context["inputs"]["retried_run_id"]]
        assert retried.tenant_id == retry.tenant_id and retried.outcome != "succeeded"
        assert retried.type in ("backup_schedule.scheduled", "backup_schedule.run_now")
        assert retried.completed_at < retry.created_at

    assert set(by_tenant) == {d.slug for d in DEMO_TENANTS}
    for slug, runs in by_tenant.items():
        assert 40 <= len(runs) <= 80, slug
        assert {r.type for r in runs} == BUILT_IN_TYPES, slug
        assert {r.outcome for r in runs} == OUTCOMES, slug


def test_seeding_again_creates_nothing(engine, seeded):
    runs, notes = _count(engine, OperationRun), _count(engine, Notification)
    assert seed_demo_history(engine) == {"runs": 0, "skipped": "history present"}
    assert seed_demo(engine)["history"]["runs"] == 0
    assert (_count(engine, OperationRun), _count(engine, Notification)) == (runs, notes)


def test_only_tenants_without_runs_are_seeded_and_the_result_is_deterministic(engine, seeded):
    with engine.begin() as conn:
        conn.execute(sa.delete(Notification.__table__))
        conn.execute(sa.delete(OperationRun.__table__))

    # A retry's identity names the retried run's id, a restore's its restore record's: both ids
    # differ between seedings.
    def snapshot():
        return sorted(
            (
                r.tenant_id,
                r.type,
                r.outcome,
                r.created_at,
                r.completed_at,
                json.dumps(r.summary_counts),
            )
            + (
                ()
                if r.type in ("backup_schedule.retry", "restore.execute")
                else (r.run_identity_hash,)
            )
            for r in _runs(engine)
        )

    first = seed_demo_history(engine, now=NOW)
    assert first["runs"] > 0 and first["skipped"] is None
    expected = snapshot()
    contoso = next(t for t in _tenants(engine).values() if t.slug == "contoso")
    with engine.begin() as conn:
        conn.execute(sa.delete(Notification.__table__))
        conn.execute(sa.delete(OperationRun.__table__).where(OperationRun.tenant_id == contoso.id))
    again = seed_demo_history(engine, now=NOW)
    assert again["runs"] == sum(1 for row in expected if row[0] == contoso.id)
    assert snapshot() == expected


def test_a_database_with_a_real_tenant_gets_no_history(engine):
    with session_scope(engine) as session:
        create_tenant(
            session,
            slug="acme",
            name="Acme",
            entra_tenant_id="0d1f3a5e-1b2c-4d5e-8f90-a1b2c3d4e5f6",
            provider=ProviderKind.client_credentials,
            client_id="abc",
            client_secret="Zz9Q~very-secret-value-1234567890",
        )
    assert seed_demo_history(engine) == {"runs": 0, "skipped": "real tenants present"}
    with pytest.raises(DemoSeedRefused, match="real tenants"):
        seed_demo(engine)  # no demo users with published passwords next to a real tenant
    assert [t.slug for t in _tenants(engine).values()] == ["acme"]
    assert _count(engine, User) == 0
    assert (_count(engine, OperationRun), _count(engine, Notification)) == (0, 0)


def test_demo_data_is_refused_outside_demo_mode(engine, monkeypatch):
    monkeypatch.setenv("OPSAPP_GRAPH_MODE", "live")
    from opsapp.settings import get_settings

    get_settings.cache_clear()
    with pytest.raises(DemoSeedRefused, match="demo mode"):
        seed_demo(engine)
    assert (_count(engine, User), _count(engine, OperationRun)) == (0, 0)


def test_real_starts_are_not_blocked_by_the_history(engine, seeded):
    with session_scope(engine) as session:
        owner = session.exec(select(User).where(User.email == "owner@opsapp.demo")).one()
    for tenant in _tenants(engine).values():
        for run_type in SYNC_TYPES:
            op = catalog.get_type(run_type)
            with session_scope(engine) as session:
                ensured = ensure_run(
                    session,
                    tenant_id=tenant.id,
                    run_type=run_type,
                    inputs=op.identity.normalise({}),
                    user_id=owner.id,
                    initiator_name=owner.display_name,
                )
            assert ensured.created is True, (tenant.slug, run_type)
            assert ensured.run.status == "queued" and not ensured.reaped_ids


def test_the_owner_finds_two_unread_notifications_about_their_newest_runs(engine, seeded):
    with session_scope(engine) as session:
        owner = session.exec(select(User).where(User.email == "owner@opsapp.demo")).one()
        notes = list(
            session.exec(
                select(Notification)
                .where(Notification.user_id == owner.id)
                .order_by(Notification.created_at.desc())
            )
        )
    assert _count(engine, Notification) == len(notes) >= 3
    assert [n.read_at is None for n in notes].count(True) == 2
    assert all(n.read_at is None for n in notes[:2])
    runs = {r.id: r for r in _runs(engine)}
    tenants = _tenants(engine)
    mine = sorted(
        (r for r in runs.values() if r.user_id == owner.id),
        key=lambda r: r.completed_at,
        reverse=True,
    )
    assert [n.operation_run_id for n in notes] == [r.id for r in mine[: len(notes)]]
    for note in notes:
        run = runs[note.operation_run_id]
        assert note.created_at == run.completed_at and note.tenant_id == run.tenant_id
        assert note.link == f"/t/{tenants[run.tenant_id].slug}/operations/{run.id}"
        if note.read_at is not None:
            assert note.created_at < note.read_at


def test_the_cli_seeds_the_history_once(db):
    url, engine = db
    env = {**os.environ, "DATABASE_URL": url, "OPSAPP_BROKER": "memory"}

    def seed(*args):
        proc = subprocess.run(
            [sys.executable, "-m", "opsapp.cli", "demo", "seed", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    out = json.loads(seed("--json"))
    assert {t["slug"] for t in out["tenants"]} == {d.slug for d in DEMO_TENANTS}
    assert out["users"] and out["history"] == {
        "runs": _count(engine, OperationRun),
        "skipped": None,
    }
    assert out["history"]["runs"] > 0
    assert "history not seeded (history present)" in seed()


def test_demo_restore_runs_open_their_restore(engine, seeded):
    from opsapp.features.restore.queries import get_restore_detail
    from opsapp.models import RestoreRun

    runs = [r for r in _runs(engine) if r.type == "restore.execute"]
    assert runs
    with session_scope(engine) as session:
        for run in runs:
            restore_id = run.context["inputs"]["restore_run_id"]
            restore = session.get(RestoreRun, restore_id)
            assert (restore.tenant_id, restore.operation_run_id) == (run.tenant_id, run.id)
            detail = get_restore_detail(session, tenant_id=run.tenant_id, restore_id=restore_id)
            assert (detail["status"], detail["outcome"]) == ("completed", run.outcome)
            plan = {c["label"]: c["value"] for c in detail["plan_counts"]}
            assert (
                plan["Update"] + plan["Create"] + plan["Unchanged"] + plan["Skip"]
                == (run.summary_counts["total"])
            )
