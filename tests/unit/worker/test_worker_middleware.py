"""Run tracking through the in-memory broker, on SQLite and PostgreSQL: the middleware claims,
heartbeats and completes runs; bodies never set status; no hook ever raises."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session
from taskiq.kicker import AsyncKicker

from opsapp.models import OperationRun
from opsapp.models.types import utcnow
from opsapp.operations import lifecycle
from opsapp.operations.results import RunResult
from opsapp.operations.service import ensure_run
from opsapp.worker.broker import tracking_middleware
from opsapp.worker.registry import RunContext, operation_task, task_name_for
from tests.unit.worker.worker_helpers import UNIT_TYPE, UNIT_TYPE_2, load_run, notifications_of

_T = OperationRun.__table__


def _row(engine, run_id: int) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(_T).where(_T.c.id == run_id)).mappings().one())


async def _kick(broker, run_id: int, run_type: str = UNIT_TYPE) -> None:
    await (
        AsyncKicker(task_name_for(run_type), broker, {})
        .with_labels(operation_run_id=run_id)
        .kiq(run_id)
    )
    await broker.wait_all()


async def test_run_goes_queued_running_completed_with_body_context(engine, broker, start, people):
    seen: dict = {}

    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        row = _row(ctx.engine, ctx.run_id)
        seen.update(status=row["status"], started=row["started_at"], ctx=ctx)
        return RunResult(counts={"total": 2, "processed": 2, "created": 2})

    run = await start(7)

    tenant, user = people
    assert seen["status"] == "running" and seen["started"] is not None
    ctx = seen["ctx"]
    assert (ctx.run_id, ctx.tenant_id, ctx.run_type, ctx.inputs) == (
        run.id,
        tenant.id,
        UNIT_TYPE,
        {"key": 7},
    )
    assert (run.status, run.outcome, run.attempts) == ("completed", "succeeded", 1)
    assert run.summary_counts == {"total": 2, "processed": 2, "created": 2}
    assert run.failures == []
    assert run.started_at <= run.completed_at
    titles = [n.title for n in notifications_of(engine, user.id)]
    assert titles == [f"Unit {UNIT_TYPE} queued", f"Unit {UNIT_TYPE} succeeded"]


async def test_item_failures_make_the_run_partially_succeeded(engine, broker, start):
    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        result = RunResult(counts={"total": 3, "processed": 3, "created": 2})
        result.fail_item("graph.forbidden", "Access denied to policy", item="policy-9")
        return result

    run = await start()

    assert (run.status, run.outcome) == ("completed", "partially_succeeded")
    assert run.summary_counts["failed"] == 1
    assert run.failures == [
        {
            "code": "graph.forbidden",
            "message": "Access denied to policy",
            "count": 1,
            "item": "policy-9",
        }
    ]


async def test_body_exception_fails_the_run_with_a_sanitized_failure(engine, broker, start, people):
    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        raise RuntimeError("db said password=hunter2 for postgresql://ops:s3cret@db/x")

    run = await start()

    assert (run.status, run.outcome) == ("completed", "failed")
    [failure] = run.failures
    assert failure["code"] == "internal.error"
    assert "hunter2" not in str(run.failures) and "s3cret" not in str(run.failures)
    assert failure["error_id"] in failure["message"]
    last = notifications_of(engine, people[1].id)[-1]
    assert last.level == "error" and "hunter2" not in last.body


async def test_bad_counts_in_the_result_fail_the_run_not_the_worker(engine, broker, start):
    calls = []

    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        calls.append(ctx.inputs["key"])
        if ctx.inputs["key"] == 1:
            return RunResult(counts={"bananas": 3})
        return RunResult(counts={"total": 1, "processed": 1})

    bad = await start(1)
    good = await start(2)  # the same worker goes on

    assert (bad.status, bad.outcome) == ("completed", "failed")
    assert bad.failures[0]["code"] == "internal.error"
    assert "bananas" in bad.failures[0]["message"]
    assert bad.summary_counts == {}
    assert (good.outcome, calls) == ("succeeded", [1, 2])


async def test_bad_counts_in_a_progress_report_fail_the_run(engine, broker, start):
    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        await ctx.report_progress({"processed": -1})
        return RunResult()

    run = await start()

    assert run.outcome == "failed" and run.failures[0]["code"] == "internal.error"


async def test_a_body_returning_something_else_fails_the_run(engine, broker, start):
    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext):
        return {"total": 1}

    run = await start()

    assert run.outcome == "failed"
    assert "not RunResult" in run.failures[0]["message"]


async def test_redelivered_message_for_a_completed_run_is_a_noop(engine, broker, start):
    calls = []

    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        calls.append(ctx.run_id)
        return RunResult(counts={"total": 1, "processed": 1})

    run = await start()
    before = _row(engine, run.id)

    await _kick(broker, run.id)

    assert calls == [run.id]
    assert _row(engine, run.id) == before


async def test_message_for_a_run_with_a_live_worker_is_skipped(engine, broker, start):
    calls = []

    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        calls.append(ctx.run_id)
        return RunResult()

    run = await start(wait=False)
    await broker.wait_all()
    # Put it back to running with a fresh heartbeat, as if another worker held it.
    with engine.begin() as conn:
        conn.execute(
            sa.update(_T)
            .where(_T.c.id == run.id)
            .values(status="running", outcome="pending", completed_at=None, heartbeat_at=utcnow())
        )
    before = _row(engine, run.id)
    calls.clear()

    await _kick(broker, run.id)

    assert calls == []
    assert _row(engine, run.id) == before


async def test_a_running_run_whose_worker_went_silent_is_taken_over(engine, broker, start, people):
    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        return RunResult(counts={"total": 1, "processed": 1})

    run = await start()
    stale = utcnow() - timedelta(minutes=5)
    with engine.begin() as conn:
        conn.execute(
            sa.update(_T)
            .where(_T.c.id == run.id)
            .values(status="running", outcome="pending", completed_at=None, heartbeat_at=stale)
        )

    await _kick(broker, run.id)

    again = load_run(engine, run.id)
    assert (again.status, again.outcome, again.attempts) == ("completed", "succeeded", 2)


async def test_message_for_a_missing_run_or_of_the_wrong_type_is_skipped(engine, broker, start):
    calls = []

    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        calls.append(ctx.run_id)
        return RunResult()

    await _kick(broker, 424242)
    assert calls == []

    @operation_task(UNIT_TYPE_2)
    async def other(ctx: RunContext) -> RunResult:
        calls.append(("other", ctx.run_id))
        return RunResult()

    run = await start(wait=False, run_type=UNIT_TYPE_2)
    await broker.wait_all()
    with engine.begin() as conn:  # back to queued, then a message naming the wrong task
        conn.execute(
            sa.update(_T).where(_T.c.id == run.id).values(status="queued", outcome="pending")
        )
    calls.clear()
    await _kick(broker, run.id, run_type=UNIT_TYPE)
    assert calls == []
    assert load_run(engine, run.id).status == "queued"


async def test_a_database_error_before_the_body_never_raises_and_skips_the_body(
    engine, broker, start, monkeypatch, caplog
):
    calls = []

    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        calls.append(ctx.run_id)
        return RunResult()

    run = await start(wait=False)
    await broker.wait_all()
    calls.clear()
    with engine.begin() as conn:
        conn.execute(
            sa.update(_T).where(_T.c.id == run.id).values(status="queued", outcome="pending")
        )

    async def broken(*_a, **_k):
        raise sa.exc.OperationalError(
            "SELECT", {}, Exception("connection to postgresql://u:pw@h failed")
        )

    monkeypatch.setattr("opsapp.operations.lifecycle.claim_many_async", broken)
    caplog.set_level(logging.ERROR, logger="opsapp.worker")
    await _kick(broker, run.id)

    assert calls == []
    assert load_run(engine, run.id).status == "queued"  # untouched: the reaper settles it later
    assert "could not claim" in caplog.text and "u:pw" not in caplog.text


async def test_a_failure_after_the_claim_fails_the_run_instead_of_leaving_it_running(
    engine, broker, start, monkeypatch
):
    calls = []

    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        calls.append(ctx.run_id)
        return RunResult()

    def broken_context(*_a, **_k):
        raise RuntimeError("cannot build context")

    monkeypatch.setattr("opsapp.worker.middleware.RunContext", broken_context)
    run = await start()

    assert calls == []
    assert (run.status, run.outcome) == ("completed", "failed")
    assert run.failures[0]["code"] == "internal.error"


async def test_the_terminal_notification_commits_with_the_completion(
    engine, broker, start, people, monkeypatch
):
    """No crash can fall between a run's completion and its notification: they are one
    transaction, so a failing notification write leaves the run uncompleted (and retried)."""
    from opsapp.operations import lifecycle as lifecycle_module

    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        return RunResult(counts={"total": 1, "processed": 1})

    def exploding(conn, run_ids):
        raise RuntimeError("notification table unavailable")

    def too_long(run, tenant):  # PostgreSQL's one-statement completion: the INSERT fails there
        return {**real_texts(run, tenant), "title": "x" * 500}  # title is VARCHAR(200)

    real_texts = lifecycle_module.completed_texts
    monkeypatch.setattr(lifecycle_module, "add_completed", exploding)
    monkeypatch.setattr(lifecycle_module, "completed_texts", too_long)
    run = await start(3)
    assert (run.status, run.outcome) == ("running", "pending")  # rolled back with it
    tenant, user = people
    assert [n.title for n in notifications_of(engine, user.id)] == [f"Unit {UNIT_TYPE} queued"]

    monkeypatch.undo()
    assert lifecycle.complete_run(run.id, outcome="succeeded", engine=engine)
    titles = [n.title for n in notifications_of(engine, user.id)]
    assert titles == [f"Unit {UNIT_TYPE} queued", f"Unit {UNIT_TYPE} succeeded"]


async def test_a_taken_over_attempt_is_fenced_and_abandons_its_body(engine, broker, start):
    """A worker that froze while another took its run over: its heartbeat is refused, its body
    is cancelled, and neither its progress nor its completion is written."""
    took_over, body_cancelled = asyncio.Event(), asyncio.Event()

    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        # Another worker takes the run over: the attempt moves on (as its claim would).
        with ctx.engine.begin() as conn:
            conn.execute(
                sa.update(_T).where(_T.c.id == ctx.run_id).values(attempts=_T.c.attempts + 1)
            )
        took_over.set()
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            body_cancelled.set()
            raise
        return RunResult(counts={"total": 1, "processed": 1})

    tracking_middleware(broker)._heartbeat_seconds = 0.05
    run = await start(4)
    assert took_over.is_set() and body_cancelled.is_set()
    row = _row(engine, run.id)
    # Nothing the zombie wrote landed: still running on the new attempt, no completion.
    assert (row["status"], row["outcome"], row["attempts"]) == ("running", "pending", 2)
    assert lifecycle.heartbeat(run.id, attempt=1, engine=engine) is False
    assert lifecycle.update_progress(run.id, {"total": 1}, attempt=1, engine=engine) is False
    assert lifecycle.complete_run(run.id, outcome="succeeded", attempt=1, engine=engine) is False
    assert lifecycle.complete_run(run.id, outcome="succeeded", attempt=2, engine=engine) is True


async def _start_a_waiting_body(broker, start, key: int):
    """Start a run whose body waits (30 s); return the middleware, its execution once the body
    runs, and the task that finishes when the run's message is done."""
    entered = asyncio.Event()

    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        entered.set()
        await asyncio.sleep(30)
        return RunResult(counts={"total": 1, "processed": 1})

    middleware = tracking_middleware(broker)
    middleware.decides_acks = True  # as the runner does
    started = asyncio.create_task(start(key))
    await asyncio.wait_for(entered.wait(), 5)
    (execution,) = middleware.executing()
    return middleware, execution, started


