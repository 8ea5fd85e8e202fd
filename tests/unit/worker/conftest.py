"""Fixtures for the worker unit tests: a test run type, a clean body registry and an in-memory
broker with fast heartbeats, all bound to the parametrized `engine` (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from opsapp.operations import catalog
from opsapp.operations.access import Capability
from opsapp.operations.catalog import OperationType
from opsapp.operations.identity import IdentityField, IdentitySchema
from opsapp.worker.broker import build_broker
from opsapp.worker.registry import registry_snapshot
from tests.unit.worker.worker_helpers import SUMMARY_KEYS, UNIT_TYPE, UNIT_TYPE_2, load_run


@pytest.fixture
def op_types():
    """Two test run types in the catalog (identity input: `key`), removed afterwards."""
    for key in (UNIT_TYPE, UNIT_TYPE_2):
        catalog.register_type(
            OperationType(
                key,
                f"Unit {key}",
                IdentitySchema((IdentityField("key", "id"),)),
                SUMMARY_KEYS,
                Capability.start_operations,
                related="inventory",
            )
        )
    yield UNIT_TYPE
    for key in (UNIT_TYPE, UNIT_TYPE_2):
        catalog.OPERATION_TYPES.pop(key, None)


@pytest.fixture
def bodies(op_types):
    """A registry that forgets whatever the test registered."""
    with registry_snapshot():
        yield


@pytest.fixture
async def broker(engine, bodies):
    """In-memory broker: fast heartbeat, 30 s lost-after, 0.2 s progress interval."""
    b = build_broker(
        "memory",
        engine=engine,
        middleware_options={
            "heartbeat_seconds": 0.05,
            "lost_after_seconds": 30,
            "progress_interval": 0.2,
        },
    )
    await b.startup()
    yield b
    await b.wait_all()
    await b.shutdown()


@pytest.fixture
def people(engine):
    """(tenant, operator user who is a member)."""
    from tests.factories import make_tenant, make_user

    tenant = make_tenant(engine)
    return tenant, make_user(engine, tenant=tenant)


@pytest.fixture
def start(engine, broker, people):
    """`await start(key)` starts a run of the test type through the real service and waits for
    the in-memory worker; returns the run as stored afterwards."""
    from opsapp.operations.service import start_operation, start_system_operation
    from opsapp.worker.dispatch import TaskiqDispatcher

    tenant, user = people

    async def _start(
        key: int = 1, *, run_type: str = UNIT_TYPE, system: bool = False, wait: bool = True
    ):
        common = dict(
            run_type=run_type,
            inputs={"key": key},
            dispatcher=TaskiqDispatcher(broker),
            engine=engine,
            tenant_id=tenant.id,
        )
        if system:
            result = await start_system_operation(**common)
        else:
            result = await start_operation(**common, user_id=user.id)
        if wait:
            await broker.wait_all()
        return load_run(engine, result.run.id)

    return _start
