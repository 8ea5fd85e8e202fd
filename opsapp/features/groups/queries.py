"""Read model of the Directory groups page: Entra groups as last observed, database only
(directory_groups.sync keeps the rows current; a page view never waits on Graph)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from opsapp.models import DirectoryGroup
from opsapp.models.types import iso
from opsapp.paging import Page, contains_text, ordered_by, paginate

SORT_KEYS = ("display_name", "group_type", "member_count", "observed_at")
# The tokens opsapp.features.groups.service stores, with what an admin reads.
GROUP_TYPE_LABELS = {
    "security": "Security",
    "microsoft365": "Microsoft 365",
    "distribution": "Distribution",
}


def group_type_label(key: str) -> str:
    return GROUP_TYPE_LABELS.get(key, key)


def group_type_choices() -> list[dict]:
    return [{"value": key, "label": label} for key, label in GROUP_TYPE_LABELS.items()]


def _group_row(group: DirectoryGroup) -> dict:
    return {
        "id": group.id,
        "display_name": group.display_name,
        "group_type": group.group_type,
        "group_type_label": group_type_label(group.group_type),
        "member_count": group.member_count,
        "observed_at": iso(group.observed_at),
    }


def list_groups(
    session: Session,
    *,
    tenant_id: int,
    search: str = "",
    group_type: str | None = None,
    sort: str = "display_name",
    descending: bool = False,
    page: int = 1,
    page_size: int = 25,
) -> Page:
    """Present (not removed) groups of one tenant. An unknown sort key sorts by name; groups
    whose member count Graph did not report sort last either way."""
    g = DirectoryGroup
    query = select(g).where(g.tenant_id == tenant_id, g.removed_at.is_(None))
    if group_type:
        query = query.where(g.group_type == group_type)
    matches = contains_text(g.display_name, search)
    if matches is not None:
        query = query.where(matches)
    sort = sort if sort in SORT_KEYS else "display_name"
    if sort == "group_type":  # by the label the page shows
        column = sa.case(GROUP_TYPE_LABELS, value=g.group_type, else_=g.group_type)
    else:
        column = getattr(g, sort)
    text = sort in ("display_name", "group_type")
    query = query.order_by(*ordered_by(column, g.id, descending=descending, text=text))
    return paginate(session, query, page=page, page_size=page_size, row=_group_row)
