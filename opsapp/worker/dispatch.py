"""Hand a run to the workers: kick `opsapp.op.<type>` with the run id (the only payload)."""

from __future__ import annotations

from taskiq import AsyncBroker
from taskiq.kicker import AsyncKicker

from opsapp.models import OperationRun
from opsapp.worker import registry
from opsapp.worker.broker import ensure_stream_group
from opsapp.worker.middleware import RUN_ID_LABEL


class TaskiqDispatcher:
    """The `Dispatcher` of opsapp.operations.service on top of a taskiq broker.

    `supports` says whether a body is registered for a type (the service refuses such a start
    before creating anything). `dispatch` raises `registry.NoTaskForRunType` for a type without
    a body and `taskiq SendTaskError` (or a connection error) when the broker refuses: the
    service then completes the run as failed / queue.dispatch_failed."""

    def __init__(self, broker: AsyncBroker) -> None:
        self.broker = broker
        self._group_ready = False

    def supports(self, run_type: str) -> bool:
        return registry.is_registered(run_type)

    async def dispatch(self, run: OperationRun) -> None:
        await self.send(int(run.id), run.type)

    async def send(self, run_id: int, run_type: str) -> None:
        """Send one message for a run (the start path, and the outbox relay's re-sends)."""
        if not registry.is_registered(run_type):
            raise registry.NoTaskForRunType(run_type)
        if not self._group_ready:
            await ensure_stream_group(self.broker)
            self._group_ready = True
        kicker = AsyncKicker(registry.task_name_for(run_type), self.broker, {})
        await kicker.with_labels(**{RUN_ID_LABEL: run_id}).kiq(run_id)
