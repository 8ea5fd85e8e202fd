"""The Reflex app: registers the pages and the embedded worker's lifespan; nothing else."""

from __future__ import annotations

import reflex as rx

# Registers every table on SQLModel.metadata before Reflex's start-up schema check compares it with
# the database; without it that check would see no tables and report a bogus "schema change".
import opsapp.models  # noqa: F401
from opsapp.ui import routes
from opsapp.ui.pages import home
from opsapp.worker.embedded import app_lifespan

app = rx.App(
    html_lang="en",
    head_components=[rx.el.link(rel="icon", type="image/svg+xml", href="/favicon.svg")],
)
# Memory broker: operations run inside this backend; redis: separate taskiq workers run them.
app.register_lifespan_task(app_lifespan)

app.add_page(home.home, route=routes.HOME, title=home.TITLE, description=home.DESCRIPTION)