async def test_a_handed_back_run_is_queued_again_and_left_unacknowledged(engine, broker, start):
    middleware, execution, started = await _start_a_waiting_body(broker, start, 5)
    assert middleware.hand_back_all() == [execution]
    execution.body.cancel()
    run = await asyncio.wait_for(started, 5)
    assert (run.status, run.outcome, run.attempts) == ("queued", "pending", 1)
    assert run.next_send_at is not None and run.heartbeat_at is None
    assert middleware.should_ack(execution.task_id) is False
    assert middleware.should_ack(execution.task_id) is True  # asked once per delivery
    # The next claim is attempt 2; the old attempt cannot hand back or complete any more.
    claim, attempt = lifecycle.claim_run(run.id, lost_after=timedelta(seconds=60), engine=engine)
    assert (claim, attempt) == (lifecycle.Claim.claimed, 2)
    assert lifecycle.hand_back(run.id, attempt=1, engine=engine) is False


async def test_a_run_that_is_not_resumable_is_failed_instead_of_handed_back(
    engine, broker, start, monkeypatch
):
    """restore.execute-like types: a second pass could repeat writes, so a stopping worker
    fails the run (worker.lost) rather than giving it to another worker."""
    import dataclasses

    from opsapp.operations import catalog

    monkeypatch.setitem(
        catalog.OPERATION_TYPES,
        UNIT_TYPE,
        dataclasses.replace(catalog.OPERATION_TYPES[UNIT_TYPE], resumable=False),
    )
    middleware, execution, started = await _start_a_waiting_body(broker, start, 6)
    assert middleware.hand_back_all() == []
    execution.body.cancel()
    run = await asyncio.wait_for(started, 5)
    assert (run.status, run.outcome) == ("completed", "failed")
    assert [f["code"] for f in run.failures] == ["worker.lost"]
    assert middleware.should_ack(execution.task_id) is True


