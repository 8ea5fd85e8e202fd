"""opsapp.redaction skips its substitutions for text without any hint of a secret. The skip must
never change a result: over many generated texts — every pattern's kind of secret, near misses,
and plain words, glued together at random — the prefiltered scrub equals the full one."""

import random

import pytest

from opsapp.redaction import _might_hold_a_secret, _scrub, _scrub_patterns

_SECRETS = [
    "Authorization: Bearer abc.def.ghi",
    "'authorization': 'Basic dXNlcjpwYXNzd29yZA=='",
    "Cookie=session=abc123",
    "x-api-key: k-123",
    "bearer eyJhbGciOiJSUzI1NiJ9.eyJ0aWQiOiJ4In0.c2lnbmF0dXJl",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0",
    'client_secret="s3cr3t value"',
    "password=hunter2",
    "PWD: x",
    "refresh_token=abc;",
    "apiKey=1",
    "SIG=abc",
    "postgresql://user:pw@db.example.test:5432/opsapp",
    "abc8Q~abcdefghijklmnopqrstuvwxyz0123456789",
    "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    '{"client_secret": "x", "items": [1, 2]}',
    "[{'id': 1, 'displayName': 'Contoso baseline policy with a long name'}]",
]
_NEAR_MISSES = [
    "12345678-90ab-cdef-1234-567890abcdef",
    "deviceManagement/deviceCompliancePolicies/12345678-90ab-cdef-1234-567890abcdef/assignments",
    "/usr/lib/python3.11/site-packages/sqlalchemy/engine/base.py",
    "abcdefghijklmnopqrstuvwxyzabcdefghijkl",  # long, but no digit
    "12345678901234567890123456789012345",  # long, but no letter
    "Basically",
    "design",
    "a~b",
    "http://example.test/path",
    "tokens",
    "\x1b[31mred\x1b[0m",
    "\u202eevil",
]
_PLAIN = ["run", "12345", "(bench.noop)", "claimed,", "attempt", "1", "policy", "sync", "ok"]
_GLUE = [" ", "", "\n", ", ", "=", ": ", "/", "-", "."]


def _texts(count: int, seed: int):
    rng = random.Random(seed)
    pool = _SECRETS + _NEAR_MISSES + _PLAIN * 4
    for _ in range(count):
        parts = rng.choices(pool, k=rng.randint(1, 6))
        text = ""
        for part in parts:
            if rng.random() < 0.3:  # cut a part: a secret's fragment is a near miss too
                part = part[: rng.randint(0, len(part))]
            if rng.random() < 0.2:
                part = part.upper() if rng.random() < 0.5 else part.swapcase()
            text += rng.choice(_GLUE) + part
        yield text


@pytest.mark.parametrize("per_line_payloads, controls", [(True, False), (False, True)])
def test_the_prefilter_never_changes_what_is_redacted(per_line_payloads, controls):
    skipped = 0
    for text in _texts(6000, seed=20261130):
        fast = _scrub(text, (), per_line_payloads=per_line_payloads, controls=controls)
        full = _scrub_patterns(text, per_line_payloads=per_line_payloads, controls=controls)
        assert fast == full, text
        skipped += not _might_hold_a_secret(text)
    assert 500 < skipped < 5500  # both paths were exercised


@pytest.mark.parametrize("text", _SECRETS)
def test_every_kind_of_secret_is_a_hint(text):
    assert _might_hold_a_secret(text)
    assert _might_hold_a_secret(text.upper())


def test_plain_log_lines_take_the_short_path():
    assert not _might_hold_a_secret("run 12345 (bench.noop) claimed, attempt 1")
    assert not _might_hold_a_secret(
        "could not reach deviceManagement/deviceConfigurations: timeout"
    )
