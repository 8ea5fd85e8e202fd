"""Failure records and sanitization: stable codes, short safe messages, never a secret.

Stored failures are `{code, message, count}` (plus an `error_id` when a log line holds more).
Everything that becomes a stored message, a notification or a log line about a failure goes
through `sanitize_text` first — sanitize at the boundary, whatever the source claims.

Failure codes — the one list. Every code a failure may be stored with is registered here, once,
by the module that owns it:

- the codes of the run primitive itself (below: queue, worker, input, internal);
- the Graph codes, which `opsapp.graph.errors` defines (ERROR_CODES) and this module registers
  on first use of the registry;
- a feature's codes, which its `codes.py` registers with `register_codes(..., owner=__name__)`
  (opsapp.features.backups.codes, opsapp.features.restore.codes).

Code that makes a failure uses the owner's constant (`codes.SET_NOT_FOUND`), which imports the
owner and so registers its codes before the failure is made. A code nobody registered is stored
as internal.error (a warning is logged); tests/unit/operations/test_failure_codes.py scans the
source for codes used but not registered, so a missing registration fails a unit test instead.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from typing import Any

from opsapp.logging_setup import sanitize_logger
from opsapp.redaction import MESSAGE_CAP, sanitize_text

log = sanitize_logger(logging.getLogger("opsapp.operations"))

__all__ = [
    "KNOWN_CODES",
    "MESSAGE_CAP",
    "failure_from_exception",
    "make_failure",
    "merge_failures",
    "register_codes",
    "sanitize_text",
]

DISPATCH_FAILED = "queue.dispatch_failed"  # the task queue did not accept the run
WORKER_LOST = "worker.lost"  # the worker stopped (or stopped heartbeating) mid-run
INPUT_INVALID = "input.invalid"
INTERNAL_ERROR = "internal.error"  # anything unexpected; the details are logged under error_id

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

_OWNERS: dict[str, str] = {}  # code -> the module that registered it


class DuplicateCode(ValueError):
    """Two owners registered the same failure code, or a code is malformed."""


def register_codes(*codes: str, owner: str) -> frozenset[str]:
    """Register failure codes owned by the module `owner` (pass `__name__`); returns them.
    Registering again from the same owner is harmless; a code another owner has is refused."""
    for code in codes:
        if not isinstance(code, str) or not CODE_PATTERN.match(code):
            raise DuplicateCode(f"failure code {code!r} is not of the form 'area.reason'")
        if _OWNERS.get(code, owner) != owner:
            raise DuplicateCode(f"failure code '{code}' is already registered by {_OWNERS[code]}")
    for code in codes:
        _OWNERS[code] = owner
    return frozenset(codes)


_GRAPH_LOADED = False


def _owners() -> dict[str, str]:
    """The registry, with Graph's codes registered on first use: importing opsapp.graph pulls in
    httpx, which a CLI call that never talks to Graph should not pay for at start-up."""
    global _GRAPH_LOADED
    if not _GRAPH_LOADED:
        _GRAPH_LOADED = True
        from opsapp.graph import errors as graph_errors

        register_codes(*graph_errors.ERROR_CODES, owner=graph_errors.__name__)
    return _OWNERS


def owner_of(code: str) -> str | None:
    """The module that registered `code` (None when nobody did)."""
    return _owners().get(code)


class _KnownCodes(AbstractSet[str]):
    """A live, read-only view of the registered codes (`code in KNOWN_CODES`, `CODES <= …`)."""

    def __contains__(self, code: object) -> bool:
        return code in _owners()

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(_owners()))

    def __len__(self) -> int:
        return len(_owners())

    def __repr__(self) -> str:
        return f"KNOWN_CODES({sorted(_owners())})"


KNOWN_CODES: AbstractSet[str] = _KnownCodes()

CORE_CODES = register_codes(
    DISPATCH_FAILED, WORKER_LOST, INPUT_INVALID, INTERNAL_ERROR, owner=__name__
)


def _known(code: Any) -> bool:
    if isinstance(code, str) and code in KNOWN_CODES:
        return True
    log.warning("failure code %r is not registered; stored as %s", code, INTERNAL_ERROR)
    return False


def make_failure(code: str, message: Any, *, count: int = 1, **extra: Any) -> dict[str, Any]:
    """A stored failure record. Unregistered codes fall back to internal.error (logged)."""
    code = code if _known(code) else INTERNAL_ERROR
    record: dict[str, Any] = {"code": code, "message": sanitize_text(message), "count": int(count)}
    for key, value in extra.items():
        if value is not None:
            record[key] = sanitize_text(value, cap=120)
    return record


def detail_of(exc: BaseException) -> str:
    """`Type: message`, sanitized, for a log line."""
    return sanitize_text(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


def failure_from_exception(
    exc: BaseException, *, default_code: str = INTERNAL_ERROR
) -> dict[str, Any]:
    """Turn an exception into a safe failure; the (sanitized) traceback is logged under error_id."""
    error_id = uuid.uuid4().hex[:12]
    code = getattr(exc, "code", None)
    code = code if isinstance(code, str) and code in KNOWN_CODES else default_code
    # Errors of our own (GraphError, …) carry a message written to be shown; others do not.
    own_message = getattr(exc, "message", None)
    if code != INTERNAL_ERROR and isinstance(own_message, str) and own_message:
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
            failure.get("code", INTERNAL_ERROR),
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
