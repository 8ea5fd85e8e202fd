"""Redaction of secrets from any text that may be shown, stored or logged: bearer tokens, JWTs,
client secrets, passwords, Authorization headers, credentials in URLs and raw payload dumps.

The one sanitizer of the project: run failures (opsapp.operations.failures) and Graph errors
(opsapp.graph.errors) both use it, so a pattern added here protects every boundary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MESSAGE_CAP = 300

_REDACTED = "[redacted]"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization / cookie headers in any rendering ("Authorization: Bearer x", "'authorization': 'x'")
    (
        re.compile(
            r"(?i)(authorization|proxy-authorization|cookie|set-cookie|x-api-key)(['\"]?\s*[:=]\s*)(['\"]?)[^'\"\n,}]+"
        ),
        r"\1\2\3" + _REDACTED,
    ),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer " + _REDACTED),
    (re.compile(r"(?i)\bbasic\s+[A-Za-z0-9+/=]{8,}"), "Basic " + _REDACTED),
    # JWTs: three base64url segments, the first two starting with '{"' encoded ("eyJ").
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}(?:\.[A-Za-z0-9_-]*)?"), _REDACTED),
    # key=value / "key": "value" pairs whose key names a secret (key and value are masked).
    (
        re.compile(
            r"(?i)([\"']?\b[\w-]*(?:secret|password|passwd|pwd|token|api[_-]?key|credential|assertion|signature|sig)[\w-]*[\"']?\s*[:=]\s*)(\[redacted\]|\"[^\"]*\"|'[^']*'|[^\s&,;}\]]+)"
        ),
        _REDACTED,  # the key goes too: "client_secret=…" says what kind of secret leaked
    ),
    # Credentials inside URLs and connection strings: scheme://user:pass@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@]+@"), r"\1" + _REDACTED + "@"),
    # Azure AD client secrets look like 'abc8Q~' + 34 more characters.
    (re.compile(r"\b[A-Za-z0-9_.-]{3,}~[A-Za-z0-9_.~-]{20,}"), _REDACTED),
    # Long opaque tokens (letters and digits mixed, 32+ chars) that are not GUIDs.
    (
        re.compile(
            r"(?<![\w-])(?=[A-Za-z0-9._~+/=-]*\d)(?=[A-Za-z0-9._~+/=-]*[A-Za-z])[A-Za-z0-9._~+/=-]{32,}"
        ),
        _REDACTED,
    ),
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Between the slashes of a resource path / item key ('deviceManagement/deviceCompliancePolicies/
# <guid>/assignments', 'deviceCompliancePolicy/<guid>'): plain words, GUIDs, composite GUID ids.
_PATH_SEGMENT = re.compile(
    r"^(?:[A-Za-z]*|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"(?:_[0-9a-fA-F-]+)?)$"
)
# A source file path as tracebacks and warnings print it ('/…/site-packages/sqlalchemy/engine/
# base.py', 'C:\\app\\x.py'): kept, unless one of its segments is itself an opaque token.
_FILE_PATH = re.compile(
    r"^(?:[A-Za-z]:)?[/\\]?(?:[\w.+-]+[/\\])+[\w.-]+\.(?:py|pyc|pyi|pyx|so|pyd)$"
)
_OPAQUE_SEGMENT = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_.~+=-]{24,}$")
# A raw payload dump: a JSON / dict-looking blob of any real size.
_PAYLOAD = re.compile(r"[\[{][^\[\]{}]*[:\"'][^\[\]{}]*(?:[\[{].*[\]}])?[^\[\]{}]*[\]}]", re.S)


def _redact_token(match: re.Match[str]) -> str:
    text = match.group(0)
    if _GUID.match(text):
        return text
    if "/" in text and all(_PATH_SEGMENT.match(part) for part in text.split("/")):
        return text  # a resource path with ids, not an opaque token
    if _FILE_PATH.match(text) and not any(
        _OPAQUE_SEGMENT.match(part) for part in re.split(r"[/\\]", text)
    ):
        return text  # a library / source file path (tracebacks keep their file names)
    return _REDACTED


# Control characters (terminal escapes, NUL, …) never reach a terminal or a log file as such.
# Bidirectional overrides count too: they make a terminal show text other than what is there.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]"
)
LOG_CAP = 20_000


def _elide_payload(match: re.Match[str]) -> str:
    return match.group(0) if len(match.group(0)) <= 40 else "[payload omitted]"


# Every pattern above (and _PAYLOAD) needs one of these hints to match at all: a header or key
# word, "eyJ", "://", "~", a bracket — or a run of 32+ token characters holding a digit and a
# letter (the opaque-token pattern). Most text — log lines, error messages — has none, and
# looking for them costs a fraction of the substitutions (a log line paid ~60 µs for those).
# tests/unit/test_redaction_prefilter.py holds both paths equal.
_HINTS = (
    "authoriz", "cookie", "apikey", "api_key", "api-key", "bearer", "basic", "eyj", "secret",
    "passw", "pwd", "token", "credential", "assertion", "sig", "://", "~", "[", "{",
)  # fmt: skip
_TOKEN_RUN = re.compile(r"[A-Za-z0-9._~+/=-]{32,}")
_DIGIT, _LETTER = re.compile(r"\d"), re.compile(r"[A-Za-z]")


def _might_hold_a_secret(text: str) -> bool:
    lowered = text.lower()
    if any(hint in lowered for hint in _HINTS):
        return True
    return any(
        _DIGIT.search(run) and _LETTER.search(run)
        for run in (match.group(0) for match in _TOKEN_RUN.finditer(text))
    )


def _scrub(
    out: str, known_secrets: Iterable[str], *, per_line_payloads: bool, controls: bool = True
) -> str:
    for secret in known_secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, _REDACTED)
    if not _might_hold_a_secret(out):
        return _CONTROL.sub("?", out) if controls else out
    return _scrub_patterns(out, per_line_payloads=per_line_payloads, controls=controls)


def _scrub_patterns(out: str, *, per_line_payloads: bool, controls: bool) -> str:
    """Every substitution, unconditionally (what _scrub does once the prefilter found a hint)."""
    if per_line_payloads:  # a traceback: a dict on one line is a dump, braces across lines are code
        out = "\n".join(_PAYLOAD.sub(_elide_payload, line) for line in out.split("\n"))
    else:
        out = _PAYLOAD.sub(_elide_payload, out)
    for pattern, replacement in _PATTERNS[:-1]:
        out = pattern.sub(replacement, out)
    out = _PATTERNS[-1][0].sub(_redact_token, out)
    return _CONTROL.sub("?", out) if controls else out


def sanitize_text(text: Any, *, cap: int = MESSAGE_CAP, known_secrets: Iterable[str] = ()) -> str:
    """Return `text` with secrets removed, payload dumps elided, whitespace folded, capped."""
    out = _scrub(str(text) if text is not None else "", known_secrets, per_line_payloads=False)
    out = " ".join(out.split())
    if len(out) > cap:
        out = out[: cap - 1].rstrip() + "…"
    return out


def sanitize_log_text(text: Any, *, cap: int = LOG_CAP, known_secrets: Iterable[str] = ()) -> str:
    """Like `sanitize_text` for a log record's message, traceback or stack: the same secrets go,
    but lines are kept (a traceback stays readable), terminal colours too, and the cap is larger."""
    out = str(text) if text is not None else ""
    out = out.replace("\r\n", "\n").replace("\r", "\n")
    out = _scrub(out, known_secrets, per_line_payloads=True, controls=False)
    if len(out) > cap:
        out = out[: cap - 1].rstrip() + "…"
    return out
