"""The worker entry point of the scaled mode:

    OPSAPP_BROKER=redis taskiq worker opsapp.worker.app:broker

Importing this module loads every task module (feature bodies) and builds the configured broker.
Tests and plug-ins add modules with OPSAPP_EXTRA_TASK_MODULES (or as extra `taskiq worker`
arguments: bodies registered after the broker was built are picked up too).
"""

from __future__ import annotations

import logging

from opsapp.bootstrap import init_process
from opsapp.settings import get_settings
from opsapp.worker.broker import build_broker
from opsapp.worker.loader import load_task_modules

__all__ = ["broker", "load_task_modules"]

# httpx logs every request URL at INFO; a sync makes thousands. Keep warnings and errors only.
logging.getLogger("httpx").setLevel(logging.WARNING)
init_process("worker")
load_task_modules()
_settings = get_settings()
broker = build_broker(_settings.broker, redis_url=_settings.redis_url)
