"""Map exceptions to one-line CLI messages and exit codes (sanitized: no secret leaks)."""

from __future__ import annotations

from opsapp.operations.failures import sanitize_text

EXIT_ERROR, EXIT_USAGE, EXIT_DENIED, EXIT_NOT_FOUND = 1, 2, 3, 4
EXIT_CONFIG = 5  # the settings are unsafe or incomplete (opsapp.settings_guard)


class CliError(Exception):
    """A command-line failure with its exit code; the message is shown as is (sanitized)."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def translate(exc: BaseException) -> tuple[str, int]:
    from opsapp.features.backups.errors import BackupInputError
    from opsapp.operations.access import Forbidden, NotFound
    from opsapp.operations.catalog import UnknownOperationType
    from opsapp.operations.identity import InvalidInputs
    from opsapp.operations.queries import InvalidFilter
    from opsapp.operations.service import DispatchFailed, OperationUnavailable
    from opsapp.settings_guard import UnsafeConfiguration
    from opsapp.tenancy import TenancyError

    if isinstance(exc, CliError):
        return sanitize_text(str(exc)), exc.code
    if isinstance(exc, UnsafeConfiguration):
        return sanitize_text(str(exc)), EXIT_CONFIG
    if isinstance(exc, NotFound):
        if str(exc) != NotFound().args[0]:  # a specific message ("Backup set not found")
            return sanitize_text(str(exc)), EXIT_NOT_FOUND
        return "tenant not found or you are not a member of it", EXIT_NOT_FOUND
    if isinstance(exc, Forbidden):
        return sanitize_text(str(exc)), EXIT_DENIED
    if isinstance(
        exc,
        UnknownOperationType
        | InvalidInputs
        | InvalidFilter
        | TenancyError
        | OperationUnavailable
        | BackupInputError,
    ):
        return sanitize_text(str(exc)), EXIT_USAGE
    if isinstance(exc, DispatchFailed):
        return f"{exc} (run {exc.run.id})", EXIT_ERROR
    return sanitize_text(f"{type(exc).__name__}: {exc}"), EXIT_ERROR