async def test_heartbeats_are_written_while_the_body_runs(engine, broker, start):
    beats = []

    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        for _ in range(6):
            await asyncio.sleep(0.06)
            beats.append(_row(ctx.engine, ctx.run_id)["heartbeat_at"])
        return RunResult()

    run = await start()

    assert len(set(beats)) >= 3, beats  # heartbeat every 0.05 s moved it several times
    assert run.outcome == "succeeded"


async def test_progress_writes_are_rate_limited_and_the_latest_counts_land(
    engine, broker, start, monkeypatch
):
    writes = []
    real = lifecycle.update_progress

    def spy(run_id, counts, **kw):
        writes.append(dict(counts))
        return real(run_id, counts, **kw)

    monkeypatch.setattr(lifecycle, "update_progress", spy)
    stored = {}

    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        began = time.monotonic()
        for i in range(1, 51):
            await ctx.report_progress({"total": 50, "processed": i})
        stored["burst_writes"] = len(writes)
        for _ in range(100):  # the deferred write lands once the 0.2 s interval has passed
            await asyncio.sleep(0.02)
            if _row(ctx.engine, ctx.run_id)["summary_counts"].get("processed") == 50:
                break
        stored["mid"] = _row(ctx.engine, ctx.run_id)["summary_counts"]
        stored["mid_after"] = time.monotonic() - began
        await ctx.report_progress({"total": 50, "processed": 50, "created": 1}, final=True)
        stored["final"] = _row(ctx.engine, ctx.run_id)["summary_counts"]
        return RunResult()  # no counts: the reported ones are kept

    run = await start()

    assert writes[0] == {"total": 50, "processed": 1}
    assert stored["burst_writes"] == 1  # 49 reports inside the interval: none written at once
    assert stored["mid"] == {"total": 50, "processed": 50} and stored["mid_after"] >= 0.19
    assert len(writes) == 3, writes  # first, one deferred for the burst, the final one
    assert stored["final"] == {"total": 50, "processed": 50, "created": 1}
    assert run.summary_counts == {"total": 50, "processed": 50, "created": 1}


