"""Ids a run made travel in its RunResult and are stored by the UPDATE that completes it (fenced,
with its notification), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from opsapp.db import session_scope
from opsapp.models import Notification, OperationRun
from opsapp.operations import lifecycle
from opsapp.operations.results import InvalidProduced, RunResult, validate_produced
from opsapp.operations.service import ensure_run
from opsapp.operations.status import RunOutcome
from tests.factories import make_tenant, make_user

LOST = timedelta(seconds=60)
_T = OperationRun.__table__


def _running(engine, *, schedule_id=2, user=True):
    tenant = make_tenant(engine)
    user_id = make_user(engine, tenant=tenant).id if user else None
    with session_scope(engine) as s:
        run = ensure_run(
            s,
            tenant_id=tenant.id,
            run_type="backup_schedule.run_now",
            inputs={"schedule_id": schedule_id},
            user_id=user_id,
            initiator_name="Tester",
        ).run
    claim, attempt = lifecycle.claim_run(run.id, lost_after=LOST, engine=engine)
    assert claim.should_execute
    return run.id, attempt, user_id


def _row(engine, run_id):
    with engine.connect() as conn:
        return conn.execute(sa.select(_T).where(_T.c.id == run_id)).mappings().one()


def _notifications(engine, user_id):
    table = Notification.__table__
    with engine.connect() as conn:
        query = sa.select(table.c.title).where(table.c.user_id == user_id).order_by(table.c.id)
        return list(conn.execute(query).scalars())


def test_completion_stores_the_produced_ids_with_the_outcome(engine):
    run_id, attempt, user_id = _running(engine)
    assert lifecycle.record_produced(run_id, {"backup_set_id": 5}, engine=engine, attempt=attempt)
    assert lifecycle.complete_run(
        run_id,
        outcome=RunOutcome.succeeded,
        summary_counts={"total": 1},
        produced={"backup_set_id": 6, "other_id": "x-1"},
        engine=engine,
        attempt=attempt,
    )
    row = _row(engine, run_id)
    assert (row["status"], row["outcome"]) == ("completed", "succeeded")
    assert row["context"]["produced"] == {"backup_set_id": 6, "other_id": "x-1"}
    assert row["context"]["inputs"] == {"schedule_id": 2}  # the rest of the context is kept
    assert _notifications(engine, user_id)[-1].endswith("succeeded")


def test_a_fenced_or_repeated_completion_writes_no_produced_ids(engine):
    run_id, attempt, _ = _running(engine)
    stale = lifecycle.complete_run(
        run_id,
        outcome=RunOutcome.succeeded,
        produced={"backup_set_id": 9},
        engine=engine,
        attempt=attempt - 1,
    )
    assert stale is False
    assert _row(engine, run_id)["status"] == "running"
    assert "produced" not in _row(engine, run_id)["context"]

    assert lifecycle.complete_run(run_id, outcome=RunOutcome.failed, engine=engine, attempt=attempt)
    again = lifecycle.complete_run(
        run_id, outcome=RunOutcome.succeeded, produced={"backup_set_id": 9}, engine=engine
    )
    assert again is False
    row = _row(engine, run_id)
    assert (row["outcome"], row["context"].get("produced")) == ("failed", None)


def test_completion_without_produced_ids_leaves_the_context_alone(engine):
    run_id, attempt, _ = _running(engine)
    lifecycle.record_produced(run_id, {"backup_set_id": 5}, engine=engine)
    assert lifecycle.complete_run(
        run_id, outcome=RunOutcome.succeeded, produced={}, engine=engine, attempt=attempt
    )
    assert _row(engine, run_id)["context"]["produced"] == {"backup_set_id": 5}


def test_produced_ids_belong_to_one_run(engine):
    first, _, _ = _running(engine, schedule_id=1, user=False)
    second, _, _ = _running(engine, schedule_id=2, user=False)
    with pytest.raises(ValueError, match="belong to one run"):
        with engine.begin() as conn:
            lifecycle.complete_where(
                conn,
                _T.c.id.in_([first, second]),
                outcome=RunOutcome.succeeded,
                produced={"backup_set_id": 1},
            )
    assert {_row(engine, i)["status"] for i in (first, second)} == {"running"}


def test_a_failing_notification_rolls_the_produced_ids_back(engine, monkeypatch):
    run_id, attempt, _ = _running(engine)

    def broken(conn, ids):
        raise RuntimeError("notification insert failed")

    monkeypatch.setattr(lifecycle, "add_completed", broken)
    with pytest.raises(RuntimeError, match="notification insert failed"):
        lifecycle.complete_run(
            run_id,
            outcome=RunOutcome.succeeded,
            produced={"backup_set_id": 4},
            engine=engine,
            attempt=attempt,
        )
    row = _row(engine, run_id)
    assert (row["status"], row["context"].get("produced")) == ("running", None)


def test_produced_ids_are_checked_against_the_type():
    assert RunResult().produced == {}
    ok = validate_produced("backup_schedule.run_now", {"backup_set_id": 7})
    assert ok == {"backup_set_id": 7}
    assert validate_produced("inventory.sync", {}) == {}


@pytest.mark.parametrize(
    ("run_type", "produced", "message"),
    [
        ("backup_schedule.run_now", {"backup_set": 7}, "'backup_set' is not a produced id"),
        ("inventory.sync", {"backup_set_id": 7}, r"not a produced id of inventory.sync \(none\)"),
        ("backup_schedule.run_now", {"backup_set_id": True}, "integer or string id"),
        ("backup_schedule.run_now", {"backup_set_id": 1.5}, "integer or string id"),
        ("backup_schedule.run_now", {"backup_set_id": 0}, "positive integer"),
        ("backup_schedule.run_now", {"backup_set_id": " "}, "1-200 characters"),
        ("backup_schedule.run_now", {"backup_set_id": "x" * 201}, "1-200 characters"),
    ],
)
def test_bad_produced_ids_are_refused(run_type, produced, message):
    with pytest.raises(InvalidProduced, match=message):
        validate_produced(run_type, produced)
