"""The body registry: registration rules, test isolation, and brokers following it."""

from __future__ import annotations

import pytest

from opsapp.operations.catalog import UnknownOperationType
from opsapp.operations.results import InvalidCounts, RunResult
from opsapp.worker import registry
from opsapp.worker.broker import build_broker
from opsapp.worker.registry import RunContext, operation_task, registry_snapshot
from tests.unit.worker.worker_helpers import UNIT_TYPE, UNIT_TYPE_2


async def _body(ctx: RunContext) -> RunResult:
    return RunResult()


def test_operation_task_registers_a_body_for_a_catalog_type(bodies):
    decorated = operation_task(UNIT_TYPE)(_body)

    assert decorated is _body
    assert registry.get_body(UNIT_TYPE) is _body
    assert UNIT_TYPE in registry.registered_types()
    assert registry.task_name_for(UNIT_TYPE) == f"opsapp.op.{UNIT_TYPE}"
    assert registry.run_type_of(f"opsapp.op.{UNIT_TYPE}") == UNIT_TYPE
    assert registry.run_type_of("opsapp.maintenance.prune_runs") is None


def test_registration_refuses_unknown_types_sync_functions_and_silent_replacement(bodies):
    with pytest.raises(UnknownOperationType):
        operation_task("no.such_type")(_body)
    with pytest.raises(TypeError):
        operation_task(UNIT_TYPE)(lambda ctx: RunResult())

    operation_task(UNIT_TYPE)(_body)
    operation_task(UNIT_TYPE)(_body)  # re-registering the same function is fine (re-import)

    async def other(ctx: RunContext) -> RunResult:
        return RunResult()

    with pytest.raises(ValueError, match="already registered"):
        operation_task(UNIT_TYPE)(other)
    registry.register_body(UNIT_TYPE, other, replace=True)
    assert registry.get_body(UNIT_TYPE) is other


def test_unregister_reset_and_snapshot_isolate_tests(bodies):
    others = set(registry.registered_types())  # whatever other test modules registered
    operation_task(UNIT_TYPE)(_body)
    with registry_snapshot():
        operation_task(UNIT_TYPE_2)(_body)
        registry.unregister(UNIT_TYPE)
        assert set(registry.registered_types()) == others | {UNIT_TYPE_2}
        registry.reset_registry()
        assert registry.registered_types() == []
    assert set(registry.registered_types()) == others | {UNIT_TYPE}
    with pytest.raises(registry.NoTaskForRunType, match=UNIT_TYPE_2):
        registry.get_body(UNIT_TYPE_2)


def test_brokers_expose_bodies_registered_before_and_after_they_were_built(bodies):
    operation_task(UNIT_TYPE)(_body)
    broker = build_broker("memory")
    assert broker.find_task(f"opsapp.op.{UNIT_TYPE}") is not None
    assert broker.find_task(f"opsapp.op.{UNIT_TYPE_2}") is None

    operation_task(UNIT_TYPE_2)(_body)
    assert broker.find_task(f"opsapp.op.{UNIT_TYPE_2}") is not None

    registry.unregister(UNIT_TYPE)
    assert broker.find_task(f"opsapp.op.{UNIT_TYPE}") is None
    names = set(broker.get_all_tasks())
    assert {"opsapp.maintenance.reap_lost_runs", "opsapp.maintenance.prune_runs"} <= names


def test_the_worker_package_ships_no_placeholder_bodies():
    import opsapp.worker.app  # noqa: F401  (loads every task module there is)
    import opsapp.worker.embedded  # noqa: F401

    owners = {registry.get_body(t).__module__ for t in registry.registered_types()}
    assert not any(owner.startswith("opsapp.worker") for owner in owners), owners


async def test_progress_is_validated_before_anything_is_written(bodies, monkeypatch):
    writes = []
    monkeypatch.setattr(
        "opsapp.operations.lifecycle.update_progress", lambda *a, **k: writes.append(a)
    )
    ctx = RunContext(run_id=1, tenant_id=1, run_type=UNIT_TYPE, inputs={}, engine=None)

    with pytest.raises(InvalidCounts):
        await ctx.report_progress({"unknown_key": 1})
    with pytest.raises(InvalidCounts):
        await ctx.report_progress({"processed": True})
    assert writes == []

    await ctx.report_progress({"processed": 1})
    await ctx.report_progress({"processed": 2})  # within the interval: deferred
    await ctx.report_progress({"processed": 3}, final=True)
    ctx.close()
    assert [a[1] for a in writes] == [{"processed": 1}, {"processed": 3}]
    assert ctx.last_counts == {"processed": 3}
