"""Reading Graph answers: JSON bodies and collection pages."""

from __future__ import annotations

import json

import httpx

from opsapp.graph.client import Json
from opsapp.graph.errors import bad_response


def json_object(response: httpx.Response, *, path: str) -> Json:
    """The response body as a JSON object; ``{}`` for an empty body (204)."""
    if response.status_code == 204 or not response.content:
        return {}
    try:
        data = json.loads(response.content)
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
