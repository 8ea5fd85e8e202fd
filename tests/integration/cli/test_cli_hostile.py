"""The CLI against hostile values: huge integers, deep JSON, control characters, negative-looking
values, very long strings — fed to several commands of the real `opsapp` subprocess. Whatever the
value, the answer is one line on stderr with a documented exit code, never a traceback or a
Python exception name, and nothing is created."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

from opsapp.cli_errors import EXIT_BROKER, EXIT_DATABASE, EXIT_USAGE, translate

OPSAPP = [sys.executable, "-m", "opsapp.cli"]
INPUT_CODES = {2, 3, 4}  # bad input, not allowed, not found
EXCEPTION_NAME = re.compile(r"\b[A-Z]\w*(?:Error|Exception|Warning|Exit|Interrupt)\b")
OPERATOR = "operator@opsapp.demo"

HOSTILE = {
    "int64 + 1": "9223372036854775808",
    "huge integer": "9" * 40,
    "negative": "-5",
    "negative range": "-5d",
    "deep array": "[" * 50_000 + "]" * 50_000,
    "deep object": '{"a":' * 15_000 + "1" + "}" * 15_000,
    "control characters": "\x1b[2J\x07bell\x7f\u202eevil\u2028line",
    "very long": "x" * 100_000,
    "overflowing float": "1e309",
    "nan": "nan",
    "empty": "",
    "format string": "%s%n{0}%(x)s",
}
COMMANDS = {
    "ops show": ["ops", "show", "{}"],
    "ops list --offset": ["ops", "list", "--tenant", "contoso", "--offset", "{}"],
    "ops list --limit": ["ops", "list", "--tenant", "contoso", "--limit", "{}"],
    "ops list --since": ["ops", "list", "--tenant", "contoso", "--since", "{}"],
    "ops list --tenant": ["ops", "list", "--tenant", "{}"],
    "ops prune": ["ops", "prune", "--older-than-days", "{}"],
    "ops start --inputs": [
        *("ops", "start", "policy.sync", "--tenant", "contoso", "--as", OPERATOR),
        *("--inputs", "{}"),
    ],
    "ops start --timeout": [
        *("ops", "start", "directory_groups.sync", "--tenant", "contoso", "--as", OPERATOR),
        *("--wait", "--timeout", "{}"),
    ],
    "backup-sets show": ["backup-sets", "show", "{}"],
    "backup-sets create": ["backup-sets", "create", "{}", "--tenant", "contoso", "--as", OPERATOR],
    "policies list --page": ["policies", "list", "--tenant", "contoso", "--page", "{}"],
    "schedules create --keep": [
        *("schedules", "create", "--tenant", "contoso", "--as", "owner@opsapp.demo"),
        *("--name", "nightly", "--frequency", "daily", "--time", "02:00"),
        *("--timezone", "UTC", "--policy-types", "deviceConfiguration", "--keep", "{}"),
    ],
}
# The issue's own cases first, then a seeded sample: every value meets one more command, every command some value.
CASES = [
    ("ops show", "int64 + 1"),
    ("ops list --offset", "huge integer"),
    ("ops prune", "huge integer"),
    ("ops start --inputs", "deep array"),
    ("ops start --inputs", "deep object"),
    ("ops list --since", "negative range"),
    ("backup-sets create", "control characters"),
    ("backup-sets create", "very long"),
]
_rng = random.Random(11)
for _value in HOSTILE:
    for _command in _rng.sample(sorted(COMMANDS), 1):
        if (_command, _value) not in CASES:
            CASES.append((_command, _value))
for _command in sorted(set(COMMANDS) - {command for command, _ in CASES}):
    CASES.append((_command, _rng.choice(sorted(HOSTILE))))


def _env(url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "OPSAPP_BROKER": "memory",
        "OPSAPP_SECRET_KEY": "cli-test-key",
        **extra,
    }


def _run(args, env):
    return subprocess.run(
        [*OPSAPP, *args], capture_output=True, text=True, env=env, timeout=120, errors="replace"
    )


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in sa.inspect(engine).get_table_names()
            if table not in ("alembic_version", "job_locks")
        }


def _assert_one_clean_line(proc, codes, where: str) -> None:
    assert proc.returncode in codes, f"{where}: exit {proc.returncode}: {proc.stderr[:500]}"
    lines = proc.stderr.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("opsapp: error: "), f"{where}: {proc.stderr!r}"
    assert "Traceback" not in proc.stderr, where
    assert not EXCEPTION_NAME.search(proc.stderr), f"{where}: {proc.stderr!r}"
    assert len(lines[0]) <= 600, where
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e]", lines[0]), repr(lines[0])


@pytest.fixture
def seeded(db):
    url, engine = db
    seed = _run(["demo", "seed"], _env(url))
    assert seed.returncode == 0, seed.stderr
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM notifications")
        conn.exec_driver_sql("DELETE FROM operation_runs")
    return url, engine


def test_hostile_values_get_one_line_a_documented_code_and_create_nothing(seeded):
    url, engine = seeded
    before = _counts(engine)
    env = _env(url)
    for command, name in CASES:
        args = [HOSTILE[name] if part == "{}" else part for part in COMMANDS[command]]
        where = f"{command} <- {name}"
        proc = _run(args, env)
        _assert_one_clean_line(proc, INPUT_CODES, where)
        assert proc.stdout == "", where
        assert _counts(engine) == before, where


def test_the_issue_cases_say_what_is_wrong(seeded):
    url, _ = seeded
    env = _env(url)
    show = _run(["ops", "show", "9223372036854775808"], env)
    assert show.returncode == EXIT_USAGE and "from 1 to 9223372036854775807" in show.stderr
    since = _run(["ops", "list", "--tenant", "contoso", "--since", "-5d"], env)
    assert since.returncode == EXIT_USAGE and "'-5d' is not a time range" in since.stderr
    hint = _run(["ops", "start", "policy.sync", "--tenant", "contoso", "--as", OPERATOR, "--inputs", "[1]"], env)  # fmt: skip
    assert hint.returncode == EXIT_USAGE
    assert '{"policy_types": [...]}' in hint.stderr and "payload omitted" not in hint.stderr


def test_an_unreachable_database_is_exit_6_in_one_line(tmp_path):
    password = "pg-pa55-hostile-123"
    for url in (
        "sqlite:////nonexistent/dir/x.db",
        f"postgresql+psycopg://opsapp:{password}@127.0.0.1:1/opsapp",
    ):
        proc = _run(["ops", "list", "--tenant", "x"], _env(url))
        _assert_one_clean_line(proc, {EXIT_DATABASE}, url)
        assert "database is unavailable" in proc.stderr
        assert password not in proc.stderr


def test_a_database_without_schema_says_run_db_upgrade_and_upgrade_says_what_it_did(tmp_path):
    env = _env(f"sqlite:///{tmp_path / 'new.db'}")
    proc = _run(["ops", "list", "--tenant", "x"], env)
    _assert_one_clean_line(proc, {EXIT_DATABASE}, "no schema")
    assert "opsapp db upgrade" in proc.stderr
    first = _run(["db", "upgrade"], env)
    assert first.returncode == 0 and "migrated to" in first.stderr
    assert "up to date" not in first.stderr
    again = _run(["db", "upgrade"], env)
    assert again.returncode == 0 and "already up to date" in again.stderr


def test_a_broker_that_is_down_is_exit_7_in_one_line(seeded):
    url, _ = seeded
    password = "br0ker-pa55-hostile"
    env = _env(url, OPSAPP_BROKER="redis", REDIS_URL=f"redis://:{password}@127.0.0.1:1/0")
    proc = _run(["ops", "start", "directory_groups.sync", "--tenant", "contoso", "--as", OPERATOR], env)  # fmt: skip
    _assert_one_clean_line(proc, {EXIT_BROKER}, "broker down")
    assert "task queue is unavailable" in proc.stderr and password not in proc.stderr


@pytest.mark.parametrize(
    ("message", "code", "shown"),
    [
        ("database is locked", EXIT_DATABASE, "locked by another process"),
        ("database table is locked: operation_runs", EXIT_DATABASE, "locked by another process"),
        ("unable to open database file", EXIT_DATABASE, "unable to open database file"),
        ("no such table: tenants", EXIT_DATABASE, "opsapp db upgrade"),
    ],
)
def test_sqlite_operational_errors_translate_without_payload_or_class_name(message, code, shown):
    params = {"client_secret": "Zz9Q~very-secret-value-1234567890", "blob": "x" * 500}
    exc = sa.exc.OperationalError("SELECT * FROM operation_runs", params, Exception(message))
    text, exit_code = translate(exc)
    assert exit_code == code and shown in text
    assert "payload omitted" not in text and "very-secret" not in text
    assert not EXCEPTION_NAME.search(text) and "\n" not in text


@pytest.mark.parametrize(
    "exc",
    [
        OverflowError("Python int too large to convert to SQLite INTEGER"),
        RecursionError("maximum recursion depth exceeded"),
        sa.exc.DataError("SELECT", {}, Exception("bigint out of range")),
    ],
)
def test_value_errors_from_below_are_bad_input(exc):
    text, code = translate(exc)
    assert code == EXIT_USAGE and not EXCEPTION_NAME.search(text)


def test_an_unexpected_error_is_exit_1_without_its_class_name():
    text, code = translate(KeyError("password=hunter2-pass\nsecond line"))
    assert code == 1 and "KeyError" not in text and "hunter2" not in text and "\n" not in text
