"""Drift pages: handlers called as a browser's events would call them — auto-start on a stale
page (one run for several admins, none for a reader), filters held in the URL, acknowledging
(refused for a reader, validated), 404 for strangers and unknown findings."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import select

from opsapp.db import session_scope
from opsapp.features.drift.generate import generate_drift
from opsapp.models import BackupItem, BackupSet, DriftFinding, OperationRun, Policy, PolicyVersion
from opsapp.operations.catalog import get_type
from opsapp.ui.state.drift import DriftFindingState, DriftLandingState
from tests.factories import make_user
from tests.integration.ui.conftest import describe, make_state, run_handler, token_for

ROUTE = "/t/[tenant_slug]/drift"
FINDING_ROUTE = "/t/[tenant_slug]/drift/findings/[finding_id]"


@pytest.fixture
def drift_dispatcher(dispatcher, monkeypatch):
    from opsapp.ui.state import drift as drift_state

    monkeypatch.setattr(drift_state, "get_dispatcher", lambda: dispatcher)
    return dispatcher


def _landing(token: str, slug: str = "contoso", query: str = ""):
    params = dict(p.split("=", 1) for p in query.split("&") if p)
    return make_state(
        DriftLandingState,
        route=ROUTE,
        path=f"/t/{slug}/drift" + (f"?{query}" if query else ""),
        params={"tenant_slug": slug, **params},
        token=token,
    )


def _finding_state(token: str, finding_id, slug: str = "contoso"):
    return make_state(
        DriftFindingState,
        route=FINDING_ROUTE,
        path=f"/t/{slug}/drift/findings/{finding_id}",
        params={"tenant_slug": slug, "finding_id": str(finding_id)},
        token=token,
    )


def _baseline_with_drift(engine, tenant, *, changed: int = 3, same: int = 2) -> int:
    """A set of `changed + same` compliance policies; the first `changed` now differ."""
    with session_scope(engine) as session:
        backup_set = BackupSet(tenant_id=tenant.id, name="Baseline")
        session.add(backup_set)
        session.flush()
        for n in range(changed + same):
            policy = Policy(
                tenant_id=tenant.id,
                policy_type="deviceCompliancePolicy",
                graph_id=f"g-{n}",
                display_name=f"Compliance {n:02d}",
            )
            session.add(policy)
            session.flush()
            old = PolicyVersion(
                policy_id=policy.id,
                tenant_id=tenant.id,
                version_number=1,
                content_hash=f"old{n:061d}",
                payload={"passwordMinimumLength": 8},
            )
            session.add(old)
            session.flush()
            current = old
            if n < changed:
                current = PolicyVersion(
                    policy_id=policy.id,
                    tenant_id=tenant.id,
                    version_number=2,
                    content_hash=f"new{n:061d}",
                    payload={"passwordMinimumLength": 12 + n},
                )
                session.add(current)
                session.flush()
            policy.current_version_id, policy.content_hash = current.id, current.content_hash
            session.add(
                BackupItem(
                    backup_set_id=backup_set.id,
                    tenant_id=tenant.id,
                    policy_id=policy.id,
                    policy_version_id=old.id,
                    policy_type=policy.policy_type,
                    display_name=policy.display_name,
                )
            )
        return backup_set.id


def _generate(engine, tenant, set_id) -> None:
    inputs = get_type("drift.generate").identity.normalise({"baseline_id": set_id})
    generate_drift(engine, tenant_id=tenant.id, inputs=inputs, run_id=None)


def _completed_generation(engine, tenant, set_id) -> None:
    from opsapp.features.drift.freshness import generation_inputs
    from opsapp.operations.service import ensure_run

    with session_scope(engine) as session:
        inputs = generation_inputs(session, session.get(BackupSet, set_id))
        assert inputs["policy_types"] == ["deviceCompliancePolicy"]  # the baseline's scope
        run_id = ensure_run(
            session,
            tenant_id=tenant.id,
            run_type="drift.generate",
            inputs=inputs,
            user_id=None,
            initiator_name="x",
        ).run.id
    with engine.begin() as conn:
        table = OperationRun.__table__
        conn.execute(
            sa.update(table)
            .where(table.c.id == run_id)
            .values(
                status="completed",
                outcome="succeeded",
                started_at=table.c.created_at,
                completed_at=table.c.created_at,
            )
        )


def _drift_runs(engine) -> list[OperationRun]:
    with session_scope(engine) as session:
        return list(session.exec(select(OperationRun).where(OperationRun.type == "drift.generate")))


def _findings(engine) -> list[DriftFinding]:
    with session_scope(engine) as session:
        return list(session.exec(select(DriftFinding).order_by(DriftFinding.id)))


async def test_a_stale_page_starts_one_generation_for_several_admins(
    app_db, contoso, users, drift_dispatcher
):
    set_id = _baseline_with_drift(app_db, contoso)
    first = _landing(token_for(app_db, users["operator"]))
    said = describe(await run_handler(first.load()))
    assert "Findings were out of date" in said and "View run" in said
    [run] = _drift_runs(app_db)
    assert first.watch_run_id == run.id and first.baseline_choice == str(set_id)
    second = _landing(token_for(app_db, users["manager"]))
    assert "out of date" not in describe(await run_handler(second.load()))
    assert len(_drift_runs(app_db)) == 1 and second.watch_run_id == run.id
    assert drift_dispatcher.dispatched == [run.id]


async def test_a_reader_sees_the_stale_notice_and_starts_nothing(
    app_db, contoso, users, drift_dispatcher
):
    _baseline_with_drift(app_db, contoso)
    state = _landing(token_for(app_db, users["readonly"]))
    assert await run_handler(state.load()) == []
    assert state.access == "ok" and state.stale and "No drift" in state.stale_reason
    assert _drift_runs(app_db) == [] and drift_dispatcher.dispatched == []
    said = describe(await run_handler(state.generate()))
    assert "Not allowed" in said and _drift_runs(app_db) == []


async def test_fresh_findings_render_from_the_database_without_a_start(
    app_db, contoso, users, drift_dispatcher
):
    set_id = _baseline_with_drift(app_db, contoso)
    _generate(app_db, contoso, set_id)
    _completed_generation(app_db, contoso, set_id)  # makes the findings fresh
    state = _landing(token_for(app_db, users["operator"]), query="kind=modified&sort=changed_paths")
    assert await run_handler(state.load()) == []
    assert not state.stale and state.kind_filter == "modified" and state.sort == "changed_paths"
    assert [r["display_name"] for r in state.rows] == [
        "Compliance 00",
        "Compliance 01",
        "Compliance 02",
    ]
    assert state.counts["by_kind"]["modified"] == 3
    assert len(_drift_runs(app_db)) == 1 and drift_dispatcher.dispatched == []


async def test_url_filters_fall_back_to_defaults_and_unknown_baselines_say_so(
    app_db, contoso, users, drift_dispatcher
):
    set_id = _baseline_with_drift(app_db, contoso)
    state = _landing(
        token_for(app_db, users["readonly"]),
        query="baseline=99999&state=bogus&kind=%3Cscript%3E&page=-3",
    )
    said = describe(await run_handler(state.load()))
    assert "Baseline not found" in said
    assert state.baseline_choice == str(set_id)
    assert (state.state_filter, state.kind_filter, state.page_number) == ("open", "all", 1)


async def test_no_backup_set_shows_the_no_baseline_state(app_db, contoso, users, drift_dispatcher):
    state = _landing(token_for(app_db, users["operator"]))
    assert await run_handler(state.load()) == []
    assert state.baseline_choice == "" and state.loaded and _drift_runs(app_db) == []


async def test_strangers_get_404(app_db, contoso, other_tenant, users, drift_dispatcher):
    set_id = _baseline_with_drift(app_db, contoso)
    _generate(app_db, contoso, set_id)
    stranger = make_user(app_db, tenant=other_tenant, email="eve@fabrikam.test")
    token = token_for(app_db, stranger)
    state = _landing(token)
    await run_handler(state.load())
    assert state.access == "not_found" and state.rows == []
    finding = _findings(app_db)[0]
    detail = _finding_state(token, finding.id)
    await run_handler(detail.load())
    assert detail.access == "not_found" and detail.finding == {}
    # A member of fabrikam asking for contoso's finding under fabrikam's slug: still 404.
    detail = _finding_state(token, finding.id, slug="fabrikam")
    await run_handler(detail.load())
    assert detail.access == "not_found" and detail.finding == {}
    assert _drift_runs(app_db) == []


async def test_acknowledge_from_the_list_and_the_detail_page(
    app_db, contoso, users, drift_dispatcher
):
    set_id = _baseline_with_drift(app_db, contoso)
    _generate(app_db, contoso, set_id)
    ids = [f.id for f in _findings(app_db)]
    reader = _landing(token_for(app_db, users["readonly"]))
    await run_handler(reader.load())
    reader.ack_ids = ids  # a crafted event: the dialog was never offered
    assert "Not allowed" in describe(await run_handler(reader.confirm_ack({"note": "x"})))
    assert {f.state for f in _findings(app_db)} == {"new"}

    operator = _landing(token_for(app_db, users["operator"]))
    await run_handler(operator.load())
    operator.toggle_finding(ids[0], True)
    operator.toggle_finding(ids[1], True)
    await run_handler(operator.open_ack_selected())
    assert operator.ack_ids == ids[:2]
    await run_handler(operator.confirm_ack({"note": "x" * 1001}))
    assert "too long" in operator.ack_error and {f.state for f in _findings(app_db)} == {"new"}
    said = describe(await run_handler(operator.confirm_ack({"note": "CHG-7"})))
    assert "2 findings acknowledged" in said and operator.ack_ids == []
    states = {f.id: (f.state, f.acknowledgement_note) for f in _findings(app_db)}
    assert states[ids[0]] == ("acknowledged", "CHG-7") and states[ids[2]][0] == "new"

    detail = _finding_state(token_for(app_db, users["manager"]), ids[2])
    await run_handler(detail.load())
    assert detail.finding["kind"] == "modified" and detail.only_changed
    assert [r["path"] for r in detail.visible_rows] == ["passwordMinimumLength"]
    await run_handler(detail.open_ack())
    said = describe(await run_handler(detail.confirm_ack({"note": ""})))
    assert "1 finding acknowledged" in said
    assert detail.finding["state"] == "acknowledged"
    assert detail.finding["acknowledged_by"]


async def test_unknown_or_malformed_finding_ids_are_404(app_db, contoso, users):
    token = token_for(app_db, users["operator"])
    for raw in ("999999", "abc", "-1", "0"):
        state = _finding_state(token, raw)
        await run_handler(state.load())
        assert state.access == "not_found", raw


async def test_an_empty_baseline_starts_nothing_and_says_why(
    app_db, contoso, users, drift_dispatcher
):
    with session_scope(app_db) as session:
        session.add(BackupSet(tenant_id=contoso.id, name="Empty"))
    state = _landing(token_for(app_db, users["operator"]))
    assert await run_handler(state.load()) == []
    assert state.empty_baseline and not state.stale
    said = describe(await run_handler(state.generate()))
    assert "The baseline is empty" in said and _drift_runs(app_db) == []


async def test_a_generation_that_completes_while_waiting_for_the_lease_is_shown(
    app_db, contoso, users, drift_dispatcher, monkeypatch
):
    """The second admin's page read its rows before the first admin's generation finished; it
    must reread them when it finds the findings fresh, or it shows nothing until a reload."""
    from opsapp.ui.state import drift as drift_state

    set_id = _baseline_with_drift(app_db, contoso)
    real = drift_state.start_if_stale

    async def others_run_finishes_first(**kwargs):
        _generate(app_db, contoso, set_id)
        _completed_generation(app_db, contoso, set_id)
        return await real(**kwargs)

    monkeypatch.setattr(drift_state, "start_if_stale", others_run_finishes_first)
    state = _landing(token_for(app_db, users["manager"]))
    assert await run_handler(state.load()) == []  # nothing started by this page
    assert len(state.rows) == 3 and not state.stale
    assert drift_dispatcher.dispatched == []
