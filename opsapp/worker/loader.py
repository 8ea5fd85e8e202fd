"""Importing task modules: every feature's `tasks` module registers its operation bodies."""

from __future__ import annotations

import importlib
import pkgutil

from opsapp.worker.config import get_worker_settings


def load_task_modules() -> list[str]:
    """Import `opsapp.features.<feature>.tasks` for every feature that has one, plus the modules
    named in OPSAPP_EXTRA_TASK_MODULES (comma-separated). Idempotent; returns what was imported.
    A feature without a tasks module is skipped; an extra module that fails to import is an
    error (a worker silently missing its bodies would accept runs it cannot execute)."""
    imported: list[str] = []
    try:
        features = importlib.import_module("opsapp.features")
    except ModuleNotFoundError:
        features = None
    for info in pkgutil.iter_modules(list(getattr(features, "__path__", None) or [])):
        if not info.ispkg:
            continue
        name = f"opsapp.features.{info.name}.tasks"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the tasks module exists but one of its imports is missing
                raise
            continue
        imported.append(name)
    extra = get_worker_settings().extra_task_modules
    for name in filter(None, (part.strip() for part in extra.split(","))):
        importlib.import_module(name)
        imported.append(name)
    return imported
