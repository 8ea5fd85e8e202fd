"""The one log sanitizer (opsapp.logging_setup): every record of every logger, whoever added the
handler, loses its secrets — message, arguments, traceback, stack — and keeps library paths."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import textwrap

import httpx
import pytest
import redis.exceptions
import sqlalchemy.exc

from opsapp.graph.errors import GraphError
from opsapp.logging_setup import (
    SanitizingFilter,
    install_cli_logging,
    install_log_sanitizer,
    sanitize_record,
)
from opsapp.redaction import sanitize_log_text, sanitize_text

JWT = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL2dyYXBoLm1pY3Jvc29mdC5jb20ifQ"
    ".c2lnbmF0dXJlLXZhbHVlLWhlcmU"
)
CLIENT_SECRET = "Xy7Q~abcDEFghiJKLmnoPQRstuVWXyz0123456789"
DB_PASSWORD = "s3cr3t-db-pass"
BROKER_PASSWORD = "br0ker-pa55word"
TASK_TOKEN = "ABCDEF0123456789abcdef0123456789XYZ"
SECRETS = (JWT, CLIENT_SECRET, DB_PASSWORD, BROKER_PASSWORD, TASK_TOKEN)


def _graph_error() -> BaseException:
    """The Graph client: an HTTP error with the bearer token and a body leaking the secret,
    wrapped in the GraphError the client raises (the cause is in the traceback)."""
    request = httpx.Request(
        "POST",
        "https://login.microsoftonline.com/t/oauth2/v2.0/token",
        headers={"Authorization": f"Bearer {JWT}"},
    )
    response = httpx.Response(
        401, request=request, text=f'{{"client_secret": "{CLIENT_SECRET}", "error": "x"}}'
    )
    try:
        try:
            raise httpx.HTTPStatusError(
                f"401 for {request.url}; Authorization: Bearer {JWT}; body {response.text}",
                request=request,
                response=response,
            )
        except httpx.HTTPStatusError as inner:
            raise GraphError("graph.unauthorized", "token refused", status=401) from inner
    except GraphError as exc:
        return exc


def _database_error() -> BaseException:
    url = f"postgresql+psycopg://opsapp:{DB_PASSWORD}@db.internal:5432/opsapp"
    try:
        raise sqlalchemy.exc.OperationalError(
            "SELECT 1", {"password": DB_PASSWORD}, ConnectionError(f"could not connect to {url}")
        )
    except sqlalchemy.exc.OperationalError as exc:
        return exc


def _broker_error() -> BaseException:
    try:
        raise redis.exceptions.ConnectionError(
            f"Error 111 connecting to redis://:{BROKER_PASSWORD}@cache:6379/0. Refused."
        )
    except redis.exceptions.ConnectionError as exc:
        return exc


def _task_error() -> BaseException:
    body = {"task_name": "opsapp.sync", "kwargs": {"access_token": JWT, "blob": TASK_TOKEN}}
    try:
        raise RuntimeError(f"task failed with message {body}")
    except RuntimeError as exc:
        return exc


LAYERS = {
    "opsapp.graph": _graph_error,
    "sqlalchemy.engine": _database_error,
    "opsapp.worker": _broker_error,
    "taskiq.receiver": _task_error,
}


def _assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    assert "eyJ" not in text


@pytest.fixture
def sanitizer():
    previous = logging.getLogRecordFactory()
    install_log_sanitizer()
    yield
    logging.setLogRecordFactory(previous)


@pytest.mark.parametrize("logger_name", list(LAYERS))
def test_secrets_planted_in_each_layer_never_reach_caplog(sanitizer, caplog, logger_name):
    exc = LAYERS[logger_name]()
    log = logging.getLogger(logger_name)
    with caplog.at_level(logging.DEBUG):
        try:
            raise exc
        except BaseException:
            log.exception("layer failed: %s (%r)", exc, exc.args)
        log.error("with stack %s", exc, stack_info=True)
        log.warning("as extra", extra={"detail": f"password={DB_PASSWORD}"})
    assert len(caplog.records) == 3
    _assert_clean(caplog.text)
    for record in caplog.records:
        _assert_clean(record.getMessage())
        _assert_clean(str(record.__dict__))
    assert "Traceback (most recent call last)" in caplog.text  # the traceback is still there
    assert "layer failed" in caplog.text


def test_a_handler_added_later_on_a_non_propagating_logger_gets_clean_records(sanitizer):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # like uvicorn / taskiq configuring their own
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    log = logging.getLogger("tests.late.uvicorn")
    log.addHandler(handler)
    log.propagate = False
    try:
        for build in LAYERS.values():
            exc = build()
            log.error("failed: %s", exc, exc_info=exc)
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert text.count("Traceback (most recent call last)") >= len(LAYERS)
    _assert_clean(text)


def test_without_the_sanitizer_the_planted_secrets_do_leak():
    """The test above can fail: the same records, unsanitized, carry the secrets."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    log = logging.getLogger("tests.unsanitized")
    log.addHandler(handler)
    log.propagate = False
    previous = logging.getLogRecordFactory()
    logging.setLogRecordFactory(logging.LogRecord)
    try:
        log.error("failed: %s", _database_error(), exc_info=_broker_error())
    finally:
        logging.setLogRecordFactory(previous)
        log.removeHandler(handler)
    assert DB_PASSWORD in stream.getvalue() and BROKER_PASSWORD in stream.getvalue()