async def test_a_system_run_notifies_nobody(engine, broker, start, people):
    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        return RunResult(counts={"total": 1, "processed": 1})

    run = await start(system=True)

    assert (run.user_id, run.initiator_name, run.outcome) == (None, "System", "succeeded")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM notifications")).scalar() == 0


async def test_runs_that_arrive_together_are_claimed_and_completed_together(engine, broker, people):
    """A burst of messages: every run completes exactly as one alone would, and on PostgreSQL
    the claims and completions that met in flight shared statements (opsapp.worker.batching)."""
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        await asyncio.sleep(0.01)
        return RunResult(counts={"total": 1, "processed": 1})

    tenant, user = people
    with Session(engine) as session:  # queued, not yet sent: the burst is sent below at once
        runs = [
            ensure_run(
                session,
                tenant_id=tenant.id,
                run_type=UNIT_TYPE,
                inputs={"key": key},
                user_id=user.id,
                initiator_name="Operator",
            ).run
            for key in range(1, 9)
        ]
        session.commit()
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        for run in runs:  # the in-memory broker executes each message in a task of its own
            await (
                AsyncKicker(task_name_for(UNIT_TYPE), broker, {})
                .with_labels(operation_run_id=run.id)
                .kiq(run.id)
            )
        await broker.wait_all()
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)

    for run in runs:
        done = load_run(engine, run.id)
        assert (done.status, done.outcome, done.attempts) == ("completed", "succeeded", 1)
    titles = [n.title for n in notifications_of(engine, user.id)]
    assert titles.count(f"Unit {UNIT_TYPE} succeeded") == len(runs)
    if engine.dialect.name == "postgresql":
        claims = [s for s in statements if "SET status" in s and "status = 'queued'" in s]
        completions = [s for s in statements if s.lstrip().startswith("WITH done AS")]
        assert 1 <= len(claims) < len(runs)
        assert 1 <= len(completions) < len(runs)
