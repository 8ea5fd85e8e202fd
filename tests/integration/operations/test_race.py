"""Many processes start the same identity at the same moment: exactly one run is created and
every caller gets its id — on PostgreSQL and SQLite."""

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor

import pytest
from sqlmodel import Session, select

from opsapp.models import OperationRun
from opsapp.operations import lifecycle
from opsapp.operations.status import RunOutcome
from tests.factories import make_tenant, make_user
from tests.integration.operations.race_worker import start_same_identity

PROCESSES = 16


@pytest.fixture(scope="module")
def racers():
    """One pool of spawned processes (spawning is the slow part) and a barrier factory."""
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager, ProcessPoolExecutor(PROCESSES, mp_context=ctx) as pool:
        yield pool, manager


def _race(racers, db_url, tenant, user, inputs):
    pool, manager = racers
    barrier = manager.Barrier(PROCESSES)
    futures = [
        pool.submit(start_same_identity, db_url, tenant.id, user.id, inputs, barrier)
        for _ in range(PROCESSES)
    ]
    return [f.result(timeout=120) for f in futures]


@pytest.mark.slow
def test_concurrent_duplicate_starts_create_exactly_one_run(db, racers):
    db_url, engine = db
    tenant, other_tenant = make_tenant(engine), make_tenant(engine)
    user = make_user(engine, tenant=tenant)
    other_user = make_user(engine, tenant=other_tenant)
    inputs = {"policy_types": ["deviceConfiguration", "roleScopeTag"]}

    results = _race(racers, db_url, tenant, user, inputs)

    ids = {run_id for run_id, _ in results}
    assert len(ids) == 1, results
    assert sum(created for _, created in results) == 1
    with Session(engine) as s:
        assert len(s.exec(select(OperationRun)).all()) == 1

    # A second identity and another tenant are unaffected by the active run.
    other = _race(racers, db_url, other_tenant, other_user, inputs)
    assert len({i for i, _ in other}) == 1 and other[0][0] not in ids

    # After completion a new start creates a new run.
    (run_id,) = ids
    lifecycle.complete_run(run_id, outcome=RunOutcome.succeeded, engine=engine)
    again = _race(racers, db_url, tenant, user, inputs)
    assert len({i for i, _ in again}) == 1 and again[0][0] != run_id
    assert sum(c for _, c in again) == 1
