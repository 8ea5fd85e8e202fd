"""Map exceptions to one-line CLI messages and exit codes (sanitized: no secret leaks).

Exit codes (README, "Command line"):
  0 success · 1 unexpected internal error · 2 bad input · 3 not allowed · 4 not found ·
  5 unsafe or incomplete configuration · 6 database unavailable (locked, unreachable, not
  migrated) · 7 task queue (broker) unavailable · 8 done, but not everything could be processed
  (the output says what was left; e.g. `secrets rotate` with an unreadable secret) ·
  130 interrupted.
A message never names a Python exception class and never spans more than one line.
"""

from __future__ import annotations

from opsapp.operations.failures import sanitize_text

EXIT_ERROR, EXIT_USAGE, EXIT_DENIED, EXIT_NOT_FOUND = 1, 2, 3, 4
EXIT_CONFIG = 5  # the settings are unsafe or incomplete (opsapp.settings_guard)
EXIT_DATABASE = 6  # the database is locked, unreachable or has no schema
EXIT_BROKER = 7  # the task queue (Redis) is unreachable
EXIT_INCOMPLETE = 8  # the command did its work and printed its result, but left some items out
EXIT_INTERRUPTED = 130
EXIT_CODES = frozenset(
    {
        EXIT_ERROR,
        EXIT_USAGE,
        EXIT_DENIED,
        EXIT_NOT_FOUND,
        EXIT_CONFIG,
        EXIT_DATABASE,
        EXIT_BROKER,
        EXIT_INCOMPLETE,
        EXIT_INTERRUPTED,
    }
)


class CliError(Exception):
    """A command-line failure with its exit code; the message is shown as is (sanitized)."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def one_line(text: object, cap: int = 400) -> str:
    """Sanitized, control characters replaced, whitespace folded to one line."""
    return sanitize_text(text, cap=cap)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def _database(exc: BaseException) -> tuple[str, int] | None:
    import sqlalchemy.exc as sa_exc

    if not isinstance(exc, sa_exc.SQLAlchemyError):
        return None
    orig = getattr(exc, "orig", None)
    detail = _first_line(orig) if orig is not None else _first_line(exc).split(" (Background")[0]
    lowered = detail.lower()
    if isinstance(exc, sa_exc.DataError) or "out of range" in lowered or "too large" in lowered:
        return "a value is out of range or invalid for the database", EXIT_USAGE
    if "locked" in lowered or "busy" in lowered:
        return "the database is locked by another process; try again in a moment", EXIT_DATABASE
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return "the database has no schema; run `opsapp db upgrade`", EXIT_DATABASE
    if isinstance(
        exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.DisconnectionError
    ) or isinstance(exc, sa_exc.TimeoutError):
        return f"the database is unavailable: {one_line(detail, 200)}", EXIT_DATABASE
    return f"database error: {one_line(detail, 200)}", EXIT_DATABASE


def _broker(exc: BaseException) -> bool:
    try:
        import redis.exceptions as redis_exc
    except ImportError:  # pragma: no cover - redis is a dependency
        return False
    return isinstance(exc, redis_exc.ConnectionError | redis_exc.TimeoutError)


def translate(exc: BaseException) -> tuple[str, int]:
    from opsapp.features.backups.errors import BackupInputError
    from opsapp.features.drift.findings import DriftInputError
    from opsapp.features.restore.errors import RestoreInputError, RestoreStateError
    from opsapp.operations.access import Forbidden, NotFound
    from opsapp.operations.catalog import UnknownOperationType
    from opsapp.operations.identity import InvalidInputs
    from opsapp.operations.queries import InvalidFilter
    from opsapp.operations.service import DispatchFailed, OperationUnavailable
    from opsapp.paging import InvalidPage
    from opsapp.settings_guard import UnsafeConfiguration
    from opsapp.tenancy import TenancyError

    if isinstance(exc, CliError):
        return one_line(str(exc)), exc.code
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", EXIT_INTERRUPTED
    if isinstance(exc, UnsafeConfiguration):
        return one_line(str(exc)), EXIT_CONFIG
    if isinstance(exc, NotFound):
        message = exc.specific or "tenant not found or you are not a member of it"
        return one_line(message), EXIT_NOT_FOUND
    if isinstance(exc, Forbidden):
        return one_line(str(exc)), EXIT_DENIED
    if isinstance(
        exc,
        UnknownOperationType
        | InvalidInputs
        | InvalidFilter
        | TenancyError
        | OperationUnavailable
        | BackupInputError
        | DriftInputError
        | RestoreInputError
        | RestoreStateError
        | InvalidPage,
    ):
        return one_line(str(exc)), EXIT_USAGE
    from opsapp.graph import GraphError

    if isinstance(exc, GraphError):  # its message is built to be shown (no body, no secret)
        return one_line(f"Microsoft Graph: {exc.message} ({exc.code})"), EXIT_ERROR
    if isinstance(exc, DispatchFailed):
        return one_line(f"{exc} (run {exc.run.id})"), EXIT_BROKER
    database = _database(exc)
    if database is not None:
        return database
    if _broker(exc):
        return f"the task queue is unavailable: {one_line(_first_line(exc), 200)}", EXIT_BROKER
    if isinstance(exc, OverflowError):
        return "a value is too large", EXIT_USAGE
    if isinstance(exc, RecursionError):
        return "a value is nested too deeply", EXIT_USAGE
    detail = one_line(_first_line(exc), 200)
    return (f"unexpected error: {detail}" if detail else "unexpected error"), EXIT_ERROR
