"""The scheduler of the scaled mode (run exactly one; a second one is harmless):

    OPSAPP_BROKER=redis taskiq scheduler opsapp.worker.scheduler:scheduler

Schedules come from the maintenance tasks' labels: reap lost runs and fire due backup schedules
every minute (a worker runs that tick and starts each due schedule's `backup_schedule.scheduled`
run), prune daily. The scheduler only sends these tasks; the workers execute them.
`taskiq scheduler` keeps its last-fired minute in memory: a restart inside the same minute fires
again, and two schedulers both fire. Every firing therefore first takes a database lease named
after the job and the scheduled minute; a firing that cannot take it is cancelled. (The backup
tick does not depend on that lease: each schedule slot is claimed with a compare-and-set on its
next_run_at, see opsapp.features.backups.scheduler.)
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from taskiq import AsyncBroker, ScheduledTask, TaskiqScheduler
from taskiq.exceptions import ScheduledTaskCancelledError
from taskiq.schedule_sources import LabelScheduleSource

from opsapp import locks
from opsapp.db import get_engine
from opsapp.models.types import utcnow

log = logging.getLogger("opsapp.worker.scheduler")

# Long enough to cover any restart or clock skew between two schedulers; purged by the reaper.
FIRING_LEASE_TTL = timedelta(hours=2)


def firing_lock_name(task_name: str, minute: datetime) -> str:
    return f"schedule:{task_name}:{minute:%Y-%m-%dT%H:%M}"


def claim_firing(engine: Engine, task_name: str, now: datetime | None = None) -> bool:
    """True for the first claimant of `task_name` in the current minute, False for any other."""
    minute = (now or utcnow()).replace(second=0, microsecond=0)
    return locks.acquire(
        engine, firing_lock_name(task_name, minute), locks.new_holder(), FIRING_LEASE_TTL, now=now
    )


class GuardedLabelScheduleSource(LabelScheduleSource):
    """LabelScheduleSource whose firings are deduplicated per job and minute in the database."""

    def __init__(self, broker: AsyncBroker, *, engine: Engine | None = None) -> None:
        super().__init__(broker)
        self._engine = engine

    async def pre_send(self, task: ScheduledTask) -> None:
        try:
            first = await asyncio.to_thread(
                claim_firing, self._engine or get_engine(), task.task_name
            )
        except Exception as exc:  # no database: the job could not run anyway
            log.warning(
                "skipping %s: cannot take its firing lease (%s)", task.task_name, type(exc).__name__
            )
            raise ScheduledTaskCancelledError from exc
        if not first:
            log.info("skipping %s: already fired this minute", task.task_name)
            raise ScheduledTaskCancelledError


def build_scheduler(broker: AsyncBroker, *, engine: Engine | None = None) -> TaskiqScheduler:
    return TaskiqScheduler(broker, [GuardedLabelScheduleSource(broker, engine=engine)])


def _build_default() -> TaskiqScheduler:
    from opsapp.bootstrap import init_process
    from opsapp.worker.app import broker

    init_process("scheduler")

    if not broker.__class__.__name__.startswith("Redis"):
        log.warning(
            "the scheduler is meant for OPSAPP_BROKER=redis; the embedded mode runs "
            "its maintenance in-process (opsapp.worker.embedded)"
        )
    return build_scheduler(broker)


scheduler = _build_default()
