"""Read model of the Inventory page: the tenant's last observed Intune objects, database only
(a page view must never wait on Graph; inventory.sync keeps these rows current)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from opsapp.models import InventoryItem
from opsapp.models.types import iso
from opsapp.paging import Page, contains_text, ordered_by, paginate
from opsapp.policy_types import POLICY_TYPES, POLICY_TYPES_BY_KEY

SORT_KEYS = ("display_name", "policy_type", "last_modified", "observed_at")


def policy_type_label(key: str) -> str:
    """What an admin reads for a stored type token (the token itself if it is unknown)."""
    known = POLICY_TYPES_BY_KEY.get(key)
    return known.label if known else key


def policy_type_label_sql(column):
    """The label as SQL, so sorting by type follows what the page shows, not the tokens."""
    return sa.case({t.key: t.label for t in POLICY_TYPES}, value=column, else_=column)


def inventory_type_choices() -> list[dict]:
    """The type filter's options, in catalog order."""
    return [{"value": t.key, "label": t.label} for t in POLICY_TYPES]


def _item_row(item: InventoryItem) -> dict:
    return {
        "id": item.id,
        "display_name": item.display_name,
        "policy_type": item.policy_type,
        "policy_type_label": policy_type_label(item.policy_type),
        "graph_id": item.graph_id,
        "last_modified": iso(item.last_modified),
        "observed_at": iso(item.observed_at),
    }


def list_inventory_items(
    session: Session,
    *,
    tenant_id: int,
    search: str = "",
    policy_type: str | None = None,
    sort: str = "display_name",
    descending: bool = False,
    page: int = 1,
    page_size: int = 25,
) -> Page:
    """Present (not removed) items of one tenant. An unknown sort key sorts by name."""
    t = InventoryItem
    query = select(t).where(t.tenant_id == tenant_id, t.removed_at.is_(None))
    if policy_type:
        query = query.where(t.policy_type == policy_type)
    matches = contains_text(t.display_name, search)
    if matches is not None:
        query = query.where(matches)
    sort = sort if sort in SORT_KEYS else "display_name"
    column = policy_type_label_sql(t.policy_type) if sort == "policy_type" else getattr(t, sort)
    text = sort in ("display_name", "policy_type")
    query = query.order_by(*ordered_by(column, t.id, descending=descending, text=text))
    return paginate(session, query, page=page, page_size=page_size, row=_item_row)
