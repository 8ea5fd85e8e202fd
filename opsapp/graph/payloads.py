"""Reading Graph answers: JSON bodies and collection pages."""

from __future__ import annotations

import json
import math

import httpx
import orjson

from opsapp.graph.client import Json
from opsapp.graph.errors import bad_response

# orjson reads an integer past 64 bits (or below -2**63) as a float: a body with a run of 19+
# digits is read by the standard parser instead, which keeps every integer exact. Found by
# mapping every digit to "0" and looking for 19 of them (C speed; a regex costs more than the
# parse it guards).
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: JSON has no infinity, PostgreSQL's json refuses it
        raise ValueError("number out of range")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def loads(content: bytes) -> object:
    """Parse a Graph body: orjson (about half the standard parser's time on Graph pages; JSON
    parsing is a large share of a sync's client CPU), with the values the standard parser gives.

    Bodies orjson refuses, or reads differently (long integers), go to the standard parser,
    which then refuses what orjson did not accept either: NaN / Infinity and numbers out of
    float range, so a parsed Graph value is always finite (not JSON; PostgreSQL's json type
    refuses them too). Raises ValueError for an invalid body."""
    if _LONG_DIGITS not in content.translate(_DIGITS_AS_ZERO):
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass  # the standard parser decides (lone surrogates in escapes, huge exponents)
    return json.loads(content, parse_constant=_no_constant, parse_float=_finite)


def json_object(response: httpx.Response, *, path: str) -> Json:
    """The response body as a JSON object; ``{}`` for an empty body (204)."""
    if response.status_code == 204 or not response.content:
        return {}
    try:
        data = loads(response.content)
    except ValueError:
        raise bad_response(path=path, detail="body is not valid JSON") from None
    if not isinstance(data, dict):
        raise bad_response(path=path, detail="body is not a JSON object")
    return data


def page_items(page: Json, *, path: str) -> tuple[list[Json], str | None]:
    """Validate one collection page and return its items and next link."""
    items = page.get("value")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise bad_response(path=path, detail="'value' is not a list of objects")
    next_link = page.get("@odata.nextLink")
    if next_link is not None and not isinstance(next_link, str):
        raise bad_response(path=path, detail="'@odata.nextLink' is not a string")
    return items, next_link
