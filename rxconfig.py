"""Reflex configuration: reads opsapp settings, holds no logic.

Reflex overlays `REFLEX_*` environment variables on these values, so deployment knobs stay in the
environment: `REFLEX_BUN_PATH` (set by scripts/run-embedded.sh from scripts/ensure-bun.sh),
`REFLEX_REDIS_URL` (Reflex's Redis state manager, for several backend replicas), ports, ...
"""

import reflex as rx

from opsapp.settings import get_settings

config = rx.Config(
    app_name="opsapp",
    telemetry_enabled=False,
    db_url=get_settings().database_url,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="indigo", gray_color="slate", radius="medium")
        ),
    ],
    # An admin console behind a sign-in has nothing to put in a sitemap.
    disable_plugins=[rx.plugins.SitemapPlugin],
    show_built_with_reflex=False,
)
