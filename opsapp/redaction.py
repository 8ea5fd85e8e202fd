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
# A raw payload dump: a JSON / dict-looking blob of any real size.
_PAYLOAD = re.compile(r"[\[{][^\[\]{}]*[:\"'][^\[\]{}]*(?:[\[{].*[\]}])?[^\[\]{}]*[\]}]", re.S)


def _redact_token(match: re.Match[str]) -> str:
    text = match.group(0)
    if _GUID.match(text):
        return text
    if "/" in text and all(_PATH_SEGMENT.match(part) for part in text.split("/")):
        return text  # a resource path with ids, not an opaque token
    return _REDACTED


def sanitize_text(text: Any, *, cap: int = MESSAGE_CAP, known_secrets: Iterable[str] = ()) -> str:
    """Return `text` with secrets removed, payload dumps elided, whitespace folded, capped."""
    out = str(text) if text is not None else ""
    for secret in known_secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, _REDACTED)
    out = _PAYLOAD.sub(lambda m: m.group(0) if len(m.group(0)) <= 40 else "[payload omitted]", out)
    for pattern, replacement in _PATTERNS[:-1]:
        out = pattern.sub(replacement, out)
    out = _PATTERNS[-1][0].sub(_redact_token, out)
    out = " ".join(out.split())
    if len(out) > cap:
        out = out[: cap - 1].rstrip() + "…"
    return out
