"""The log sanitizer every process installs (see opsapp.bootstrap).

One rule for every record of every logger: the message (with its arguments), the exception text
(traceback), the stack info and string `extra` fields go through `opsapp.redaction` before any
handler sees them. Two hooks make that hold whoever configures logging:

- the log record factory (`logging.setLogRecordFactory`) wraps the previous factory, so every
  record made by any logger is sanitized when it is created — whatever handlers taskiq, uvicorn
  or Reflex attach later, on whichever logger, with or without propagation;
- `SanitizingFilter` sits on the root logger's handlers (and those that exist on other loggers
  when the sanitizer is installed) as a second line for records made outside the factory
  (`logging.makeLogRecord`, a factory replaced without wrapping) and for `extra` fields, which
  `Logger.makeRecord` adds after the factory ran.

A sanitized record has no `exc_info` left: its traceback, already formatted and sanitized, is
in `exc_text`, which `logging.Formatter` prints as is. A handler that renders `exc_info` itself
(rich and the like) shows no traceback rather than an unsanitized one.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Mapping
from typing import Any

from opsapp.redaction import sanitize_log_text, sanitize_text

_MARK = "_opsapp_sanitized"
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", _MARK}


def _state(record: logging.LogRecord) -> tuple:
    """What sanitizing a record settles; a record changed afterwards (logging.makeLogRecord
    fills one made by the factory) is sanitized again."""
    return (record.msg, record.args, record.exc_info, record.exc_text, record.stack_info)


def _sanitize_extras(record: logging.LogRecord) -> None:
    for key, value in list(record.__dict__.items()):
        if key not in _STANDARD and isinstance(value, str):
            record.__dict__[key] = sanitize_log_text(value)


def _clean_arg(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    clean = sanitize_log_text(text)
    return value if clean == text else clean


def _sanitize_message(record: logging.LogRecord) -> None:
    """Keep `msg` and `args` apart when that is safe (formatters such as uvicorn's read
    `record.args`); otherwise the record carries the sanitized message and no arguments."""
    try:
        message = record.getMessage()
    except Exception:  # bad %-arguments: keep what can be shown, never raise from logging
        record.msg, record.args = (
            sanitize_log_text(f"{record.msg} (log arguments did not format)"),
            None,
        )
        return
    if record.args:
        args = record.args
        cleaned = (
            {key: _clean_arg(value) for key, value in args.items()}
            if isinstance(args, Mapping)
            else tuple(_clean_arg(value) for value in args)
        )
        try:
            formatted = str(record.msg) % cleaned
        except Exception:
            formatted = None
        if formatted is not None and sanitize_log_text(formatted) == formatted:
            record.args = cleaned  # the whole line is clean: template and arguments stay apart
            return
    record.msg, record.args = sanitize_log_text(message), None


def sanitize_record(record: logging.LogRecord) -> logging.LogRecord:
    """Sanitize `record` in place (idempotent) and return it."""
    mark = record.__dict__.get(_MARK)
    if mark and all(a is b for a, b in zip(mark, _state(record), strict=True)):  # unchanged since
        _sanitize_extras(record)
        return record
    _sanitize_message(record)
    if record.exc_info:
        text = record.exc_text or "".join(traceback.format_exception(*record.exc_info))
        record.exc_text = sanitize_log_text(text.rstrip("\n"))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = sanitize_log_text(record.exc_text)
    if record.stack_info:
        record.stack_info = sanitize_log_text(record.stack_info)
    _sanitize_extras(record)
    record.__dict__[_MARK] = _state(record)
    return record


class SanitizingFilter(logging.Filter):
    """Sanitizes every record it sees; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        sanitize_record(record)
        return True


_FILTER = SanitizingFilter("opsapp.sanitizer")


def _sanitizing_factory(previous):
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return sanitize_record(previous(*args, **kwargs))

    factory._opsapp_sanitizer = True  # type: ignore[attr-defined]
    return factory


def _add_filter(handler: logging.Handler | logging.Logger) -> None:
    if _FILTER not in handler.filters:
        handler.addFilter(_FILTER)


def sanitize_logger(logger: logging.Logger) -> logging.Logger:
    """Defence in depth for a logger that logs raw exceptions: its own records are sanitized
    even in a process that never ran `install_log_sanitizer` (a test, a script)."""
    _add_filter(logger)
    return logger


def install_log_sanitizer() -> None:
    """Install the sanitizing record factory and the filter on existing handlers (idempotent)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "_opsapp_sanitizer", False):
        logging.setLogRecordFactory(_sanitizing_factory(current))
    for handler in logging.getLogger().handlers:
        _add_filter(handler)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        for handler in getattr(logger, "handlers", ()):
            _add_filter(handler)
    if logging.lastResort is not None:
        _add_filter(logging.lastResort)


class OneLineFormatter(logging.Formatter):
    """`opsapp: warning: <message>` on one line; tracebacks are left out (the CLI's stderr)."""

    def format(self, record: logging.LogRecord) -> str:
        sanitize_record(record)
        message = sanitize_text(record.getMessage(), cap=500)
        if record.exc_text:
            message += " (details omitted)"
        return f"opsapp: {record.levelname.lower()}: {message}"


class CliLogHandler(logging.StreamHandler):
    """The CLI's stderr handler: one line per record. Records of ERROR and above are held until
    the command ends: printed if it succeeds, dropped if it fails — then the command's own error
    line is the only line (the run's failure record keeps the error id)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(OneLineFormatter())
        self.held: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.held.append(record)
        else:
            super().emit(record)

    def finish(self, *, succeeded: bool) -> None:
        held, self.held = self.held, []
        if succeeded:
            for record in held:
                super().emit(record)


def cli_log_handler() -> CliLogHandler | None:
    for handler in logging.getLogger().handlers:
        if isinstance(handler, CliLogHandler):
            return handler
    return None


def install_cli_logging(level: int = logging.WARNING) -> CliLogHandler:
    """The CLI's stderr: warnings and errors of any logger as one sanitized line each — no
    multi-line tracebacks from taskiq or anyone else (idempotent)."""
    root = logging.getLogger()
    handler = cli_log_handler()
    if handler is not None:
        return handler
    handler = CliLogHandler()
    handler.setLevel(level)
    _add_filter(handler)
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    logging.captureWarnings(True)
    return handler