@pytest.mark.parametrize("factory_installed", [False, True])
def test_the_filter_sanitizes_records_made_outside_the_factory(factory_installed):
    previous = logging.getLogRecordFactory()
    if factory_installed:  # makeLogRecord fills a record the factory already sanitized
        install_log_sanitizer()
    else:
        logging.setLogRecordFactory(logging.LogRecord)
    try:
        record = _made_outside()
    finally:
        logging.setLogRecordFactory(previous)
    assert SanitizingFilter().filter(record) is True
    _assert_clean(record.getMessage() + record.exc_text)


def _made_outside() -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"msg": "login %s", "args": (f"password={DB_PASSWORD}",), "exc_info": None}
    )
    record.exc_text = f"Traceback ...\nConnectionError: redis://:{BROKER_PASSWORD}@cache:6379/0"
    return record


def test_install_is_idempotent_and_covers_existing_root_handlers(sanitizer):
    handler = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install_log_sanitizer()
        install_log_sanitizer()
        assert sum(isinstance(f, SanitizingFilter) for f in handler.filters) == 1
        factory = logging.getLogRecordFactory()
        install_log_sanitizer()
        assert logging.getLogRecordFactory() is factory  # not wrapped twice
    finally:
        root.removeHandler(handler)


def test_library_paths_in_tracebacks_are_kept():
    traceback_text = textwrap.dedent(
        """\
        Traceback (most recent call last):
          File "/work/main/.venv/lib/python3.11/site-packages/sqlalchemy/engine/base.py", line 1967, in _exec_single_context
            self.dialect.do_execute(
          File "/usr/lib/python3.11/asyncio/base_events.py", line 653, in run_until_complete
          File "C:\\\\Python311\\\\Lib\\\\site-packages\\\\taskiq\\\\receiver\\\\receiver.py", line 12, in run
        sqlalchemy.exc.OperationalError: could not connect to postgresql://u:pw-123456@h/db
        """
    )
    clean = sanitize_log_text(traceback_text)
    assert "/work/main/.venv/lib/python3.11/site-packages/sqlalchemy/engine/base.py" in clean
    assert "/usr/lib/python3.11/asyncio/base_events.py" in clean
    assert "site-packages\\\\taskiq\\\\receiver\\\\receiver.py" in clean
    assert "pw-123456" not in clean
    assert clean.count("\n") == traceback_text.count("\n")  # lines kept
    one_line = sanitize_text("warning at /usr/lib/python3.11/asyncio/base_events.py:653")
    assert "/usr/lib/python3.11/asyncio/base_events.py:653" in one_line


@pytest.mark.parametrize(
    "path",
    [
        f"/srv/app/{TASK_TOKEN}/x.py",
        f"/callback/{TASK_TOKEN}",
        f"/srv/{JWT}.py",
    ],
)
def test_a_token_hidden_in_a_path_is_still_redacted(path):
    _assert_clean(sanitize_log_text(f'File "{path}", line 1') + sanitize_text(path))


