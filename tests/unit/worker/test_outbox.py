"""The outbox on both dialects: a queued run is due for re-sending after redeliver_after, each due
run is taken by one relay only, a claim or a completion leaves the outbox, a failed send makes
the rest due again, and a Redis that lost its data makes every queued run due at once."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from opsapp.models import OperationRun
from opsapp.models.types import utcnow
from opsapp.operations import lifecycle, outbox
from opsapp.operations.service import ensure_run
from tests.unit.worker.worker_helpers import UNIT_TYPE

_T = OperationRun.__table__
LOST = timedelta(seconds=60)


def _queued_run(engine, tenant, key: int, *, now=None) -> int:
    from sqlmodel import Session

    with Session(engine) as session, session.begin():
        return ensure_run(
            session,
            tenant_id=tenant.id,
            run_type=UNIT_TYPE,
            inputs={"key": key},
            user_id=None,
            initiator_name="System",
            now=now,
        ).run.id


def _next_send_at(engine, run_id: int):
    with engine.connect() as conn:
        return conn.execute(sa.select(_T.c.next_send_at).where(_T.c.id == run_id)).scalar()


def test_a_new_run_is_due_after_redeliver_after_and_not_before(engine, op_types, people):
    tenant, _ = people
    created = utcnow()
    run_id = _queued_run(engine, tenant, 1, now=created)
    assert outbox.take_due(engine, now=created + timedelta(seconds=14)) == []
    due = outbox.take_due(engine, now=created + timedelta(seconds=16))
    assert due == [outbox.Due(run_id, UNIT_TYPE)]
    # Taken: pushed out by as long as it waited (16 s), so not due again at once.
    assert outbox.take_due(engine, now=created + timedelta(seconds=17)) == []
    again = _next_send_at(engine, run_id)
    assert again == created + timedelta(seconds=32)


def test_re_sends_thin_out_but_never_wait_longer_than_the_maximum(engine, op_types, people):
    assert outbox.resend_delay(timedelta(seconds=1)) == timedelta(seconds=15)
    assert outbox.resend_delay(timedelta(seconds=40)) == timedelta(seconds=40)
    assert outbox.resend_delay(timedelta(hours=3)) == timedelta(seconds=120)


def test_two_relays_take_each_due_run_once(engine, op_types, people):
    tenant, _ = people
    created = utcnow()
    ids = {_queued_run(engine, tenant, k, now=created) for k in (1, 2, 3)}
    later = created + timedelta(seconds=20)
    first = outbox.take_due(engine, now=later)
    second = outbox.take_due(engine, now=later)
    assert {d.run_id for d in first} == ids and second == []


def test_claimed_and_completed_runs_leave_the_outbox(engine, op_types, people):
    tenant, _ = people
    created = utcnow()
    claimed = _queued_run(engine, tenant, 1, now=created)
    completed = _queued_run(engine, tenant, 2, now=created)
    lifecycle.claim_run(claimed, lost_after=LOST, engine=engine)
    lifecycle.complete_run(completed, outcome="failed", engine=engine)
    assert _next_send_at(engine, claimed) is None and _next_send_at(engine, completed) is None
    assert outbox.take_due(engine, now=created + timedelta(hours=1)) == []


def test_a_handed_back_run_is_due_at_once(engine, op_types, people):
    tenant, _ = people
    run_id = _queued_run(engine, tenant, 1)
    claim, attempt = lifecycle.claim_run(run_id, lost_after=LOST, engine=engine)
    assert lifecycle.hand_back(run_id, attempt=attempt, engine=engine)
    assert [d.run_id for d in outbox.take_due(engine)] == [run_id]


def test_after_a_data_loss_every_queued_run_is_due_now(engine, op_types, people):
    tenant, _ = people
    created = utcnow()
    queued = [_queued_run(engine, tenant, k, now=created) for k in (1, 2)]
    running = _queued_run(engine, tenant, 3, now=created)
    lifecycle.claim_run(running, lost_after=LOST, engine=engine)
    assert outbox.make_all_due(engine, now=created) == 2
    assert sorted(d.run_id for d in outbox.take_due(engine, now=created)) == sorted(queued)


async def test_a_failed_send_stops_the_pass_and_makes_the_rest_due_again(engine, op_types, people):
    tenant, _ = people
    created = utcnow() - timedelta(minutes=5)
    ids = [_queued_run(engine, tenant, k, now=created) for k in (1, 2, 3)]
    sent: list[int] = []

    async def flaky(run_id: int, run_type: str) -> None:
        if len(sent) == 1:
            raise ConnectionError("redis down")
        sent.append(run_id)

    result = await outbox.relay(flaky, engine=engine)
    assert len(result.sent) == 1 and len(result.failed) == 2
    assert set(result.sent) | set(result.failed) == set(ids)
    # The unsent ones are due again at the next pass; the sent one is not.
    again = await outbox.relay(lambda run_id, run_type: _record(sent, run_id), engine=engine)
    assert sorted(again.sent) == sorted(result.failed)


async def _record(sent: list[int], run_id: int) -> None:
    sent.append(run_id)


async def test_a_type_without_a_body_here_does_not_block_the_others(engine, op_types, people):
    from opsapp.worker.registry import NoTaskForRunType

    tenant, _ = people
    created = utcnow() - timedelta(minutes=5)
    ids = [_queued_run(engine, tenant, k, now=created) for k in (1, 2)]
    sent: list[int] = []

    async def picky(run_id: int, run_type: str) -> None:
        if run_id == ids[0]:
            raise NoTaskForRunType(run_type)
        sent.append(run_id)

    result = await outbox.relay(picky, engine=engine)
    assert result.sent == [ids[1]] and result.failed == []
