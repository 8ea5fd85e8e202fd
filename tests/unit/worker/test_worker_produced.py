"""A body's RunResult.produced reaches the run's context with the completion (SQLite and
PostgreSQL); ids its type does not declare fail the run instead of vanishing."""

from __future__ import annotations

import dataclasses

import pytest

from opsapp.operations import catalog, lifecycle
from opsapp.operations.catalog import RelatedLink
from opsapp.operations.links import related_links
from opsapp.operations.results import RunResult
from opsapp.worker.registry import RunContext, operation_task
from tests.unit.worker.worker_helpers import UNIT_TYPE

MADE = RelatedLink("Report made by this run", ("reports", "{report_id}"))


@pytest.fixture
def producing_type(op_types):
    catalog.register_type(dataclasses.replace(catalog.get_type(UNIT_TYPE), produces=(MADE,)))
    return UNIT_TYPE


async def test_produced_ids_are_stored_with_the_completion_and_linked(
    engine, broker, start, people, producing_type
):
    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        lifecycle.record_produced(  # mid-run, as a schedule run records its set
            ctx.run_id, {"report_id": 1}, engine=ctx.engine, attempt=ctx.attempt
        )
        return RunResult(counts={"total": 1, "processed": 1}, produced={"report_id": 41})

    run = await start(3)

    assert (run.status, run.outcome) == ("completed", "succeeded")
    assert run.context["produced"] == {"report_id": 41}
    assert run.context["inputs"] == {"key": 3}
    tenant, _ = people
    links = related_links(tenant_slug=tenant.slug, run_type=UNIT_TYPE, context=run.context)
    assert {"label": MADE.label, "url": f"/t/{tenant.slug}/reports/41"} in links


async def test_an_undeclared_produced_id_fails_the_run(engine, broker, start, producing_type):
    @operation_task(UNIT_TYPE)
    async def body(ctx: RunContext) -> RunResult:
        return RunResult(counts={"total": 1, "processed": 1}, produced={"reprot_id": 41})

    run = await start(4)

    assert (run.status, run.outcome) == ("completed", "failed")
    assert [f["code"] for f in run.failures] == ["internal.error"]
    assert "reprot_id" in run.failures[0]["message"]
    assert "produced" not in run.context
