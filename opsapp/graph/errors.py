"""Graph failures with stable codes and messages that are safe to store and show.

Every way a Graph call can fail ends as one ``GraphError``. Its ``message`` is built by us from
the status, the resource path (no query string, no host) and fixed words — never from a response
body, a header or an exception text — so it can go straight into ``OperationRun.failures``.
"""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import urlsplit

import httpx

from opsapp.redaction import sanitize_text

THROTTLED = "graph.throttled"
FORBIDDEN = "graph.forbidden"
UNAUTHORIZED = "graph.unauthorized"
NOT_FOUND = "graph.not_found"
UNAVAILABLE = "graph.unavailable"
BAD_RESPONSE = "graph.bad_response"
TIMEOUT = "graph.timeout"
REQUEST_INVALID = "graph.request_invalid"

# The Graph failure codes. opsapp.operations.failures registers them in its one list of codes
# (see its docstring); a code added here is known to every failure record from then on.
ERROR_CODES: tuple[str, ...] = (
    THROTTLED,
    FORBIDDEN,
    UNAUTHORIZED,
    NOT_FOUND,
    UNAVAILABLE,
    BAD_RESPONSE,
    TIMEOUT,
    REQUEST_INVALID,
)

MAX_MESSAGE_CHARS = 300
_MAX_PATH_CHARS = 160
_VERSION_SEGMENTS = ("v1.0", "beta")


def redact(text: str) -> str:
    """Mask token-, JWT- and secret-shaped substrings in ``text`` (defence in depth: messages
    never embed bodies, but a path is server-influenced). The project's one sanitizer."""
    return sanitize_text(text, cap=max(len(text), 1))


def resource_label(path_or_url: str) -> str:
    """Reduce a Graph URL or path to the bare resource path used in messages and logs.

    Drops scheme, host, query string and the ``v1.0``/``beta`` segment; caps the length.
    """
    path = urlsplit(path_or_url).path if "://" in path_or_url else path_or_url.split("?", 1)[0]
    segments = [s for s in path.split("/") if s]
    for version in _VERSION_SEGMENTS:
        if version in segments:
            segments = segments[segments.index(version) + 1 :]
            break
    label = "/".join(segments) or "/"
    return redact(label)[:_MAX_PATH_CHARS]


class GraphError(Exception):
    """A failed Graph call: a stable ``code`` plus a short, secret-free ``message``."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.code = code
        self.message = redact(message)[:MAX_MESSAGE_CHARS]
        self.status = status
        self.retry_after = retry_after
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"GraphError(code={self.code!r}, status={self.status!r}, message={self.message!r})"

    def __reduce__(self):  # keyword-only init: teach pickle (task results, process pools)
        return (_rebuild, (self.code, self.message, self.status, self.retry_after))

    def as_failure(self) -> dict[str, str]:
        """The ``{code, message}`` pair an OperationRun failure entry is made of."""
        return {"code": self.code, "message": self.message}


def _rebuild(code: str, message: str, status: int | None, retry_after: float | None) -> GraphError:
    return GraphError(code, message, status=status, retry_after=retry_after)


def code_for_status(status: int) -> str:
    """The stable error code for an HTTP status Graph answered with."""
    if status == 401:
        return UNAUTHORIZED
    if status == 403:
        return FORBIDDEN
    if status == 404:
        return NOT_FOUND
    if status == 429:
        return THROTTLED
    if status == 408:
        return TIMEOUT
    if status >= 500:
        return UNAVAILABLE
    return REQUEST_INVALID


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def from_response(
    *,
    status: int,
    path: str,
    retry_after: float | None = None,
    attempts: int | None = None,
) -> GraphError:
    """Map a non-success Graph status to a ``GraphError`` (the body is deliberately ignored)."""
    message = f"Graph returned {status} {_reason(status)} for {resource_label(path)}"
    if attempts and attempts > 1:
        message += f" (gave up after {attempts} attempts)"
    return GraphError(code_for_status(status), message, status=status, retry_after=retry_after)


def from_transport_error(exc: Exception, *, path: str, attempts: int | None = None) -> GraphError:
    """Map an httpx transport exception (timeout, refused connection, …) to a ``GraphError``.

    Only the exception class name is used: exception texts can carry URLs or server output.
    """
    label = resource_label(path)
    suffix = f" (gave up after {attempts} attempts)" if attempts and attempts > 1 else ""
    if isinstance(exc, httpx.TimeoutException):
        return GraphError(TIMEOUT, f"Graph request for {label} timed out{suffix}")
    kind = type(exc).__name__
    return GraphError(UNAVAILABLE, f"Could not reach Graph for {label} ({kind}){suffix}")


def bad_response(*, path: str, detail: str) -> GraphError:
    """A 2xx answer we cannot use; ``detail`` must be fixed wording from our code."""
    return GraphError(
        BAD_RESPONSE, f"Graph returned an unusable response for {resource_label(path)}: {detail}"
    )
