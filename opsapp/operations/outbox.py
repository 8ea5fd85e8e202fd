"""The outbox: every queued run is its own durable "this run must be delivered" record.

The run row is written, queued, in the same transaction that decides it exists (ensure_run), with
`next_send_at` — when to send its message again if no worker has claimed it by then. The start
path sends the first message right after the commit; a claim or a completion clears
`next_send_at`. Each worker's relay (opsapp.worker.runner, and the embedded maintenance loop)
sends every due run again and pushes its `next_send_at` out (15 s, then as long as the run has
waited, up to 2 min), so a message that Redis lost — a restart without persistence, a failover
to an empty replica, a worker killed with messages it had read — is sent again within one relay
period of being due.

Delivery is at least once: a duplicate message reaches a run that is running or completed, and
the claim (lifecycle.claim_run, one guarded UPDATE) lets exactly one execution run the body.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsapp.db import get_engine
from opsapp.models import OperationRun
from opsapp.models.types import utcnow
from opsapp.operations.lifecycle import status_in
from opsapp.operations.status import RunStatus
from opsapp.settings import get_settings

log = logging.getLogger("opsapp.operations.outbox")
_T = OperationRun.__table__
RELAY_BATCH = 200

Send = Callable[[int, str], Awaitable[None]]  # (run id, run type) → the message is out


def first_resend_at(now: datetime) -> datetime:
    """When a fresh run's message is sent again if nobody claimed it."""
    return now + timedelta(seconds=get_settings().redeliver_after_seconds)


def resend_delay(waited: timedelta) -> timedelta:
    """The wait before the next re-send: as long as the run has waited so far (so re-sends
    thin out in a deep backlog), at least redeliver_after, at most redeliver_max."""
    s = get_settings()
    low, high = (
        timedelta(seconds=s.redeliver_after_seconds),
        timedelta(seconds=s.redeliver_max_seconds),
    )
    return min(max(waited, low), max(low, high))


@dataclass(frozen=True)
class Due:
    run_id: int
    run_type: str


@dataclass
class RelayResult:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def take_due(
    engine: Engine | None = None, *, now: datetime | None = None, limit: int = RELAY_BATCH
) -> list[Due]:
    """The queued runs whose message is due, each taken by exactly one relay: a compare-and-set
    on `next_send_at` moves it forward, so a concurrent relay's CAS on the same row fails."""
    engine, now = engine or get_engine(), now or utcnow()
    queued = status_in({RunStatus.queued})
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(_T.c.id, _T.c.type, _T.c.next_send_at, _T.c.created_at, _T.c.dispatched_at)
            .where(_T.c.next_send_at.is_not(None), _T.c.next_send_at <= now, queued)
            .order_by(_T.c.next_send_at)
            .limit(limit)
        ).all()
        taken: list[Due] = []
        for row in rows:
            waited = now - (row.dispatched_at or row.created_at)
            moved = conn.execute(
                sa.update(_T)
                .where(_T.c.id == row.id, _T.c.next_send_at == row.next_send_at, queued)
                .values(next_send_at=now + resend_delay(waited))
                .returning(_T.c.id)
            ).first()
            if moved is not None:
                taken.append(Due(row.id, row.type))
    return taken


def due_again(engine: Engine | None, run_ids: list[int], *, now: datetime | None = None) -> None:
    """Sends that failed (the broker is down): due again at the next relay pass."""
    if not run_ids:
        return
    engine, now = engine or get_engine(), now or utcnow()
    with engine.begin() as conn:
        conn.execute(
            sa.update(_T)
            .where(
                _T.c.id.in_(run_ids), _T.c.next_send_at.is_not(None), status_in({RunStatus.queued})
            )
            .values(next_send_at=now)
        )


def make_all_due(engine: Engine | None = None, *, now: datetime | None = None) -> int:
    """Every queued run's message is due now: the broker came back without its data, so no
    message that was sent before can be trusted to exist. Returns how many runs that is."""
    engine, now = engine or get_engine(), now or utcnow()
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(_T)
            .where(_T.c.next_send_at.is_not(None), status_in({RunStatus.queued}))
            .values(next_send_at=now)
        )
        return int(result.rowcount or 0)


async def relay(send: Send, *, engine: Engine | None = None) -> RelayResult:
    """One pass: take the due runs and send each; on the first broker failure stop and make the
    rest due again at the next pass. Database work runs in a thread."""
    result = RelayResult()
    due = await asyncio.to_thread(take_due, engine)
    for i, item in enumerate(due):
        try:
            await send(item.run_id, item.run_type)
        except LookupError as exc:  # no body for this type here: another deployment's run
            log.warning("outbox: run %s not re-sent: %s", item.run_id, exc)
            continue
        except Exception as exc:
            log.warning(
                "outbox: could not re-send run %s (%s); it stays due",
                item.run_id,
                type(exc).__name__,
            )
            result.failed = [d.run_id for d in due[i:]]
            await asyncio.to_thread(due_again, engine, result.failed)
            break
        result.sent.append(item.run_id)
    if result.sent:
        log.info("outbox: re-sent %d queued run(s): %s", len(result.sent), result.sent[:20])
    return result