def test_control_characters_are_neutralised_on_one_line_outputs_only():
    text = "bad \x1b[31mred\x1b[0m \x00 \u202eeulav\nnext line"
    one_line = sanitize_text(text)
    assert not any(c in one_line for c in "\x1b\x00\u202e\n")
    assert sanitize_log_text(text) == text  # log colours (uvicorn, rich) are left alone


def test_clean_records_keep_their_arguments_for_formatters_that_read_them(sanitizer):
    """uvicorn's access formatter unpacks record.args: a clean record keeps them."""
    log = logging.getLogger("tests.args")
    record = log.makeRecord(
        "tests.args",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s" %d',
        ("1.2.3.4", "GET", "/x", 200),
        None,
    )
    assert record.args == ("1.2.3.4", "GET", "/x", 200)
    leaky = log.makeRecord(
        "tests.args", logging.INFO, __file__, 1, "GET %s", (f"/cb?access_token={JWT}",), None
    )
    _assert_clean(leaky.getMessage() + repr(leaky.args))
    split = log.makeRecord(
        "tests.args", logging.INFO, __file__, 1, "password=%s", ("hunter2x",), None
    )
    assert split.args is None and "hunter2x" not in split.getMessage()  # secret across the parts


def test_cli_logging_prints_one_line_per_record_without_traceback(sanitizer, monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    before = list(root.handlers)
    handler = install_cli_logging()
    assert install_cli_logging() is handler  # idempotent
    added = [h for h in root.handlers if h not in before]
    try:
        assert added == [handler]
        exc = _task_error()
        receiver = logging.getLogger("taskiq.receiver")
        receiver.warning("retrying after %s", exc)  # warnings: printed at once
        receiver.error("Exception found while executing function: %s", exc, exc_info=exc)
        assert stream.getvalue().count("\n") == 1  # errors are held until the command ends
        handler.finish(succeeded=True)
        receiver.error("second failure", exc_info=exc)
        handler.finish(succeeded=False)  # the command failed: its own line says it
    finally:
        for added_handler in added:
            root.removeHandler(added_handler)
        logging.captureWarnings(False)
    lines = stream.getvalue().splitlines()
    assert [line.split(":")[1].strip() for line in lines] == ["warning", "error"]
    assert lines[1].startswith("opsapp: error: Exception found")
    assert "second failure" not in stream.getvalue()
    assert "Traceback" not in stream.getvalue()
    _assert_clean(stream.getvalue())


def test_sanitize_record_survives_bad_format_arguments(sanitizer):
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items %s", ("nope",), None)
    sanitize_record(record)
    assert "did not format" in record.getMessage()


def test_a_real_worker_process_logs_no_secret_to_stderr(tmp_path):
    """A subprocess boots like a worker (init_process), then — as taskiq and uvicorn do —
    configures logging itself, and logs exceptions planted in every layer."""
    script = textwrap.dedent(
        f"""
        import logging, sys
        from opsapp.bootstrap import init_process
        init_process("worker")
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)  # handlers added later
        own = logging.getLogger("uvicorn.error")
        own.addHandler(logging.StreamHandler(sys.stderr))
        own.propagate = False
        sys.path.insert(0, {str(os.path.dirname(__file__))!r})
        from test_log_sanitizer import LAYERS
        for name, build in LAYERS.items():
            exc = build()
            logging.getLogger(name).exception("boom %s", exc, exc_info=exc)
            own.error("boom %s", exc, exc_info=exc)
        import sqlalchemy
        try:  # a real library traceback: its site-packages paths must survive
            sqlalchemy.create_engine("postgresql+psycopg://u:{DB_PASSWORD}@127.0.0.1:1/x").connect()
        except Exception:
            logging.getLogger("sqlalchemy.pool").exception("connect failed")
        raise SystemExit(0)
        """
    )
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "OPSAPP_BROKER": "memory",
        "OPSAPP_SECRET_KEY": "log-sanitizer-test-key",
    }
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("Traceback (most recent call last)") >= 2 * len(LAYERS)
    assert "/site-packages/sqlalchemy/engine/base.py" in proc.stderr  # library paths are kept
    _assert_clean(proc.stdout + proc.stderr)
