"""taskiq-redis 1.2.2 (the newest release that accepts redis-py < 8, which Reflex requires)
imports `taskiq.compat.model_dump / model_validate`, which taskiq 0.13 removed. Importing
`taskiq_redis` therefore fails outright. Restore the two pydantic-v2 one-liners before the import.
Remove this module once taskiq-redis and taskiq agree again (or taskiq is pinned to 0.12.x)."""

from __future__ import annotations

from typing import Any

import taskiq.compat


def _model_dump(instance: Any, **kwargs: Any) -> Any:
    return instance.model_dump(**kwargs)


def _model_validate(model: Any, data: Any, **kwargs: Any) -> Any:
    return model.model_validate(data, **kwargs)


if not hasattr(taskiq.compat, "model_dump"):
    taskiq.compat.model_dump = _model_dump  # type: ignore[attr-defined]
if not hasattr(taskiq.compat, "model_validate"):
    taskiq.compat.model_validate = _model_validate  # type: ignore[attr-defined]

from taskiq_redis import RedisStreamBroker  # noqa: E402

__all__ = ["RedisStreamBroker"]
