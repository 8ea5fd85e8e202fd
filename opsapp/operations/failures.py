"""Failure records and sanitization: stable codes, short safe messages, never a secret.

Stored failures are `{code, message, count}` (plus an `error_id` when a log line holds more).
Everything that becomes a stored message, a notification or a log line about a failure goes
through `sanitize_text` first — sanitize at the boundary, whatever the source claims.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any

from opsapp.logging_setup import sanitize_logger
from opsapp.redaction import MESSAGE_CAP, sanitize_text

log = sanitize_logger(logging.getLogger("opsapp.operations"))

__all__ = [
    "MESSAGE_CAP",
    "failure_from_exception",
    "make_failure",
    "merge_failures",
    "sanitize_text",
]

KNOWN_CODES = frozenset(
    {
        "graph.throttled",
        "graph.forbidden",
        "graph.unauthorized",
        "graph.not_found",
        "graph.unavailable",
        "graph.bad_response",
        "graph.timeout",
        "graph.request_invalid",
        "queue.dispatch_failed",
        "worker.lost",
        "input.invalid",
        "internal.error",
        # Backups (opsapp.features.backups.codes names them)
        "backup_set.not_found",
        "backup_schedule.not_found",
        "policy.not_found",
        "policy.removed",
        "policy_type.unsupported",
        # Restore (opsapp.features.restore.codes names them)
        "restore.not_found",
        "restore.source_missing",
        "restore.payload_invalid",
    }
)


def make_failure(code: str, message: Any, *, count: int = 1, **extra: Any) -> dict[str, Any]:
    """A stored failure record. Unknown codes fall back to internal.error."""
    code = code if code in KNOWN_CODES else "internal.error"
    record: dict[str, Any] = {"code": code, "message": sanitize_text(message), "count": int(count)}
    for key, value in extra.items():
        if value is not None:
            record[key] = sanitize_text(value, cap=120)
    return record


def detail_of(exc: BaseException) -> str:
    """`Type: message`, sanitized, for a log line."""
    return sanitize_text(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


def failure_from_exception(
    exc: BaseException, *, default_code: str = "internal.error"
) -> dict[str, Any]:
    """Turn an exception into a safe failure; the (sanitized) traceback is logged under error_id."""
    error_id = uuid.uuid4().hex[:12]
    code = getattr(exc, "code", None)
    code = code if isinstance(code, str) and code in KNOWN_CODES else default_code
    # Errors of our own (GraphError, …) carry a message written to be shown; others do not.
    own_message = getattr(exc, "message", None)
    if code != "internal.error" and isinstance(own_message, str) and own_message:
        message = own_message
    else:
        detail = sanitize_text(
            f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, cap=200
        )
        message = f"Unexpected error ({detail}); see logs, error id {error_id}"
    # The traceback goes with the record: the process's log sanitizer (opsapp.logging_setup)
    # scrubs it and keeps its lines; the message itself is sanitized here as well.
    log.error("operation failure %s [%s]: %s", error_id, code, detail_of(exc), exc_info=exc)
    return make_failure(code, message, error_id=error_id)


def merge_failures(failures: Iterable[dict[str, Any]], *, limit: int = 50) -> list[dict[str, Any]]:
    """Fold identical (code, message, item) records into one with a count; keep the first `limit`."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for failure in failures:
        record = make_failure(
            failure.get("code", "internal.error"),
            failure.get("message", ""),
            count=int(failure.get("count", 1) or 1),
        )
        for extra in ("item", "error_id"):
            if failure.get(extra):
                record[extra] = sanitize_text(failure[extra], cap=120)
        key = (record["code"], record["message"], record.get("item", ""))
        if key in merged:
            merged[key]["count"] += record["count"]
        else:
            merged[key] = record
    return list(merged.values())[:limit]
