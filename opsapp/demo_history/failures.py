"""Failure records as the real runs store them: built with make_failure from the errors the live
Graph client raises (same codes, same sanitized messages), or the worker/queue failures the
primitive records itself."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx

from opsapp.graph.errors import from_response, from_transport_error
from opsapp.operations.failures import make_failure
from opsapp.operations.reaper import LOST_MESSAGE
from opsapp.policy_types import POLICY_TYPES_BY_KEY

GRAPH_ATTEMPTS = 5  # the live client's 4 retries + the first try
GRAPH_CODES = ("graph.throttled", "graph.forbidden", "graph.unavailable")
_GRAPH_STATUS = {"graph.throttled": 429, "graph.forbidden": 403, "graph.unavailable": 503}
# Policy types whose objects item failures name.
_ITEM_POLICY_TYPES = ("deviceConfiguration", "deviceCompliancePolicy", "settingsCatalogPolicy")
_MAX_ITEM_RECORDS = 3


def graph_failure(
    rng: random.Random, code: str, path: str, *, item: str | None, count: int = 1
) -> dict[str, Any]:
    """A Graph failure with `code` on `path`; some outages are connection errors, not a 503."""
    if code == "graph.unavailable" and rng.random() < 0.3:
        error = from_transport_error(httpx.ConnectError(""), path=path, attempts=GRAPH_ATTEMPTS)
    else:
        attempts = 1 if code == "graph.forbidden" else GRAPH_ATTEMPTS  # 403 is not retried
        error = from_response(status=_GRAPH_STATUS[code], path=path, attempts=attempts)
    return make_failure(error.code, error.message, count=count, item=item)


def item_failures(rng: random.Random, code: str, failed: int) -> list[dict[str, Any]]:
    """Per-policy failures (at most three records; the rest folded into the last one)."""
    records = []
    for index in range(min(failed, _MAX_ITEM_RECORDS)):
        policy_type = rng.choice(_ITEM_POLICY_TYPES)
        graph_id = _guid(rng)
        path = f"{POLICY_TYPES_BY_KEY[policy_type].graph_path}/{graph_id}"
        if rng.random() < 0.5:
            path += "/assignments"
        count = 1 if index < 2 else failed - 2
        records.append(
            graph_failure(rng, code, path, item=f"{policy_type}/{graph_id}", count=count)
        )
    return records


def dispatch_failure(rng: random.Random) -> dict[str, Any]:
    """The task queue refused the run; the error id links the (here imaginary) log entry."""
    return make_failure(
        "queue.dispatch_failed",
        "The task queue did not accept the operation (TimeoutError); nothing was started.",
        error_id=uuid.UUID(int=rng.getrandbits(128)).hex[:12],
    )


def lost_failure() -> dict[str, Any]:
    """The reaper's record of a run whose worker stopped heartbeating."""
    return make_failure("worker.lost", LOST_MESSAGE)


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
