"""Map exceptions to one-line CLI messages and exit codes (sanitized: no secret leaks)."""

from __future__ import annotations

from opsapp.operations.failures import sanitize_text


def translate(exc: BaseException) -> tuple[str, int]:
    from opsapp.cli import EXIT_DENIED, EXIT_ERROR, EXIT_NOT_FOUND, EXIT_USAGE, CliError
    from opsapp.operations.access import Forbidden, NotFound
    from opsapp.operations.catalog import UnknownOperationType
    from opsapp.operations.identity import InvalidInputs
    from opsapp.operations.queries import InvalidFilter
    from opsapp.operations.service import DispatchFailed, OperationUnavailable
    from opsapp.tenancy import TenancyError

    if isinstance(exc, CliError):
        return sanitize_text(str(exc)), exc.code
    if isinstance(exc, NotFound):
        return "tenant not found or you are not a member of it", EXIT_NOT_FOUND
    if isinstance(exc, Forbidden):
        return sanitize_text(str(exc)), EXIT_DENIED
    if isinstance(
        exc,
        UnknownOperationType | InvalidInputs | InvalidFilter | TenancyError | OperationUnavailable,
    ):
        return sanitize_text(str(exc)), EXIT_USAGE
    if isinstance(exc, DispatchFailed):
        return f"{exc} (run {exc.run.id})", EXIT_ERROR
    return sanitize_text(f"{type(exc).__name__}: {exc}"), EXIT_ERROR
