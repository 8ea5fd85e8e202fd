"""The one place that builds run URLs: the canonical "View run" link and the related links each
type declares in its catalog entry (catalog.RelatedLink; nothing per type is coded here).

Routes are tenant-scoped (`/t/<slug>/…`) so a shared link names its tenant and access checks can
answer 404 for anyone outside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from opsapp.operations.catalog import OPERATION_TYPES, RelatedLink
from opsapp.settings import get_settings


def tenant_path(tenant_slug: str, *parts: Any) -> str:
    tail = "/".join(str(p).strip("/") for p in parts if p not in (None, ""))
    return f"/t/{tenant_slug}/{tail}" if tail else f"/t/{tenant_slug}"


def operations_path(tenant_slug: str) -> str:
    return tenant_path(tenant_slug, "operations")


def view_run_path(tenant_slug: str, run_id: int) -> str:
    """Path of the run detail page — what every "View run" button and notification links to."""
    return tenant_path(tenant_slug, "operations", run_id)


def absolute(path: str) -> str:
    """Prefix OPSAPP_BASE_URL when one is configured (CLI output, e-mails)."""
    base = get_settings().base_url.rstrip("/")
    return f"{base}{path}" if base else path


def link_url(tenant_slug: str, link: RelatedLink, values: Mapping[str, Any]) -> str | None:
    """The URL of a catalog link with its placeholders filled from `values` (None when a path
    placeholder has no value). Filled values are URL-quoted; ids come out as they are."""
    filled = link.fill(values)
    if filled is None:
        return None
    parts, query = filled
    path = tenant_path(tenant_slug, *(quote(str(part), safe="") for part in parts))
    return f"{path}?{urlencode(query)}" if query else path


def related_links(
    *, tenant_slug: str, run_type: str, context: dict[str, Any]
) -> list[dict[str, str]]:
    """Links a run detail page shows next to the run, as its catalog entry declares them: the
    page the work belongs to, what the run made, all operations, then any further links (a
    link with no value for its path, or to a page already listed, is left out)."""
    inputs = (context or {}).get("inputs") or {}
    produced = (context or {}).get("produced") or {}
    op = OPERATION_TYPES.get(run_type)
    links: list[dict[str, str]] = []

    def add(label: str, url: str | None) -> None:
        if url is not None and all(url != seen["url"] for seen in links):
            links.append({"label": label, "url": url})

    if op is not None:
        add(op.related_link.label, link_url(tenant_slug, op.related_link, inputs))
        for link in op.produced_links:
            add(link.label, link_url(tenant_slug, link, produced))
    add("All operations", operations_path(tenant_slug))
    for link in op.see_also_links if op is not None else ():
        add(link.label, link_url(tenant_slug, link, inputs))
    return links
