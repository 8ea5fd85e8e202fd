"""Failure records and sanitization: stable codes, short safe messages, never a secret.

Stored failures are `{code, message, count}` (plus an `error_id` when a log line holds more).
Everything that becomes a stored message, a notification or a log line about a failure goes
through `sanitize_text` first — sanitize at the boundary, whatever the source claims.
"""

from __future__ import annotations

import logging
import re
import traceback
import uuid
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("opsapp.operations")

MESSAGE_CAP = 300

KNOWN_CODES = frozenset(
    {
        "graph.throttled",
        "graph.forbidden",
        "graph.unauthorized",
        "graph.not_found",
        "graph.unavailable",
        "graph.bad_response",
        "graph.timeout",
        "graph.request_invalid",
        "queue.dispatch_failed",
        "worker.lost",
        "input.invalid",
        "internal.error",
    }
)

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
    # key=value / "key": "value" pairs whose key names a secret.
    (
        re.compile(
            r"(?i)([\"']?\b[\w-]*(?:secret|password|passwd|pwd|token|api[_-]?key|credential|assertion|signature|sig)[\w-]*[\"']?\s*[:=]\s*)(\[redacted\]|\"[^\"]*\"|'[^']*'|[^\s&,;}\]]+)"
        ),
        r"\1" + _REDACTED,
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


def make_failure(code: str, message: Any, *, count: int = 1, **extra: Any) -> dict[str, Any]:
    """A stored failure record. Unknown codes fall back to internal.error."""
    code = code if code in KNOWN_CODES else "internal.error"
    record: dict[str, Any] = {"code": code, "message": sanitize_text(message), "count": int(count)}
    for key, value in extra.items():
        if value is not None:
            record[key] = sanitize_text(value, cap=120)
    return record


def failure_from_exception(
    exc: BaseException, *, default_code: str = "internal.error"
) -> dict[str, Any]:
    """Turn an exception into a safe failure; the (sanitized) traceback is logged under error_id."""
    error_id = uuid.uuid4().hex[:12]
    code = getattr(exc, "code", None)
    code = code if isinstance(code, str) and code in KNOWN_CODES else default_code
    # Errors of our own (GraphError, …) carry a message written to be shown; others do not.
    own_message = getattr(exc, "message", None)
    if code != "internal.error" and isinstance(own_message, str) and own_message:
        message = own_message
    else:
        detail = sanitize_text(
            f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, cap=200
        )
        message = f"Unexpected error ({detail}); see logs, error id {error_id}"
    tb = "".join(traceback.format_exception(exc))
    log.error("operation failure %s [%s]: %s", error_id, code, sanitize_text(tb, cap=8000))
    return make_failure(code, message, error_id=error_id)


def merge_failures(failures: Iterable[dict[str, Any]], *, limit: int = 50) -> list[dict[str, Any]]:
    """Fold identical (code, message, item) records into one with a count; keep the first `limit`."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for failure in failures:
        record = make_failure(
            failure.get("code", "internal.error"),
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
