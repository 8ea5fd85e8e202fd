"""Run tracking around every `opsapp.op.<type>` task: the one place a run's status changes while a
worker executes it.

- pre_execute: claim the run (one UPDATE returning the run; claims that arrive while one is
  being written go together in one statement, `lifecycle.claim_many`). When the claim says
  don't execute — the run is completed (a redelivered message), running on a live worker,
  missing, or the message is bogus — the body is skipped and the run is left untouched.
  Otherwise a heartbeat starts.
- the task function (see `task_function`) runs the registered body only for a claimed run.
- on_error: the body raised → the run is failed with a sanitized failure.
- post_execute: the body returned → `results.finalise` → `lifecycle.complete_many` (batched
  like the claims); bad counts, undeclared produced ids or a wrong return type fail the run
  with internal.error instead of crashing the worker. The terminal notification and the
  result's produced ids are written in the completion's own transaction.

Fencing: the claim's attempt token goes with every heartbeat, progress write and completion.
When a heartbeat is refused (the run was taken over by another worker, or completed by the
reaper while this worker was frozen) the body is cancelled and nothing more is written.

Hand-back: a stopping worker (opsapp.worker.runner) marks its executions `handing_back` and
cancels them; their runs go back to queued (fenced) instead of failing, and their messages are
not acknowledged. A claim that finds the run running on a live worker leaves its message
unacknowledged too, so that it is offered again and can take the run over if that worker dies.

No hook ever raises: an exception in pre_execute would leave a Redis message unacknowledged
forever, so every failure here is caught and logged (sanitized) instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from taskiq import Context, TaskiqDepends, TaskiqMessage, TaskiqMiddleware, TaskiqResult

from opsapp.db import get_engine
from opsapp.operations import lifecycle
from opsapp.operations.catalog import get_type
from opsapp.operations.failures import (
    WORKER_LOST,
    failure_from_exception,
    make_failure,
    sanitize_text,
)
from opsapp.operations.lifecycle import Claim
from opsapp.operations.results import RunResult, finalise, validate_produced
from opsapp.settings import get_settings
from opsapp.worker.batching import Coalescer
from opsapp.worker.config import get_worker_settings
from opsapp.worker.registry import RunContext, RunNoLongerOwned, get_body, run_type_of

log = logging.getLogger("opsapp.worker")

RUN_ID_LABEL = "operation_run_id"
EXECUTION_LABEL = "opsapp_execution"  # set locally by pre_execute; never sent over the wire
STOPPED_MESSAGE = "The worker stopped while running this operation; the run was marked failed."
_execution_tokens = itertools.count(1)
_RETRY_DELAYS = (0.0, 0.5, 2.0)  # completing a run survives a short database hiccup


@dataclass
class _RunRow:
    """What the worker needs of a run (returned by the claim)."""

    id: int
    tenant_id: int
    user_id: int | None
    type: str
    inputs: dict[str, Any]


@dataclass
class Execution:
    """One delivery of one operation message inside this worker."""

    run_type: str
    task_id: str = ""
    run: _RunRow | None = None
    claim: Claim | None = None
    attempt: int | None = None  # the fence token of this execution's claim
    ctx: RunContext | None = None
    heartbeat: asyncio.Task[None] | None = None
    body: asyncio.Task[Any] | None = None
    result: Any = None
    finished: bool = False
    fenced: bool = False  # the run moved on without us: write nothing more
    handing_back: bool = False  # the worker is stopping: give the run back, do not fail it

    @property
    def should_execute(self) -> bool:
        return self.claim is not None and self.claim.should_execute and self.ctx is not None


def _log_error(what: str, exc: BaseException) -> None:
    tb = sanitize_text("".join(traceback.format_exception(exc)), cap=8000)
    log.error("%s: %s", what, tb)


def _run_id_of(message: TaskiqMessage) -> int | None:
    raw = message.labels.get(RUN_ID_LABEL)
    if raw is None:
        raw = message.kwargs.get("run_id", message.args[0] if message.args else None)
    try:
        return int(raw) if raw is not None and not isinstance(raw, bool) else None
    except (TypeError, ValueError):
        return None


def _run_row(row: Any) -> _RunRow:
    """The worker's view of a claimed run (the claim's UPDATE returned it)."""
    inputs = (row.context or {}).get("inputs") or {}
    return _RunRow(row.id, row.tenant_id, row.user_id, row.type, dict(inputs))


def failure_for(exc: BaseException) -> dict[str, Any]:
    """The stored failure for an exception that escaped a task body."""
    if isinstance(exc, asyncio.CancelledError):
        return make_failure(WORKER_LOST, STOPPED_MESSAGE)
    return failure_from_exception(exc)


class RunTrackingMiddleware(TaskiqMiddleware):
    """Claims, heartbeats and completes OperationRuns around `opsapp.op.*` tasks."""

    def __init__(
        self,
        *,
        engine: Engine | None = None,
        heartbeat_seconds: float | None = None,
        lost_after_seconds: float | None = None,
        progress_interval: float | None = None,
    ) -> None:
        super().__init__()
        self._engine = engine
        self._heartbeat_seconds = heartbeat_seconds
        self._lost_after_seconds = lost_after_seconds
        self._progress_interval = progress_interval
        self._executions: dict[str, Execution] = {}
        # Set by a runner that acknowledges messages itself (opsapp.worker.runner) and asks
        # `should_ack`; other brokers (in-memory) never leave a message unacknowledged.
        self.decides_acks = False
        # task ids of messages to leave unacknowledged (see the module docstring)
        self._keep_unacked: set[str] = set()
        # Claims and completions that arrive while one is being written go together in the
        # next statement (opsapp.worker.batching): a drain pays a round trip per batch.
        self._claims: Coalescer[tuple[int, str], tuple[Claim, Any]] = Coalescer(self._claim_batch)
        self._completions: Coalescer[lifecycle.Completion, bool] = Coalescer(self._complete_batch)

    @property
    def engine(self) -> Engine:
        return self._engine or get_engine()

    def execution_for(self, message: TaskiqMessage) -> Execution | None:
        return self._executions.get(message.labels.get(EXECUTION_LABEL, ""))

    def executing(self) -> list[Execution]:
        """The executions whose body runs in this process now."""
        return [e for e in self._executions.values() if e.should_execute and not e.finished]

    def hand_back_all(self) -> list[Execution]:
        """Mark every running execution of a resumable type to be handed back (the caller then
        cancels them all; the others fail as worker.lost). Returns those handed back."""
        executions = [e for e in self.executing() if get_type(e.run_type).resumable]
        for execution in executions:
            execution.handing_back = True
        return executions

    def _keep_unacked_message(self, task_id: str) -> None:
        if self.decides_acks:  # nobody would ever ask otherwise
            self._keep_unacked.add(task_id)

    def should_ack(self, task_id: str) -> bool:
        """Whether the runner should acknowledge the message `task_id` it just processed."""
        if task_id in self._keep_unacked:
            self._keep_unacked.discard(task_id)
            return False
        return True

    # -- hooks ------------------------------------------------------------------------------
    async def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        run_type = run_type_of(message.task_name)
        if run_type is None:
            return message
        token = f"x{next(_execution_tokens)}"  # unique in this process (uuid4 costs a syscall)
        message.labels[EXECUTION_LABEL] = token
        execution = Execution(run_type=run_type, task_id=message.task_id)
        self._executions[token] = execution
        try:
            await self._claim(execution, message)
        except Exception as exc:  # never raise from a hook; the body will not run
            _log_error(f"could not claim operation message {message.task_id}", exc)
            await self._abandon_claim(execution, exc)
        return message

    async def on_error(
        self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException
    ) -> None:
        try:
            execution = self.execution_for(message)
            if execution is None or not execution.should_execute or execution.finished:
                return
            execution.finished = True
            await self._stop(execution)
            if execution.handing_back:
                await self._hand_back(execution)
            elif execution.fenced or isinstance(exception, RunNoLongerOwned):
                log.warning(
                    "run %s: attempt %s abandoned, its writes are refused (the run was taken "
                    "over or completed elsewhere)",
                    execution.run.id if execution.run else "?",
                    execution.attempt,
                )
            else:
                await self._finish(execution, lambda: self._fail(execution, failure_for(exception)))
        except Exception as exc:
            _log_error(f"could not record the failure of operation message {message.task_id}", exc)

    async def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        try:
            execution = self._executions.pop(message.labels.get(EXECUTION_LABEL, ""), None)
            if execution is None or not execution.should_execute or execution.finished:
                return
            execution.finished = True
            await self._stop(execution)
            if result.is_err:  # on_error did not handle it (should not happen): fail anyway
                failure = failure_for(result.error or RuntimeError("task failed"))
                await self._finish(execution, lambda: self._fail(execution, failure))
                return
            await self._finish(execution, lambda: self._complete(execution))
        except Exception as exc:
            _log_error(f"could not complete operation message {message.task_id}", exc)

    # -- claim ------------------------------------------------------------------------------
    async def _claim_batch(self, requests: list[tuple[int, str]]) -> list[tuple[Claim, Any]]:
        lost_after = self._lost_after_seconds or get_settings().lost_after_seconds
        return await lifecycle.claim_many_async(
            requests, lost_after=timedelta(seconds=lost_after), engine=self.engine
        )

    async def _claim(self, execution: Execution, message: TaskiqMessage) -> None:
        run_id = _run_id_of(message)
        if run_id is None:
            log.warning("operation message %s carries no run id; skipped", message.task_id)
            return
        claim, row = await self._claims.submit((run_id, execution.run_type))
        run = _run_row(row) if row is not None else None
        execution.claim, execution.run = claim, run
        execution.attempt = row.attempts if row is not None else None
        if run is None:
            if claim == Claim.missing:
                log.warning("run %s does not exist; message %s skipped", run_id, message.task_id)
            elif claim == Claim.wrong_type:
                log.warning(
                    "run %s is not a %s run; message %s skipped",
                    run_id,
                    execution.run_type,
                    message.task_id,
                )
            elif claim == Claim.already_completed:
                log.info("run %s is already completed; redelivered message is a no-op", run_id)
            else:
                log.info("run %s not executed: %s", run_id, claim.value)
                if claim == Claim.running_elsewhere:
                    self._keep_unacked_message(message.task_id)  # offered again: a take-over
            return
        if execution.claim == Claim.taken_over:
            log.warning("run %s lost its worker; this worker takes it over", run_id)
        else:  # one line per run (taskiq's own "Executing task" line is switched off)
            log.info("run %s (%s) claimed, attempt %s", run_id, run.type, execution.attempt)
        if self._progress_interval is None:  # read once: building settings costs ~1 ms
            self._progress_interval = get_worker_settings().progress_interval_seconds
        interval = self._progress_interval
        execution.ctx = RunContext(
            run_id=run.id,
            tenant_id=run.tenant_id,
            run_type=run.type,
            inputs=run.inputs,
            engine=self.engine,
            progress_interval=interval,
            attempt=execution.attempt,
        )
        beat = self._heartbeat_seconds or get_settings().heartbeat_seconds
        execution.heartbeat = asyncio.create_task(self._beat(execution, beat))

    async def _abandon_claim(self, execution: Execution, exc: Exception) -> None:
        """pre_execute failed half-way: a run we already claimed must not stay running."""
        claimed = execution.claim is not None and execution.claim.should_execute
        execution.claim, execution.finished = None, True
        if claimed and execution.run is not None:
            await self._stop(execution)
            with contextlib.suppress(Exception):
                await self._finish(execution, lambda: self._fail(execution, failure_for(exc)))

    async def _beat(self, execution: Execution, interval: float) -> None:
        assert execution.run is not None
        run_id = execution.run.id
        while True:
            await asyncio.sleep(interval)
            try:
                alive = await asyncio.to_thread(
                    lifecycle.heartbeat, run_id, attempt=execution.attempt, engine=self.engine
                )
            except Exception as exc:  # keep beating: the next one may get through
                log.warning("heartbeat of run %s failed: %s", run_id, sanitize_text(exc))
                continue
            if not alive:
                log.warning(
                    "run %s is no longer running on attempt %s (fenced: taken over or "
                    "completed elsewhere); abandoning its body",
                    run_id,
                    execution.attempt,
                )
                execution.fenced = True
                if execution.body is not None:
                    execution.body.cancel()
                return

    async def _stop(self, execution: Execution) -> None:
        if execution.ctx is not None:
            execution.ctx.close()
        task, execution.heartbeat = execution.heartbeat, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- completion -------------------------------------------------------------------------
    def _complete_batch(self, completions: list[lifecycle.Completion]) -> list[bool]:
        return lifecycle.complete_many(completions, engine=self.engine)

    async def _complete(self, execution: Execution) -> bool:
        ctx, result = execution.ctx, execution.result
        assert ctx is not None and execution.attempt is not None
        try:
            if not isinstance(result, RunResult):
                raise TypeError(f"task body returned {type(result).__name__}, not RunResult")
            merged = RunResult(
                counts={**ctx.last_counts, **result.counts},
                item_failures=list(result.item_failures),
                fatal=result.fatal,
            )
            outcome, counts, failures = finalise(ctx.run_type, merged)
            produced = validate_produced(ctx.run_type, result.produced or {})
        except Exception as exc:  # bad counts / ids / wrong type: fail the run, not the worker
            return await self._fail(execution, failure_from_exception(exc))
        completion = lifecycle.Completion(
            ctx.run_id, ctx.run_type, outcome, counts, failures, execution.attempt, produced
        )
        return await self._completions.submit(completion)

    async def _fail(self, execution: Execution, failure: dict[str, Any]) -> bool:
        assert execution.run is not None
        return await asyncio.to_thread(
            lifecycle.fail_run,
            execution.run.id,
            failure,
            engine=self.engine,
            attempt=execution.attempt,
        )

    async def _hand_back(self, execution: Execution) -> None:
        """Give the run back to the queue (fenced) and leave its message unacknowledged."""
        assert execution.run is not None and execution.attempt is not None
        self._keep_unacked_message(execution.task_id)
        for delay in _RETRY_DELAYS:
            await asyncio.sleep(delay)
            try:
                back = await asyncio.to_thread(
                    lifecycle.hand_back,
                    execution.run.id,
                    attempt=execution.attempt,
                    engine=self.engine,
                )
            except Exception as exc:
                _log_error(f"could not hand run {execution.run.id} back", exc)
                continue
            log.warning(
                "run %s %s",
                execution.run.id,
                "handed back to the queue (the worker is stopping)"
                if back
                else "was not handed back: it completed or moved on meanwhile",
            )
            return

    async def _finish(self, execution: Execution, write: Callable[[], Awaitable[bool]]) -> None:
        """Write the terminal state with its notification (retrying briefly)."""
        assert execution.run is not None
        for delay in _RETRY_DELAYS:
            await asyncio.sleep(delay)
            try:
                if await write():
                    return
                break
            except Exception as exc:
                _log_error(f"could not complete run {execution.run.id}", exc)
        log.warning(
            "run %s was not completed by this worker (already completed, taken over, or the "
            "database refused); the reaper settles it if needed",
            execution.run.id,
        )


def task_function(middleware: RunTrackingMiddleware, run_type: str):
    """The taskiq task behind `opsapp.op.<run_type>`: runs the body only for a claimed run."""

    async def run_operation(run_id: int, context: Context = TaskiqDepends()) -> None:
        execution = middleware.execution_for(context.message)
        if execution is None or not execution.should_execute or execution.ctx is None:
            return None  # not claimed here (completed, running elsewhere, missing, untracked)
        # Its own task, so that a fenced heartbeat can cancel the body alone.
        execution.body = asyncio.ensure_future(get_body(run_type)(execution.ctx))
        execution.result = await execution.body
        return None

    run_operation.__qualname__ = run_operation.__name__ = f"run_{run_type.replace('.', '_')}"
    return run_operation
