"""The Reflex app: registers the pages and the embedded worker's lifespan; nothing else."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import reflex as rx

# Registers every table on SQLModel.metadata before Reflex's start-up schema check compares it with
# the database; without it that check would see no tables and report a bogus "schema change".
import opsapp.models  # noqa: F401
from opsapp.ui import routes
from opsapp.ui.pages import home

logger = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def embedded_worker_lifespan() -> AsyncIterator[None]:
    """Run queued tasks inside this backend process for the lifetime of the app.

    `opsapp.worker.embedded.embedded_worker()` owns the decision and the broker wiring; this hook
    only ties it to the app's lifespan. A build without that module serves the UI alone.
    """
    try:
        from opsapp.worker.embedded import embedded_worker
    except ModuleNotFoundError as exc:
        if exc.name not in {"opsapp.worker", "opsapp.worker.embedded"}:
            raise  # a dependency of the worker is missing: fail loudly
        logger.warning("opsapp.worker.embedded is not available: tasks will not run in-process")
        yield
        return
    async with embedded_worker():
        yield


app = rx.App(
    html_lang="en",
    head_components=[rx.el.link(rel="icon", type="image/svg+xml", href="/favicon.svg")],
)
app.register_lifespan_task(embedded_worker_lifespan)

app.add_page(home.home, route=routes.HOME, title=home.TITLE, description=home.DESCRIPTION)
